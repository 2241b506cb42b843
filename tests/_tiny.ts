// The tests' small model, data and training options.
import type { Dataset, UNetConfig } from "../mod.ts";
import type { TrainOptions } from "../fs.ts";

/** The smallest U-Net with every part: two levels, attention at 4×4, a 1×1 skip. */
export const TINY: UNetConfig = {
  imageSize: 8,
  inChannels: 1,
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0.1,
  groups: 4,
};

/** n smooth 8×8 pictures in [-1, 1] (stripes of different phases). */
export function stripes(n = 12): Dataset {
  const images = new Float32Array(n * 64);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 64; p++) {
      images[i * 64 + p] = Math.sin((p % 8) * 0.8 + i) * Math.cos(Math.floor(p / 8) * 0.5);
    }
  }
  return { images, shape: [n, 8, 8, 1], source: "stripes" };
}

/** stripes with labels: three classes, "a", "b" and "c". */
export function labelledStripes(): Dataset {
  const d = stripes();
  d.labels = Int32Array.from({ length: d.shape[0] }, (_, i) => i % 3);
  d.classNames = ["a", "b", "c"];
  return d;
}

/** The trainer tests' options: TINY on the stripes, batch 4, checkpoints every 3 steps. */
export function tinyTrainOptions(
  outDir: string,
  steps: number,
  extra: Partial<TrainOptions> = {},
): TrainOptions {
  return {
    data: stripes(),
    unet: TINY,
    outDir,
    steps,
    batchSize: 4,
    lr: 1e-3,
    warmup: 2,
    flip: true,
    seed: 5,
    checkpointEvery: 3,
    sampleEvery: 0,
    progress: false,
    ...extra,
  };
}
