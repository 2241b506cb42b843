// Internal: the reverse-time loop shared by the DDPM and DDIM samplers. It is async so
// that the model's output can be checked for NaN on webgpu, which reads only asynchronously.
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import { _checkRows, _checkSchedule, _checkSeed, _nonFiniteError } from "./_checks.ts";
import { _noiseFor } from "./_noise.ts";
import { _randomNormal, _randomSeed } from "./_random.ts";
import type { ReverseOptions } from "./p_mean_variance.ts";
import type { Tensor } from "./types.ts";
import { _SAMPLER_START, _stepNoise } from "./_streams.ts";
import { _readConditioning } from "./_conditioning.ts";

/** Options of the sampling loops. */
export interface SampleLoopOptions extends Omit<ReverseOptions, "checkFinite"> {
  /** Shape of the samples, [B, ...] (e.g. [B, H, W, C] or [B, 2]). */
  shape: number[];
  /** x_T, standard normal of `shape` (drawn from `seed` when absent; not disposed). */
  noise?: Tensor;
  /** Seed: x_T is drawn from stream 0, the noise of step t from stream t + 1. */
  seed?: number;
  /**
   * Check the model's output for NaN/Infinity at the first step, every this many steps,
   * and the last (one asynchronous host read each; default 100; 0 checks only the first
   * and the last).
   */
  checkFiniteEvery?: number;
  /** Called after each step with (steps done, total steps). */
  onStep?: (done: number, total: number) => void;
  /**
   * Sample rows [start, start + B) of a batch of `of` images (B = shape[0]): x_T (when drawn
   * from `seed`) and every step's noise are those rows of the whole batch's, so shards sampled
   * apart — in workers or processes — and put together equal one call with shape [of, ...].
   */
  rows?: { start: number; of: number };
}

/** One step of a progressive sampling loop. Both tensors belong to the caller. */
export interface SampleLoopStep {
  /** The timestep just sampled from (x_t → x_{t-1}); 0 at the last step. */
  t: number;
  /** x_{t-1}, the new sample. */
  sample: Tensor;
  /** x̂0 predicted at step t. */
  predX0: Tensor;
}

/**
 * A sampler step: x_t → (x_{t-1}, x̂0), with the noise given or else drawn from (seed, stream).
 */
export type _Step = (
  xt: Tensor,
  t: number,
  seed: number,
  stream: number,
  wantFlag: boolean,
  noise: Tensor | undefined,
  classes: Int32Array | undefined,
) => { sample: Tensor; predX0: Tensor; finite?: Tensor };

/**
 * Runs t = T-1 … 0, yielding clones the caller owns. `done` frees what a stateful sampler kept
 * (its history), however the loop ends.
 */
export async function* _sampleLoop(
  what: string,
  s: Schedule,
  opts: SampleLoopOptions,
  step: _Step,
  done?: () => void,
): AsyncGenerator<SampleLoopStep, void, undefined> {
  _checkSchedule(what, s);
  const shape = opts?.shape;
  if (
    !Array.isArray(shape) || shape.length < 1 ||
    !shape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new RangeError(
      `Cannot ${what}: shape must be [B, ...] of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  _checkSeed(what, opts.seed);
  const every = opts.checkFiniteEvery ?? 100;
  if (!Number.isInteger(every) || every < 0) {
    throw new RangeError(
      `Cannot ${what}: checkFiniteEvery must be an integer >= 0, got ${every}`,
    );
  }
  const rows = _checkRows(what, opts.rows, shape[0]);
  // this shard's labels (the whole batch's may be given with rows); the guidance scale checked
  const classes = _readConditioning(what, opts, shape[0], rows).classes;
  const seed = opts.seed ?? _randomSeed();
  // with rows: this shard's rows of the whole batch's noise from (seed, stream)
  const shardNoise = (stream: number) =>
    tf.tidy(() =>
      tf.slice(_randomNormal([rows!.of, ...shape.slice(1)], seed, stream), rows!.start, shape[0])
    );
  let x: Tensor;
  if (rows && opts.noise === undefined) {
    x = shardNoise(_SAMPLER_START);
  } else {
    const z = _noiseFor(what, { shape }, "shape", opts.noise, seed, _SAMPLER_START);
    x = z.owned ? z.noise : tf.clone(z.noise);
  }
  try {
    for (let i = 0; i < s.T; i++) {
      const t = s.T - 1 - i;
      const check = i === 0 || t === 0 || (every > 0 && i % every === 0);
      const noise = rows ? shardNoise(_stepNoise(t)) : undefined;
      const { sample, predX0, finite } = (() => {
        try {
          return step(x, t, seed, _stepNoise(t), check, noise, classes);
        } finally {
          noise?.dispose();
        }
      })();
      x.dispose();
      x = sample;
      if (finite) {
        const ok = (await finite.data())[0];
        finite.dispose();
        if (!ok) {
          predX0.dispose();
          throw _nonFiniteError(what, `the model's output at t = ${t}`);
        }
      }
      opts.onStep?.(i + 1, s.T);
      yield { t, sample: tf.clone(sample), predX0 };
    }
  } finally {
    x.dispose();
    done?.();
  }
}

/** Runs a loop to the end and returns the final sample, disposing everything else. */
export async function _runToEnd(
  loop: AsyncGenerator<SampleLoopStep, void, undefined>,
): Promise<Tensor> {
  let last: Tensor | undefined;
  for await (const { sample, predX0 } of loop) {
    predX0.dispose();
    last?.dispose();
    last = sample;
  }
  if (!last) throw new Error("sampling loop produced no step");
  return last;
}
