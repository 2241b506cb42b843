// `deno task bench:train`: the U-Net's training step and forward pass, timed on one backend,
// printed as one JSON line (--json) or a short table. Same work as bench/torch_reference.py:
// the training step is L_simple + backward + global-norm clipping + Adam + EMA (the trainer's
// own step, src/train/_step.ts); "forward" is one no-grad forward pass, what one sampling
// step costs; sampling throughput (images/s) for DDPM 1000 and DDIM 50 steps follows from the
// median sampler step (pSample, forward + posterior + noise) at this batch.
//
// With --workers N (wasm, cpu) the training step's gradients come from N threads, the batch
// split into shards (src/train/_gradient_pool.ts); forward and sampler steps stay on one.
//
//   deno task bench:train --preset mnist --batch 32 --backend wasm [--workers N] [--iters 5] [--json]
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend.ts";
import { createUNet } from "../src/unet/unet.ts";
import { unetPresets } from "../src/unet/presets.ts";
import { makeSchedule } from "../src/schedule.ts";
import { pSample } from "../src/p_sample.ts";
import { _adamInit } from "../src/_nn/adam.ts";
import { _gradientPool } from "../src/train/_gradient_pool.ts";
import { _paperStep } from "./_paper_step.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "../src/cli/_args.ts";

const _median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      preset: { type: "string", default: "mnist" },
      batch: { type: "string", default: "32" },
      backend: { type: "string", default: "wasm" },
      iters: { type: "string", default: "5" },
      workers: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    },
  });
  if (!(a.preset in unetPresets)) throw new RangeError(`--preset must be mnist or cifar10`);
  const cfg = unetPresets[a.preset as keyof typeof unetPresets];
  const B = _intArg("batch", a.batch, 1), iters = _intArg("iters", a.iters, 1);
  const workers = _intArg("workers", a.workers, 1);
  const info = await initBackend(_backendArg(a.backend));
  if (workers > 1 && info.backend === "webgpu") throw new RangeError("--workers needs wasm or cpu");
  const pool = workers > 1
    ? await _gradientPool(
      { unet: cfg, schedule: { kind: "linear", T: 1000 }, backend: info.backend as "wasm" | "cpu" },
      workers,
    )
    : undefined;
  const net = createUNet(cfg, { seed: 0 }), emaNet = createUNet(cfg, { seed: 0 });
  const adam = _adamInit(net.params);
  const s = makeSchedule({ kind: "linear", T: 1000 });
  const shape = [B, cfg.imageSize, cfg.imageSize, cfg.inChannels];
  const x0 = tf.randomUniform(shape, -1, 1, "float32", 1);
  const t = tf.tensor1d(new Int32Array(B).fill(500), "int32");
  const timed = async (fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const step = (k: number) => async () => {
    await _paperStep({ net, emaNet, adam }, s, x0, k, pool?.gradients);
  };
  const forward = async () => {
    const y = net(x0, t);
    await y.data();
    y.dispose();
  };
  const sampleStep = async () => {
    const y = pSample(net, s, { xt: x0, t: 500, seed: 1, variance: "fixedLarge" });
    await y.data();
    y.dispose();
  };
  // first calls (shader compilation on webgpu, allocation everywhere), then medians
  const firstStepMs = await timed(step(1));
  const tensorsBefore = tf.memory().numTensors;
  const stepMs: number[] = [];
  for (let k = 0; k < iters; k++) stepMs.push(await timed(step(k + 2)));
  const tensorsAfter = tf.memory().numTensors;
  const firstForwardMs = await timed(forward);
  const fwdMs: number[] = [];
  for (let k = 0; k < iters; k++) fwdMs.push(await timed(forward));
  await sampleStep();
  const sampMs: number[] = [];
  for (let k = 0; k < iters; k++) sampMs.push(await timed(sampleStep));
  const prof = await tf.profile(step(iters + 2));
  const sampleStepMs = _median(sampMs);
  const out = {
    impl: "@ddpm/core",
    backend: info.backend,
    preset: a.preset,
    batch: B,
    workers,
    params: net.numParams,
    trainStepMs: _median(stepMs),
    forwardMs: _median(fwdMs),
    firstStepMs,
    firstForwardMs,
    sampleStepMs,
    ddpm1000ImagesPerSec: B / (1000 * sampleStepMs / 1000),
    ddim50ImagesPerSec: B / (50 * sampleStepMs / 1000),
    tensorsBefore,
    tensorsAfter,
    peakBytes: prof.peakBytes,
    iters,
    deno: typeof Deno !== "undefined" ? Deno.version.deno : undefined,
  };
  pool?.close();
  tf.dispose([x0, t]);
  net.dispose();
  emaNet.dispose();
  for (const v of [...adam.m.values(), ...adam.v.values()]) v.dispose();
  if (a.json) return console.log(JSON.stringify(out));
  for (const [k, v] of Object.entries(out)) {
    console.log(
      `${k.padEnd(22)} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`,
    );
  }
});
