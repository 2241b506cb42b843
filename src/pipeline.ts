/**
 * A trained model ready to sample in one call, as diffusers' `DDPMPipeline`: the checkpoint's
 * U-Net with its EMA weights and schedule, and `sample()` with a named sampler and sensible
 * step counts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, loadCheckpoint } from "./io/checkpoint.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "./io/bundled.ts";
import { _ownNetwork, unetFromCheckpoint } from "./io/unet_from_checkpoint.ts";
import { makeSchedule, type Schedule } from "./schedule.ts";
import {
  _samplerChoice,
  type SamplerName,
  type SamplerOptions,
  SAMPLERS,
  samplingSchedule,
} from "./samplers.ts";
import type { UNet } from "./unet/unet.ts";
import type { Tensor } from "./types.ts";
import { _varianceFor } from "./_reverse.ts";
import { _rowChunks, _runChunks } from "./_row_chunks.ts";
import { _intervalFor } from "./_guidance.ts";
import { _randomSeed } from "./_random.ts";
import { _classifierOf, _selfChecked, type SelfCheckTally } from "./self_check.ts";
import type { SampleLoopStep } from "./_loop.ts";

/** Options of {@linkcode Pipeline.sample}. */
export interface PipelineSampleOptions
  extends Omit<SamplerOptions, "shape" | "classes" | "guidanceScale" | "guidanceInterval"> {
  /** How many images (default 16). */
  n?: number;
  /**
   * The sampler (default: the checkpoint's recommended one, else "dpm++": DPM-Solver++ 2M); its
   * recommended steps and η apply unless given.
   */
  sampler?: SamplerName;
  /** Model calls (default: the recommended count, else dpm++ 20, ddim 50, ddpm the full T). */
  steps?: number;
  /** The spacing of the respaced steps (default: the sampler's; see `samplingSchedule`). */
  spacing?: string;
  /**
   * Class-conditional models: one class per image (class names or indices; `null` or -1 for
   * "no class"), or one class for all; default: image i gets class i mod K.
   */
  classes?: (number | string | null)[] | number | string;
  /** Classifier-free guidance scale (default: the checkpoint's recommended scale, else 1). */
  guidanceScale?: number;
  /**
   * The model timesteps [lo, hi] where the guidance applies, or "all" (default: the checkpoint's
   * recommended interval, else every step).
   */
  guidanceInterval?: readonly [number, number] | "all";
  /**
   * Class-conditional models that recommend a self-check (`config.selfCheck`): classify each
   * labelled image with the class network itself and draw it again where it guesses another
   * class (default true).
   */
  selfCheck?: boolean;
  /**
   * Called after each step of the draw with the whole batch's x_t and predicted x̂0 (valid only
   * during the call: the pipeline disposes them after it returns), e.g. to show the trajectory.
   */
  onFrame?: (frame: PipelineFrame) => void | Promise<void>;
  /** Told what the self-check did, where one ran: the draws made again. */
  onSelfCheck?: (tally: SelfCheckTally) => void;
}

/** One step of a {@linkcode Pipeline.sample} draw, for `onFrame`. */
export interface PipelineFrame {
  /** Steps done so far (1 … total). */
  done: number;
  /** The draw's steps. */
  total: number;
  /** x_t after this step, [n, H, W, C]. */
  sample: Tensor;
  /** The predicted x̂0 at this step, [n, H, W, C]. */
  predX0: Tensor;
}

/** A loaded model: its network, configuration and a sampler in one call. */
export interface Pipeline {
  /** The U-Net with the checkpoint's EMA weights. */
  readonly unet: UNet;
  /** The checkpoint's configuration (network, schedule, class names). */
  readonly config: Checkpoint["config"];
  /** The schedule the model was trained with. */
  readonly schedule: Schedule;
  /**
   * Samples `n` images, [n, H, W, C] in [-1, 1] (`toUint8` and `imageGrid` turn them into bytes
   * and a PNG); more than 64 are sampled 64 at a time, the same images as in one batch.
   */
  sample(options?: PipelineSampleOptions): Promise<Tensor>;
  /** Frees the network. */
  dispose(): void;
}

/**
 * Loads a checkpoint (default: the bundled MNIST model) as a {@linkcode Pipeline}.
 *
 * @param source A checkpoint path, URL, bytes, or a loaded Checkpoint (default the bundled one).
 * @returns The pipeline; call `dispose()` when done.
 * @throws {Error} If the checkpoint cannot be loaded (see `loadCheckpoint`).
 *
 * @example Sixteen digits of the bundled model in three lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageGrid, initBackend, loadPipeline } from "@ddpm/core";
 * await initBackend("cpu");
 * const pipe = await loadPipeline();
 * const images = await pipe.sample({ n: 2, steps: 5, seed: 0 }); // DPM-Solver++, 5 calls
 * const png = await imageGrid(images);
 * assert.deepEqual(images.shape, [2, 28, 28, 1]);
 * assert.deepEqual(Array.from(png.subarray(1, 4)), [80, 78, 71]); // "PNG"
 * pipe.dispose();
 * ```
 */
export async function loadPipeline(
  source: string | URL | Uint8Array | Checkpoint = BUNDLED_MNIST_CHECKPOINT,
): Promise<Pipeline> {
  const ck = source instanceof Uint8Array || typeof source === "string" || source instanceof URL
    ? await loadCheckpoint(source)
    : source;
  const schedule = makeSchedule(ck.config.schedule);
  const unet = unetFromCheckpoint(ck);
  const K = ck.config.unet.numClasses ?? 0;
  const names = ck.config.classes ?? Array.from({ length: K }, (_, k) => String(k));
  // the class network alone, for the self-check (made when first needed)
  let classNet: UNet | undefined;
  /** A class given by name or index as its label. */
  const label = (c: number | string | null): number => {
    if (c === null || c === -1) return -1;
    const k = typeof c === "number" ? c : names.indexOf(c);
    if (!Number.isInteger(k) || k < 0 || k >= K) {
      throw new RangeError(
        `Cannot sample: classes must be among ${names.join(", ")} (or their indices), got ${c}`,
      );
    }
    return k;
  };
  return {
    unet,
    config: ck.config,
    schedule,
    sample: async (o: PipelineSampleOptions = {}) => {
      const n = o.n ?? 16;
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`Cannot sample: n must be a positive integer, got ${n}`);
      }
      const { sampler, steps, eta } = _samplerChoice(o, ck.config.sampler, "dpm++");
      const s = samplingSchedule(schedule, sampler, steps, o.spacing);
      const { imageSize: S, inChannels: C } = ck.config.unet;
      let cond = {};
      if (K > 0) {
        const classes = o.classes === undefined
          ? Array.from({ length: n }, (_, i) => i % K)
          : Array.isArray(o.classes)
          ? o.classes.map(label)
          : new Array(n).fill(label(o.classes));
        cond = {
          classes,
          guidanceScale: o.guidanceScale ?? ck.config.guidanceScale ?? 1,
          guidanceInterval: _intervalFor(o.guidanceInterval, ck.config.guidanceInterval),
        };
      } else if (
        o.classes !== undefined || o.guidanceScale !== undefined ||
        o.guidanceInterval !== undefined
      ) {
        throw new RangeError(
          "Cannot sample: classes and guidanceScale need a class-conditional model",
        );
      }
      const {
        classes: _c,
        guidanceScale: _w,
        guidanceInterval: _gi,
        selfCheck: _check,
        onFrame,
        onSelfCheck,
        n: _n,
        steps: _s,
        spacing: _sp,
        eta: _eta,
        ...given
      } = o;
      // a learnSigma network's output is read with its learned variance
      const rest = { ...given, eta, variance: _varianceFor("sample", ck.config.unet, o.variance) };
      const loop = SAMPLERS[sampler].loop;
      const seed = rest.seed ?? _randomSeed();
      const loopFor = (seed: number) => (count: number, rows: { start: number; of: number }) =>
        loop(unet, s, { ...rest, ...cond, seed, shape: [count, S, S, C], rows });
      let done = 0;
      const frame = onFrame && (async (steps: SampleLoopStep[]) => {
        const one = steps.length === 1;
        const sample = one ? steps[0].sample : tf.concat(steps.map((v) => v.sample));
        const predX0 = one ? steps[0].predX0 : tf.concat(steps.map((v) => v.predX0));
        try {
          await onFrame({ done: ++done, total: s.T, sample, predX0 });
        } finally {
          if (!one) tf.dispose([sample, predX0]);
        }
      });
      const x = await _runChunks(_rowChunks(n, 0, n, loopFor(seed)), frame);
      const check = ck.config.selfCheck;
      const c = cond as { classes?: number[]; guidanceScale?: number };
      if (
        o.selfCheck === false || !check || !c.guidanceScale || !c.classes?.some((k) => k >= 0)
      ) return x;
      classNet ??= _ownNetwork(ck);
      const net = classNet;
      const checked = await _selfChecked(
        x,
        { start: 0, of: n, classes: c.classes, seed },
        check,
        _classifierOf({ net, base: schedule, numClasses: K }, check.timesteps, seed),
        (row, seed) => _runChunks(_rowChunks(1, row, n, loopFor(seed))),
      );
      onSelfCheck?.(checked.tally);
      return checked.samples;
    },
    dispose: () => {
      unet.dispose();
      classNet?.dispose();
    },
  };
}
