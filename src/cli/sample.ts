// `deno task sample`: draw images from a checkpoint (default: the bundled MNIST model).
//
//   deno task sample [--checkpoint FILE] [--n 64] [--sampler ddpm|ddim] [--steps 50] [--eta 0]
//                    [--seed 0] [--out out/samples.png] [--npy FILE] [--progression FILE]
//                    [--backend auto|webgpu|wasm|cpu]
//   bun src/cli/sample.ts ...        (the same, under Bun)
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../backend.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { setWeights } from "../io/weights.ts";
import { imageGrid, toUint8 } from "../io/image_grid.ts";
import { encodeNpy } from "../io/npy.ts";
import { _atomicWrite } from "../io/_atomic_write.ts";
import { createUNet } from "../unet/unet.ts";
import { makeSchedule } from "../schedule.ts";
import { respace } from "../respace.ts";
import { ddimSampleLoopProgressive } from "../ddim.ts";
import { pSampleLoopProgressive } from "../p_sample_loop.ts";
import { _duration, _progress } from "../train/_progress.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "./_args.ts";
import type { Tensor } from "../types.ts";

const HELP = `Sample images from a DDPM checkpoint.

Options:
  --checkpoint FILE     a checkpoint from deno task train        [the bundled MNIST model]
  --n N                 number of images                                            [64]
  --sampler ddpm|ddim   ancestral DDPM (Algorithm 2) or deterministic DDIM          [ddim]
  --steps N             sampling steps: respaced evenly (ddpm) or ddimN (ddim)
                                                                  [ddim: 50, ddpm: all T]
  --eta X               DDIM η (0: deterministic, 1: DDPM-like noise)               [0]
  --seed N              seed of x_T and the sampling noise                          [0]
  --out FILE            PNG grid of the samples                       [out/samples.png]
  --npy FILE            also write the samples as uint8 [N, H, W, C] for numpy.load
  --progression FILE    also write x_t (odd rows) and predicted x0 (even rows) of the
                        first 4 samples at 10 steps of the chain, noisy to clean
  --backend NAME        auto, webgpu, wasm or cpu                                   [auto]
  --help                this text`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      checkpoint: { type: "string" },
      n: { type: "string", default: "64" },
      sampler: { type: "string", default: "ddim" },
      steps: { type: "string" },
      eta: { type: "string", default: "0" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "out/samples.png" },
      npy: { type: "string" },
      progression: { type: "string" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  if (a.sampler !== "ddpm" && a.sampler !== "ddim") {
    throw new RangeError(`--sampler must be ddpm or ddim, got ${a.sampler}`);
  }
  const eta = Number(a.eta);
  if (!(Number.isFinite(eta) && eta >= 0)) {
    throw new RangeError(`--eta must be a number >= 0, got ${a.eta}`);
  }
  const n = _intArg("n", a.n, 1), seed = _intArg("seed", a.seed, 0);
  const info = await initBackend(_backendArg(a.backend));
  const source = a.checkpoint ?? BUNDLED_MNIST_CHECKPOINT;
  const ck = await loadCheckpoint(source);
  const unet = createUNet(ck.config.unet);
  setWeights(unet.params, ck.ema);
  const base = makeSchedule(ck.config.schedule);
  const steps = a.steps === undefined ? undefined : _intArg("steps", a.steps, 1);
  const s = a.sampler === "ddim"
    ? respace(base, `ddim${steps ?? 50}`)
    : steps === undefined || steps === base.T
    ? base
    : respace(base, String(steps));
  const { imageSize: size, inChannels: C } = unet.config;
  console.log(
    `backend ${info.backend} · ${a.sampler} with ${s.T} steps · ${n} images ${size}×${size}×${C} · ` +
      `checkpoint ${source instanceof URL ? "bundled mnist" : source}`,
  );
  const shape = [n, size, size, C];
  const chain = a.sampler === "ddim"
    ? ddimSampleLoopProgressive(unet, s, { shape, seed, eta })
    : pSampleLoopProgressive(unet, s, { shape, seed });
  const show = Math.min(n, 4), snaps = 10;
  const at = new Set(
    Array.from({ length: snaps }, (_, k) => Math.round((s.T - 1) * (1 - k / (snaps - 1)))),
  );
  const rows: Tensor[][] = [];
  const bar = _progress(s.T, 0, true, 10);
  const t0 = performance.now();
  let last: Tensor | undefined, done = 0;
  for await (const { t, sample, predX0 } of chain) {
    if (a.progression && at.has(t)) {
      rows.push([tf.slice(sample, 0, show), tf.slice(predX0, 0, show)]);
    }
    predX0.dispose();
    last?.dispose();
    last = sample;
    bar.update(++done, NaN);
  }
  bar.done();
  const x = last!;
  _atomicWrite(a.out, await imageGrid(x, { scale: 2 }));
  console.log(`wrote ${a.out} (${_duration((performance.now() - t0) / 1000)})`);
  if (a.npy) {
    _atomicWrite(a.npy, encodeNpy(await toUint8(x), shape));
    console.log(`wrote ${a.npy}: uint8 [${shape}]`);
  }
  if (a.progression) {
    // grid: columns are the snapshots (noisy → clean); per sample a row of x_t and one of x̂0
    const cols = rows.length;
    const tiles = tf.tidy(() => {
      const perRow: Tensor[] = [];
      for (let i = 0; i < show; i++) {
        for (const which of [0, 1]) {
          for (const r of rows) perRow.push(tf.slice(r[which], i, 1));
        }
      }
      return tf.concat(perRow, 0);
    });
    _atomicWrite(a.progression, await imageGrid(tf.clipByValue(tiles, -1, 1), { cols, scale: 2 }));
    tiles.dispose();
    rows.flat().forEach((r) => r.dispose());
    console.log(`wrote ${a.progression}: x_t and predicted x0 at ${cols} steps`);
  }
  x.dispose();
  unet.dispose();
});
