// `deno task bench:profile`: one training step of the U-Net, kernel by kernel (tfjs's
// `tf.profile`), in three parts measured apart: the forward pass (the loss with dropout on),
// the backward pass (the gradients' kernels: forward + backward, less the forward), and the
// optimizer (global-norm clipping, Adam and the EMA: the whole step less the gradients). Each
// part is profiled after one warm-up call of the same part. Prints one JSON line (--json) or a
// table of the kernels that take the most time.
//
// On webgpu it also counts what a GPU's step time is made of (bench/gpu_cost.ts reads it):
// programs dispatched, bytes read and written by them, and uploads and downloads between host
// and GPU.
//
//   deno task bench:profile --preset mnist --batch 32 --backend wasm [--json]
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend.ts";
import { createUNet } from "../src/unet/unet.ts";
import { unetPresets } from "../src/unet/presets.ts";
import { makeSchedule } from "../src/schedule.ts";
import { epsLoss } from "../src/eps_loss.ts";
import { _adamInit } from "../src/_nn/adam.ts";
import { _shardGradients } from "../src/train/_step.ts";
import { _paperStep } from "./_paper_step.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "../src/cli/_args.ts";
import { _kernelFlops } from "./_kernel_flops.ts";
import { _countGpuTraffic, type GpuTraffic } from "./_gpu_traffic.ts";
import { _isWrapperRecord } from "./_profile_report.ts";

/** Per kernel name: how many calls, their time, FLOPs and the bytes of their inputs and outputs. */
export interface KernelTotals {
  count: number;
  ms: number;
  flops: number;
  bytes: number;
}

/** The profile of one part of the step. */
export interface PartProfile {
  /** Wall time of the profiled call (profiling syncs after each kernel, so it is slower). */
  wallMs: number;
  kernels: Record<string, KernelTotals>;
  gpu?: GpuTraffic;
}

const _bytesOf = (shapes: (number[] | undefined)[]) =>
  shapes.reduce((a: number, s) => a + 4 * (s ? s.reduce((p, d) => p * d, 1) : 0), 0);

async function _profile(fn: () => Promise<void>, gpu: boolean): Promise<PartProfile> {
  const traffic = gpu ? _countGpuTraffic() : undefined;
  const t0 = performance.now();
  const info = await tf.profile(fn);
  const wallMs = performance.now() - t0;
  const kernels: Record<string, KernelTotals> = {};
  for (const k of info.kernels) {
    // a custom-gradient op's record wraps the kernels it runs, which are recorded themselves
    if (_isWrapperRecord(k.name)) continue;
    const e = kernels[k.name] ??= { count: 0, ms: 0, flops: 0, bytes: 0 };
    e.count++;
    const ms = await k.kernelTimeMs;
    e.ms += typeof ms === "number" ? ms : 0;
    e.flops += _kernelFlops(k.name, k.inputShapes, k.outputShapes, k.extraInfo);
    e.bytes += _bytesOf(k.inputShapes) + _bytesOf(k.outputShapes);
  }
  return { wallMs, kernels, gpu: traffic?.stop() };
}

/** a − b per kernel name (the kernels b's call also ran, removed from a's). */
function _minus(a: PartProfile, b: PartProfile): PartProfile {
  const kernels: Record<string, KernelTotals> = {};
  for (const [name, e] of Object.entries(a.kernels)) {
    const o = b.kernels[name] ?? { count: 0, ms: 0, flops: 0, bytes: 0 };
    const d = {
      count: e.count - o.count,
      ms: Math.max(0, e.ms - o.ms),
      flops: Math.max(0, e.flops - o.flops),
      bytes: Math.max(0, e.bytes - o.bytes),
    };
    if (d.count > 0) kernels[name] = d;
  }
  const gpu = a.gpu && b.gpu
    ? {
      dispatches: a.gpu.dispatches - b.gpu.dispatches,
      uploads: a.gpu.uploads - b.gpu.uploads,
      uploadBytes: a.gpu.uploadBytes - b.gpu.uploadBytes,
      downloads: a.gpu.downloads - b.gpu.downloads,
      downloadBytes: a.gpu.downloadBytes - b.gpu.downloadBytes,
    }
    : undefined;
  return { wallMs: Math.max(0, a.wallMs - b.wallMs), kernels, gpu };
}

/**
 * Host costs on this machine's webgpu backend: per dispatch, 200 one-element additions then one
 * download, less one download alone (what tfjs and the WebGPU implementation spend per
 * program before a GPU does any work); per sync, one one-element download.
 */
async function _hostCosts(): Promise<{ dispatchMs: number; syncMs: number }> {
  const one = tf.tensor1d([1]);
  const time = async (n: number) => {
    const t0 = performance.now();
    let x: tf.Tensor = tf.clone(one);
    for (let i = 0; i < n; i++) {
      const y = tf.add(x, one);
      x.dispose();
      x = y;
    }
    await x.data();
    x.dispose();
    return performance.now() - t0;
  };
  await time(200); // shader compilation
  const syncMs = await time(0);
  const dispatchMs = ((await time(200)) - syncMs) / 200;
  one.dispose();
  return { dispatchMs, syncMs };
}

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      preset: { type: "string", default: "mnist" },
      batch: { type: "string", default: "32" },
      backend: { type: "string", default: "wasm" },
      json: { type: "boolean", default: false },
    },
  });
  if (!(a.preset in unetPresets)) throw new RangeError(`--preset must be mnist or cifar10`);
  const cfg = unetPresets[a.preset as keyof typeof unetPresets];
  const B = _intArg("batch", a.batch, 1);
  const info = await initBackend(_backendArg(a.backend));
  const gpu = info.backend === "webgpu";
  const net = createUNet(cfg, { seed: 0 }), emaNet = createUNet(cfg, { seed: 0 });
  const adam = _adamInit(net.params);
  const s = makeSchedule({ kind: "linear", T: 1000 });
  const x0 = tf.randomUniform(
    [B, cfg.imageSize, cfg.imageSize, cfg.inChannels],
    -1,
    1,
    "float32",
    1,
  );
  const t = tf.tensor1d(new Int32Array(B).fill(500), "int32");
  const forward = (seed: number) => async () => {
    const loss = tf.tidy(() => epsLoss(net.withDropout(seed), s, { x0, seed }));
    await loss.data();
    loss.dispose();
  };
  const gradients = (seed: number) => async () => {
    const g = _shardGradients(net, s, x0, seed);
    await g.loss.data();
    tf.dispose([g.loss, ...g.grads.values()]);
  };
  const step = (seed: number) => async () => {
    await _paperStep({ net, emaNet, adam }, s, x0, seed);
  };
  const sample = async () => {
    const y = net(x0, t);
    await y.data();
    y.dispose();
  };
  // each part once before it is profiled (allocation; shader compilation on webgpu)
  const warm = (fn: () => Promise<void>) => fn();
  await warm(forward(1));
  const fwd = await _profile(forward(2), gpu);
  await warm(gradients(3));
  const grads = await _profile(gradients(4), gpu);
  await warm(step(5));
  const whole = await _profile(step(6), gpu);
  await warm(sample);
  const sampling = await _profile(sample, gpu);
  const host = gpu ? await _hostCosts() : undefined;
  const out = {
    impl: "@ddpm/core",
    backend: info.backend,
    preset: a.preset,
    batch: B,
    params: net.numParams,
    forward: fwd,
    backward: _minus(grads, fwd),
    optimizer: _minus(whole, grads),
    step: whole,
    samplingForward: sampling,
    host,
    deno: typeof Deno !== "undefined" ? Deno.version.deno : undefined,
  };
  tf.dispose([x0, t]);
  net.dispose();
  emaNet.dispose();
  for (const v of [...adam.m.values(), ...adam.v.values()]) v.dispose();
  if (a.json) return console.log(JSON.stringify(out));
  for (const part of ["forward", "backward", "optimizer"] as const) {
    const p = out[part];
    const total = Object.values(p.kernels).reduce((x, e) => x + e.ms, 0);
    console.log(`${part}: ${total.toFixed(0)} ms in kernels (${p.wallMs.toFixed(0)} ms wall)`);
    const top = Object.entries(p.kernels).sort((x, y) => y[1].ms - x[1].ms).slice(0, 8);
    for (const [name, e] of top) {
      console.log(`  ${name.padEnd(24)} ${String(e.count).padStart(5)} × ${e.ms.toFixed(1)} ms`);
    }
    if (p.gpu) console.log(`  gpu: ${JSON.stringify(p.gpu)}`);
  }
});
