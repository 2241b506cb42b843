// The training loop without a file system: batches, steps, EMA, checkpoints and sample grids
// handed to callbacks. `train` of @ddpm/core/fs runs it into an output folder; a web page runs it
// in memory.
import { ddimSampleLoop } from "../ddim.ts";
import { _varianceFor } from "../_reverse.ts";
import { respace } from "../respace.ts";
import { makeSchedule, type ScheduleKind } from "../schedule.ts";
import { createUNet, type UNetConfig } from "../unet/unet.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import { getWeights, setWeights } from "../io/weights.ts";
import { _adamInit, type _AdamState } from "../_nn/adam.ts";
import { _localGradients, _trainStep } from "./_step.ts";
import { type _GradientPool, _gradientPool } from "./_gradient_pool.ts";
import * as tf from "@tensorflow/tfjs-core";
import { _batch, _batchIndices, _batchLabels, _flips, _stepSeed } from "../_batches.ts";
import { _learningRate } from "../_lr.ts";
import { _checkLabels, _checkLoopOptions, _trainable, _trainConfig } from "./_loop_options.ts";
import { _checkResumable, _initFrom, _readHistory } from "./_start.ts";
import { _loadNullTeacher, _nullTeacherTarget } from "./_null_teacher.ts";
import type { UNet } from "../unet/unet.ts";
import type { Tensor } from "../types.ts";
import {
  createLossHistory,
  importanceProbabilities,
  importanceTimesteps,
  updateLossHistory,
} from "../importance_sampling.ts";

/** Options of {@linkcode trainLoop} (and of `train`, which adds an output folder). */
export interface TrainLoopOptions {
  /** The training images. */
  data: Dataset;
  /** The U-Net's shape (its imageSize and inChannels must match the data). */
  unet: UNetConfig;
  /** Total optimizer steps (a resumed run continues up to this number). */
  steps: number;
  /** Noise schedule (default linear, T = 1000, as the paper). */
  schedule?: { kind: ScheduleKind; T: number };
  /** Batch size (default 32). */
  batchSize?: number;
  /** Peak learning rate of Adam (default 2e-4, the paper's). */
  lr?: number;
  /** Linear learning-rate warm-up steps (default min(5000, ⌈steps / 10⌉); the paper: 5000). */
  warmup?: number;
  /**
   * The learning rate after the warm-up (default "constant", the paper's): "linear" or
   * "cosine" decay it from `lr` at step `decayStart` to `lrFinal` at step `steps`.
   */
  lrDecay?: "constant" | "linear" | "cosine";
  /** The learning rate at the last step when it decays (default 0). */
  lrFinal?: number;
  /**
   * The step where the decay starts (default: the end of the warm-up). A later start keeps the
   * rate at `lr` until then (warm-up, stable, decay); a run resumed from a plateau can start its
   * decay at the step it resumes from.
   */
  decayStart?: number;
  /** Global gradient-norm clip (default 1.0). */
  gradClip?: number;
  /** EMA decay (default 0.9999), warmed up as min(decay, (1 + step) / (10 + step)). */
  emaDecay?: number;
  /**
   * Whether the EMA decay warms up (default true). Off, the decay is `emaDecay` from the first
   * step, so the average starts at the starting weights: for a run that continues trained
   * weights (`initFrom`), whose EMA would otherwise forget them within a few steps.
   */
  emaWarmup?: boolean;
  /**
   * The class label of every image, for a class-conditional U-Net (`unet.numClasses` > 0;
   * default: `data.labels`). Integers in [0, numClasses).
   */
  labels?: Int32Array;
  /**
   * The share of each batch trained with the "no class" label (NULL_CLASS) instead of its own,
   * so that one network learns ε(x, y) and ε(x, ∅) for classifier-free guidance (default 0.1;
   * conditional networks only). Drawn from (seed, step), so resume stays bit for bit.
   */
  classDropout?: number;
  /**
   * Start from the EMA weights of this checkpoint (a path, URL or loaded checkpoint) instead of
   * a random initialization: a fine-tune, with a fresh Adam. Parameters the checkpoint lacks
   * (a new class embedding) keep their initial values; every other shape must match. Ignored
   * when a run is resumed.
   */
  initFrom?: string | URL | Checkpoint;
  /**
   * A teacher for the "no class" branch (a path, URL or loaded checkpoint; its EMA weights): the
   * examples trained as NULL_CLASS regress onto the teacher's ε prediction at their x_t instead
   * of onto the drawn ε (a distillation), so that ε(x, ∅) stays the teacher's while the classes
   * are learned — for a conditional model fine-tuned from an unconditional one (`initFrom`).
   * Conditional networks and loss "simple" only; the teacher takes the same images, predicts ε
   * alone and was trained on the same schedule. A resumed run must be given a teacher again.
   */
  nullTeacher?: string | URL | Checkpoint;
  /**
   * Train only the parameters whose names start with one of these (e.g. `["label_emb"]`: the
   * class embedding of a conditional model fine-tuned from an unconditional one, `initFrom`);
   * the others, their EMA and their Adam moments stay exactly as they start. Default: all.
   */
  trainOnly?: string[];
  /**
   * The loss (default "simple", L_simple of Ho et al.). "hybrid" and "vlb" are Improved DDPM's
   * (see `hybridLoss`) for a U-Net with `learnSigma`; "vlb" draws t by importance sampling from
   * each t's last 10 losses (uniform until every t has them), its history saved in the
   * checkpoint's state so resume stays bit for bit.
   */
  loss?: "simple" | "hybrid" | "vlb";
  /**
   * Min-SNR-γ weighting of L_simple (Hang et al. 2023; see `epsLoss`), e.g. 5: each example's
   * squared error weighted by min(SNR_t, γ)/SNR_t. Absent: unweighted (loss "simple" only).
   */
  minSnrGamma?: number;
  /** Random horizontal flips of the training images (default false: digits are not symmetric). */
  flip?: boolean;
  /** Seed of the initial weights, the batch order, t, ε and dropout (default 0). */
  seed?: number;
  /** Checkpoint every this many steps (default 500) and at the end. */
  checkpointEvery?: number;
  /** Sample a grid with the EMA weights (DDIM, 50 steps) every this many steps (default 1000; 0: never; always at the end unless 0). */
  sampleEvery?: number;
  /** Number of images in each sample grid (default 16). */
  sampleCount?: number;
  /**
   * Threads computing each step's gradients (default 1): the batch is split into this many
   * shards, one computed here and the others in Web Workers, each with its own tfjs (the wasm
   * and cpu backends only; tfjs-backend-wasm uses one core per thread in Deno and Bun). The
   * shards see the t, ε and dropout masks of the whole batch, so the result equals the
   * one-thread step up to float rounding; a resumed run is reproduced bit for bit with the same
   * number of workers.
   */
  workers?: number;
  /** Called after every step. */
  onStep?: (info: TrainStepInfo) => void;
  /**
   * Continue this checkpoint's run (it must hold the optimizer state: `params`, `adamM`,
   * `adamV`, `state`) from its step, bit for bit as if it had not stopped.
   */
  resumeFrom?: Checkpoint;
  /** Receives each checkpoint (every `checkpointEvery` steps and at the end). */
  onCheckpoint?: (checkpoint: Checkpoint) => void | Promise<void>;
  /** Called after each of the sample grid's 50 DDIM steps, with the training step it is for. */
  onSampleProgress?: (done: number, total: number, step: number) => void;
  /** Receives each sample grid's images [sampleCount, H, W, C] in [-1, 1] (disposed after). */
  onSamples?: (samples: Tensor, step: number) => void | Promise<void>;
  /** How errors name the last checkpoint (default "the checkpoint of step N"). */
  checkpointName?: string;
  /**
   * Stops the run when aborted: the step in progress finishes, its checkpoint is written (unless
   * it just was), and the result says `stopped` — what Ctrl-C does in `deno task train`.
   */
  signal?: AbortSignal;
}

/** What one training step reports (also a line of `log.jsonl`). */
export interface TrainStepInfo {
  /** Optimizer steps done (1-based). */
  step: number;
  /** The loss of this step's batch (L_simple, or the hybrid or vlb loss). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The learning rate used. */
  lr: number;
  /** Seconds since training first started (summed over resumed runs). */
  seconds: number;
}

/** What {@linkcode trainLoop} returns. */
export interface TrainLoopResult {
  /** Steps done in total. */
  step: number;
  /** The losses of the steps this call ran. */
  losses: number[];
  /** Seconds spent, summed over resumed runs. */
  seconds: number;
  /** True if `signal` stopped the run before its last step (its checkpoint is of `step`). */
  stopped?: boolean;
}

/**
 * Trains a U-Net DDPM with L_simple (Algorithm 1 of Ho et al. 2020), in memory: Adam with linear
 * warm-up (then a constant, linear or cosine learning rate), global-norm gradient clipping, an
 * EMA of the weights, dropout, optional flips, class labels with class dropout. Checkpoints
 * (weights, EMA, Adam moments, config and state) and sample grids go to callbacks; the batches,
 * t, ε, dropout masks and dropped labels are functions of (seed, step), so a run continued with
 * `resumeFrom` reproduces the uninterrupted run's losses exactly. A NaN or infinite loss stops
 * training with an error before the bad update.
 *
 * @param options See {@linkcode TrainLoopOptions}.
 * @returns The final step, the losses and the seconds spent.
 * @throws {RangeError} On bad options, or data that does not fit the U-Net.
 * @throws {Error} On a non-finite loss (the message names the step and the last checkpoint).
 *
 * @example Three steps of a tiny U-Net on blank 8×8 images, the checkpoint kept as bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCheckpoint, initBackend, trainLoop } from "@ddpm/core";
 * await initBackend("cpu");
 * let bytes: Uint8Array | undefined;
 * const result = await trainLoop({
 *   data: { images: new Float32Array(8 * 8 * 8).fill(-1), shape: [8, 8, 8, 1], source: "blank" },
 *   unet: { imageSize: 8, inChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1,
 *     attnResolutions: [], dropout: 0.1, groups: 4 },
 *   steps: 3, batchSize: 4, sampleEvery: 0,
 *   onCheckpoint: (ck) => void (bytes = encodeCheckpoint(ck)),
 * });
 * assert.equal(result.losses.length, 3);
 * assert.ok(bytes && bytes.length > 0);
 * ```
 */
export async function trainLoop(options: TrainLoopOptions): Promise<TrainLoopResult> {
  const o = _checkLoopOptions(options);
  const [N, H, W, C] = o.data.shape;
  const K = o.unet.numClasses ?? 0;
  const labels = K > 0 ? _checkLabels(o.labels ?? o.data.labels, N, K) : undefined;
  const schedule = makeSchedule(o.schedule);
  const net = createUNet(o.unet, { seed: o.seed, T: o.schedule.T });
  const config: Checkpoint["config"] & { train: ReturnType<typeof _trainConfig> } = {
    unet: net.config,
    schedule: o.schedule,
    train: _trainConfig(o),
  };
  if (K > 0) {
    config.classes = o.data.classNames?.length === K
      ? [...o.data.classNames]
      : Array.from({ length: K }, (_, i) => String(i));
  }
  const emaNet = createUNet(o.unet, { seed: o.seed, T: o.schedule.T });
  const trainable = _trainable(o.trainOnly, net);
  const adam = _adamInit(net.params);
  // importance sampling of t (loss vlb): each t's recent losses
  let history = o.loss === "vlb" ? createLossHistory(o.schedule.T) : undefined;
  let start = 0, secondsBefore = 0;
  let pool: _GradientPool | undefined;
  let teacher: UNet | undefined;
  try {
    const ck = o.resumeFrom;
    if (ck) {
      const name = o.checkpointName ?? "the checkpoint";
      _checkResumable(ck, config, name);
      setWeights(net.params, ck.params!);
      setWeights(emaNet.params, ck.ema);
      setWeights(adam.m, ck.adamM!);
      setWeights(adam.v, ck.adamV!);
      start = ck.state!.step;
      secondsBefore = ck.state!.seconds;
      if (history) history = _readHistory(ck, o.schedule.T, name);
    } else if (o.initFrom !== undefined) {
      await _initFrom(o.initFrom, [net, emaNet]);
    }
    if (start >= o.steps) return { step: start, losses: [], seconds: secondsBefore };
    if (o.nullTeacher !== undefined) {
      teacher = await _loadNullTeacher(o.nullTeacher, net.config, o.schedule);
    }
    let lastSaved = ck ? start : undefined;

    if (o.workers > 1) {
      pool = await _gradientPool(
        { unet: net.config, schedule: o.schedule, backend: tf.getBackend() as "wasm" | "cpu" },
        o.workers,
      );
    }
    const losses: number[] = [];
    const t0 = performance.now();
    const seconds = () => secondsBefore + (performance.now() - t0) / 1000;
    const save = async (step: number) => {
      const recent = losses.slice(-50);
      await o.onCheckpoint?.({
        config,
        state: {
          step,
          adamStep: step,
          seconds: seconds(),
          loss: recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length),
          ...(history
            ? {
              lossHistory: {
                perTerm: history.perTerm,
                losses: Array.from(history.losses),
                counts: Array.from(history.counts),
              },
            }
            : {}),
        },
        params: await getWeights(net.params),
        ema: await getWeights(emaNet.params),
        adamM: await getWeights(adam.m),
        adamV: await getWeights(adam.v),
      });
      lastSaved = step;
    };
    const sample = async (step: number) => {
      const shape = [o.sampleCount, H, W, C];
      // conditional: image i of class i mod K (one column per class when K divides the width)
      const classes = K > 0 ? Array.from({ length: o.sampleCount }, (_, i) => i % K) : undefined;
      const x = await ddimSampleLoop(emaNet, respace(schedule, "ddim50"), {
        shape,
        seed: o.seed,
        classes,
        variance: _varianceFor("sample", emaNet.config),
        onStep: o.onSampleProgress &&
          ((done: number, total: number) => o.onSampleProgress!(done, total, step)),
      });
      try {
        await o.onSamples?.(x, step);
      } finally {
        x.dispose();
      }
    };

    for (let k = start; k < o.steps; k++) {
      const step = k + 1;
      const seed = _stepSeed(o.seed, k);
      const idx = _batchIndices(N, o.batchSize, o.seed, k);
      const x0 = _batch(o.data, idx, o.flip ? _flips(o.batchSize, o.seed, k) : undefined);
      const lr = _learningRate(step, o);
      const y = labels && _batchLabels(labels, idx, o.classDropout, o.seed, k);
      // loss vlb: t drawn from the importance distribution with the step's seed
      const drawn = history &&
        importanceTimesteps(importanceProbabilities(history), o.batchSize, seed);
      const spec = { kind: o.loss, ...drawn, minSnrGamma: o.minSnrGamma };
      const target = teacher && y && _nullTeacherTarget(teacher, schedule, x0, seed, y, spec);
      const { loss, gradNorm, terms } = await _trainStep(
        { net, emaNet, adam },
        schedule,
        x0,
        {
          step,
          seed,
          lr,
          gradClip: o.gradClip,
          emaDecay: o.emaDecay,
          emaWarmup: o.emaWarmup,
          trainable,
        },
        pool?.gradients ?? _localGradients,
        y,
        spec,
        target,
      );
      tf.dispose([x0, ...(target ? [target] : [])]);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const last = lastSaved === undefined
          ? "no checkpoint was written yet"
          : `the last good checkpoint is ${o.checkpointName ?? `the one of step ${lastSaved}`}`;
        throw new Error(
          `Training stopped at step ${step}: the loss is ${loss} (gradient norm ${gradNorm}); ` +
            `${last}. Try a lower --lr or check the data for NaN.`,
        );
      }
      if (history && drawn && terms) updateLossHistory(history, drawn.t, terms);
      losses.push(loss);
      await o.onStep?.({ step, loss, gradNorm, lr, seconds: seconds() });
      if (step % o.checkpointEvery === 0 || step === o.steps) await save(step);
      if (o.sampleEvery > 0 && (step % o.sampleEvery === 0 || step === o.steps)) await sample(step);
      // the wasm and cpu backends resolve their reads as microtasks: without a turn of the event
      // loop here, a signal's listener (Ctrl-C) would never run while training
      if (options.signal) await new Promise((r) => setTimeout(r, 0));
      if (options.signal?.aborted && step < o.steps) {
        if (lastSaved !== step) await save(step);
        return { step, losses, seconds: seconds(), stopped: true };
      }
    }
    return { step: o.steps, losses, seconds: seconds() };
  } finally {
    pool?.close();
    teacher?.dispose();
    net.dispose();
    emaNet.dispose();
    _disposeAdam(adam);
  }
}

function _disposeAdam(a: _AdamState): void {
  a.m.forEach((v) => v.dispose());
  a.v.forEach((v) => v.dispose());
}
