// The browser benchmark's measurement, run alike in Chromium (web/bench.ts) and in Deno
// (bench/browser_bench.ts): the bundled mnist U-Net's no-grad forward pass at each batch size,
// one warm-up call (shader compilation, allocation), then the median of `reps` timed calls, each
// ending when the result is read back.
import * as tf from "@tensorflow/tfjs-core";
import { loadCheckpoint, unetFromCheckpoint } from "../mod.ts";

/** Milliseconds per forward pass (median) at each batch size. */
export async function timeForward(
  checkpoint: URL | Uint8Array,
  batches: number[],
  reps: number,
): Promise<Record<number, number>> {
  const ck = await loadCheckpoint(checkpoint);
  const unet = unetFromCheckpoint(ck);
  const out: Record<number, number> = {};
  for (const B of batches) {
    const x = tf.randomNormal([B, 28, 28, 1], 0, 1, "float32", 1);
    const t = tf.tensor1d(new Int32Array(B).fill(500), "int32");
    const times: number[] = [];
    for (let i = 0; i <= reps; i++) {
      const t0 = performance.now();
      const y = unet(x, t);
      await y.data();
      y.dispose();
      if (i > 0) times.push(performance.now() - t0); // the first call warms up
    }
    times.sort((a, b) => a - b);
    out[B] = times[Math.floor(times.length / 2)];
    tf.dispose([x, t]);
  }
  unet.dispose();
  return out;
}
