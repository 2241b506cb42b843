// Internal: what `deno task sample` does for a run of consecutive images ("a shard"), in the main
// thread or in a worker (src/cli/_sample_worker.ts): load the checkpoint's EMA weights, run the
// DDPM or DDIM chain on rows [start, start + count) of the seeded batch of `of` images, and keep
// the snapshots the progression picture needs.
import * as tf from "@tensorflow/tfjs-core";
import { type CheckpointConfig, loadCheckpoint } from "../io/checkpoint.ts";
import { setWeights } from "../io/weights.ts";
import { createUNet, type UNet } from "../unet/unet.ts";
import { makeSchedule, type Schedule } from "../schedule.ts";
import { type SamplerName, SAMPLERS, samplingSchedule } from "../samplers.ts";
import type { Tensor } from "../types.ts";
import { pathToFileURL } from "node:url";
import { _nonNegativeArg } from "./_args.ts";

/** What a shard needs to know; plain data, so that it can be posted to a worker. */
export interface _ShardJob {
  checkpoint: string;
  sampler: SamplerName;
  steps?: number;
  /** The respacing kind (absent: the sampler's own). */
  spacing?: string;
  /** DPM-Solver++'s order. */
  order?: 1 | 2 | 3;
  eta: number;
  seed: number;
  /** Rows [start, start + count) of a batch of `of`. */
  start: number;
  count: number;
  of: number;
  /** Timesteps at which the first `show` rows' x_t and x̂0 are kept (empty: none). */
  snapAt: number[];
  show: number;
  /** The class of each of the `of` images (conditional checkpoints; absent: unconditional). */
  classes?: number[];
  /** Classifier-free guidance scale (with classes). */
  guidance?: number;
}

/** A checkpoint path or URL as the URL string a worker loads. */
export function _checkpointHref(source: string | URL): string {
  return source instanceof URL ? source.href : pathToFileURL(source).href;
}

/** The shards' samples, in order, as one tensor [n, ...image]. */
export function _joinShards(parts: Float32Array[], cuts: number[], image: number[]): Tensor {
  return tf.tidy(() =>
    tf.concat(parts.map((p, w) => tf.tensor(p, [cuts[w + 1] - cuts[w], ...image])))
  );
}

/**
 * The class of each of n images from `--class`: "all" (image i: class i mod K), "none"
 * (unconditional: undefined), or a comma-separated list of class names or indices, cycled.
 */
export function _classesArg(
  v: string,
  n: number,
  names: string[] | undefined,
): number[] | undefined {
  if (v === "none") return undefined;
  if (!names || names.length === 0) {
    throw new RangeError(
      `--class ${v} needs a class-conditional checkpoint; this one is unconditional`,
    );
  }
  const K = names.length;
  if (v === "all") return Array.from({ length: n }, (_, i) => i % K);
  const list = v.split(",").map((item) => {
    const name = item.trim();
    const byName = names.findIndex((c) => c.toLowerCase() === name.toLowerCase());
    if (byName >= 0) return byName;
    const k = Number(name);
    if (name !== "" && Number.isInteger(k) && k >= 0 && k < K) return k;
    throw new RangeError(
      `--class must be all, none, or classes of this model (${
        names.length <= 12 ? names.join(", ") : `0 … ${K - 1}`
      }), got ${item}`,
    );
  });
  return Array.from({ length: n }, (_, i) => list[i % list.length]);
}

/**
 * The guidance scale from --guidance: its value, else the checkpoint's recommended scale, else 1;
 * undefined for an unconditional checkpoint, which refuses the option.
 */
export function _guidanceArg(v: string | undefined, config: CheckpointConfig): number | undefined {
  const w = v === undefined ? undefined : _nonNegativeArg("guidance", v);
  if (!config.unet.numClasses) {
    if (w !== undefined) {
      throw new RangeError(
        `--guidance needs a class-conditional checkpoint; this one is unconditional`,
      );
    }
    return undefined;
  }
  return w ?? config.guidanceScale ?? 1;
}

/** The U-Net with the checkpoint's EMA weights and the sampling schedule. */
export async function _loadSampler(
  checkpoint: string | URL,
  sampler: SamplerName,
  steps: number | undefined,
  spacing?: string,
): Promise<{ unet: UNet; s: Schedule; config: CheckpointConfig }> {
  const ck = await loadCheckpoint(checkpoint);
  const unet = createUNet(ck.config.unet, { T: ck.config.schedule.T });
  setWeights(unet.params, ck.ema);
  const base = makeSchedule(ck.config.schedule);
  if (steps !== undefined && steps > base.T) {
    throw new RangeError(`--steps must be at most the model's T = ${base.T}, got ${steps}`);
  }
  let s: Schedule;
  try {
    s = samplingSchedule(base, sampler, steps, spacing);
  } catch (e) {
    throw new RangeError(`--steps ${steps}: ${(e as Error).message}`);
  }
  return { unet, s, config: ck.config };
}

/**
 * Runs one shard's chain. Returns its samples [count, H, W, C] and the snapshots [x_t, x̂0]
 * (first `show` rows) at the timesteps asked for, noisy to clean; the caller disposes them.
 */
export async function _runShard(
  unet: UNet,
  s: Schedule,
  job: _ShardJob,
  onStep: () => void,
): Promise<{ samples: Tensor; snaps: Tensor[][] }> {
  const { imageSize: size, inChannels: C } = unet.config;
  const shape = [job.count, size, size, C];
  const rows = { start: job.start, of: job.of };
  const cond = job.classes ? { classes: job.classes, guidanceScale: job.guidance } : {};
  const chain = SAMPLERS[job.sampler].loop(unet, s, {
    shape,
    seed: job.seed,
    eta: job.eta,
    order: job.order,
    rows,
    ...cond,
  });
  const at = new Set(job.snapAt), show = Math.min(job.show, job.count);
  const snaps: Tensor[][] = [];
  let last: Tensor | undefined;
  for await (const { t, sample, predX0 } of chain) {
    if (show > 0 && at.has(t)) snaps.push([tf.slice(sample, 0, show), tf.slice(predX0, 0, show)]);
    predX0.dispose();
    last?.dispose();
    last = sample;
    onStep();
  }
  return { samples: last!, snaps };
}

/** Runs one shard in a worker (src/cli/_sample_worker.ts) and resolves to its data. */
export function _runShardInWorker(
  job: _ShardJob,
  backend: "wasm" | "cpu",
  onStep: () => void,
): Promise<{ samples: Float32Array; snaps: Float32Array[][] }> {
  const worker = new Worker(new URL("./_sample_worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.kind === "step") return onStep();
      worker.terminate();
      if (m.kind === "done") resolve({ samples: m.samples, snaps: m.snaps });
      else {reject(
          new Error(`worker for images ${job.start}…${job.start + job.count - 1}: ${m.message}`),
        );}
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      reject(
        new Error(`worker for images ${job.start}…${job.start + job.count - 1}: ${e.message}`),
      );
    };
    worker.postMessage({ job, backend });
  });
}
