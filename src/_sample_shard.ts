// Internal: what `deno task sample` does for a run of consecutive images ("a shard"), in the main
// thread or in a worker (src/_sample_worker.ts): load the checkpoint's EMA weights, run the
// DDPM or DDIM chain on rows [start, start + count) of the seeded batch of `of` images, and keep
// the snapshots the progression picture needs.
import * as tf from "@tensorflow/tfjs-core";
import { type CheckpointConfig, loadCheckpoint } from "./io/checkpoint.ts";
import { _ownNetwork, unetFromCheckpoint } from "./io/unet_from_checkpoint.ts";
import type { UNet } from "./unet/unet.ts";
import { makeSchedule, type Schedule } from "./schedule.ts";
import { _samplerChoice, type SamplerName, SAMPLERS, samplingSchedule } from "./samplers.ts";
import type { Tensor } from "./types.ts";
import { _concatLast, _rowChunks, _runChunks, _stepChunks } from "./_row_chunks.ts";
import { _varianceFor } from "./_reverse.ts";
import { pathToFileURL } from "node:url";
import {
  type _Checker,
  _classifierOf,
  _selfChecked,
  type SelfCheck,
  type SelfCheckTally,
} from "./self_check.ts";

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
  /** The model timesteps where the guidance applies (absent: every step). */
  guidanceInterval?: readonly [number, number];
  /** The self-check of the labelled rows (absent: none). */
  selfCheck?: SelfCheck;
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
 * The U-Net with the checkpoint's EMA weights, the sampler to run (the one given, else the
 * checkpoint's recommended one, else ddim; see `_samplerChoice`) and its sampling schedule; with
 * `selfCheck` (default true) and a checkpoint that recommends one, the self-check's class network.
 */
export async function _loadSampler(
  checkpoint: string | URL,
  given: { sampler?: SamplerName; steps?: number; eta?: number },
  spacing?: string,
  selfCheck = true,
): Promise<
  {
    unet: UNet;
    s: Schedule;
    config: CheckpointConfig;
    sampler: SamplerName;
    steps?: number;
    eta: number;
    /** What the self-check needs, where the checkpoint recommends one and `selfCheck` is true. */
    checker?: _Checker<UNet>;
  }
> {
  const ck = await loadCheckpoint(checkpoint);
  const { sampler, steps, eta } = _samplerChoice(given, ck.config.sampler, "ddim");
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
  const unet = unetFromCheckpoint(ck);
  const checker = !selfCheck || ck.config.selfCheck === undefined
    ? undefined
    : { net: _ownNetwork(ck), base, numClasses: ck.config.unet.numClasses! };
  return { unet, s, config: ck.config, sampler, steps, eta: eta ?? 0, checker };
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
  checker?: _Checker<UNet>,
): Promise<{ samples: Tensor; snaps: Tensor[][]; tally?: SelfCheckTally }> {
  const { imageSize: size, inChannels: C } = unet.config;
  const cond = job.classes
    ? {
      classes: job.classes,
      guidanceScale: job.guidance,
      guidanceInterval: job.guidanceInterval,
    }
    : {};
  const loopFor = (seed: number) => (count: number, rows: { start: number; of: number }) =>
    SAMPLERS[job.sampler].loop(unet, s, {
      shape: [count, size, size, C],
      seed,
      eta: job.eta,
      order: job.order,
      rows,
      variance: _varianceFor("sample", unet.config),
      ...cond, // classes of the whole batch: the loop takes its rows' own
    });
  const chunks = _rowChunks(job.count, job.start, job.of, loopFor(job.seed));
  const at = new Set(job.snapAt), show = Math.min(job.show, job.count);
  const snaps: Tensor[][] = [];
  for (let steps = await _stepChunks(chunks); steps; steps = await _stepChunks(chunks)) {
    const t = steps[0].t;
    if (show > 0 && at.has(t)) {
      // the first `show` rows of the shard, across as many chunks as they span
      const pick = (k: "sample" | "predX0") =>
        tf.tidy(() =>
          tf.concat(
            chunks.filter((c) => c.at < show).map((c, i) =>
              tf.slice(steps[i][k], 0, Math.min(c.count, show - c.at))
            ),
          )
        );
      snaps.push([pick("sample"), pick("predX0")]);
    }
    steps.forEach((v) => v.predX0.dispose());
    onStep();
  }
  const samples = _concatLast(chunks);
  if (!job.selfCheck || !job.classes || !job.guidance) return { samples, snaps };
  if (!checker) throw new Error("the self-check needs the class network (_loadSampler's checker)");
  const check = job.selfCheck;
  const checked = await _selfChecked(
    samples,
    { start: job.start, of: job.of, classes: job.classes, seed: job.seed },
    check,
    _classifierOf(checker, check.timesteps, job.seed),
    (row, seed) => _runChunks(_rowChunks(1, row, job.of, loopFor(seed))),
  );
  return { samples: checked.samples, snaps, tally: checked.tally };
}

/** Runs one shard in a worker (src/_sample_worker.ts) and resolves to its data. */
export function _runShardInWorker(
  job: _ShardJob,
  backend: "wasm" | "cpu",
  onStep: () => void,
): Promise<{ samples: Float32Array; snaps: Float32Array[][]; tally?: SelfCheckTally }> {
  const worker = new Worker(new URL("./_sample_worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.kind === "step") return onStep();
      worker.terminate();
      if (m.kind === "done") resolve({ samples: m.samples, snaps: m.snaps, tally: m.tally });
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
