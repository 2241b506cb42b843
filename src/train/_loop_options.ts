// Internal: the training loop's options — defaults, checks (one clear error each), the class
// labels, and the training config recorded in every checkpoint.
import * as tf from "@tensorflow/tfjs-core";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { TrainLoopOptions } from "./train_loop.ts";
import { _LR_DECAYS } from "../_lr.ts";

export type _Optional =
  | "onStep"
  | "labels"
  | "initFrom"
  | "nullTeacher"
  | "resumeFrom"
  | "onCheckpoint"
  | "onSamples"
  | "checkpointName"
  | "minSnrGamma"
  | "trainOnly";

export type _Resolved =
  & Required<Omit<TrainLoopOptions, _Optional>>
  & Pick<TrainLoopOptions, _Optional>;

/** Checks the options and fills in the defaults (shared with `train`). */
export function _checkLoopOptions(options: TrainLoopOptions): _Resolved {
  const what = "Cannot train";
  if (!options || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object`);
  }
  const d = options.data;
  if (
    !d || !(d.images instanceof Float32Array) || !Array.isArray(d.shape) || d.shape.length !== 4
  ) {
    throw new RangeError(`${what}: data must be { images: Float32Array, shape: [N, H, W, C] }`);
  }
  const [N, H, W, C] = d.shape;
  if (N < 1 || d.images.length !== N * H * W * C) {
    throw new RangeError(
      `${what}: data.images has ${d.images.length} values, but shape [${d.shape}] needs ${
        N * H * W * C
      }`,
    );
  }
  const u = options.unet;
  if (!u || H !== u.imageSize || W !== u.imageSize || C !== u.inChannels) {
    throw new RangeError(
      `${what}: the data is ${H}×${W}×${C} but the U-Net expects ${u?.imageSize}×${u?.imageSize}×${u?.inChannels}`,
    );
  }
  const steps = options.steps;
  const int = (name: string, v: unknown, min: number) => {
    if (!Number.isInteger(v) || (v as number) < min) {
      throw new RangeError(`${what}: ${name} must be an integer >= ${min}, got ${v}`);
    }
  };
  const pos = (name: string, v: unknown) => {
    if (!(typeof v === "number" && v > 0 && Number.isFinite(v))) {
      throw new RangeError(`${what}: ${name} must be a finite number > 0, got ${v}`);
    }
  };
  int("steps", steps, 1);
  const o: _Resolved = {
    schedule: { kind: "linear", T: 1000 },
    batchSize: 32,
    lr: 2e-4,
    warmup: Math.min(5000, Math.ceil(steps / 10)),
    lrDecay: "constant",
    lrFinal: 0,
    gradClip: 1,
    emaDecay: 0.9999,
    emaWarmup: true,
    flip: false,
    seed: 0,
    checkpointEvery: 500,
    sampleEvery: 1000,
    sampleCount: 16,
    workers: 1,
    classDropout: 0.1,
    loss: "simple",
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as _Resolved;
  int("batchSize", o.batchSize, 1);
  pos("lr", o.lr);
  int("warmup", o.warmup, 1);
  if (!_LR_DECAYS.includes(o.lrDecay)) {
    throw new RangeError(
      `${what}: lrDecay must be "constant", "linear" or "cosine", got ${o.lrDecay}`,
    );
  }
  if (!(typeof o.lrFinal === "number" && o.lrFinal >= 0 && o.lrFinal <= o.lr)) {
    throw new RangeError(`${what}: lrFinal must be in [0, lr = ${o.lr}], got ${o.lrFinal}`);
  }
  if (options.decayStart === undefined) o.decayStart = o.warmup;
  if (!Number.isInteger(o.decayStart) || o.decayStart < o.warmup) {
    throw new RangeError(
      `${what}: decayStart must be an integer >= warmup (${o.warmup}), got ${o.decayStart}`,
    );
  }
  pos("gradClip", o.gradClip);
  if (!(o.emaDecay > 0 && o.emaDecay < 1)) {
    throw new RangeError(`${what}: emaDecay must be in (0, 1), got ${o.emaDecay}`);
  }
  if (typeof o.emaWarmup !== "boolean") {
    throw new TypeError(`${what}: emaWarmup must be true or false, got ${o.emaWarmup}`);
  }
  int("seed", o.seed, 0);
  int("checkpointEvery", o.checkpointEvery, 1);
  int("sampleEvery", o.sampleEvery, 0);
  int("sampleCount", o.sampleCount, 1);
  int("workers", o.workers, 1);
  if (!(typeof o.classDropout === "number" && o.classDropout >= 0 && o.classDropout < 1)) {
    throw new RangeError(`${what}: classDropout must be in [0, 1), got ${o.classDropout}`);
  }
  if (!["simple", "hybrid", "vlb"].includes(o.loss)) {
    throw new RangeError(`${what}: loss must be "simple", "hybrid" or "vlb", got ${o.loss}`);
  }
  if ((o.loss !== "simple") !== Boolean(o.unet.learnSigma)) {
    throw new RangeError(
      o.unet.learnSigma
        ? `${what}: a U-Net with learnSigma learns its variance through loss "hybrid" or "vlb", got "simple"`
        : `${what}: loss "${o.loss}" trains a learned variance: it needs unet.learnSigma`,
    );
  }
  if (o.minSnrGamma !== undefined) {
    pos("minSnrGamma", o.minSnrGamma);
    if (o.loss !== "simple") {
      throw new RangeError(
        `${what}: minSnrGamma weights L_simple, but loss is "${o.loss}" (its L_simple term stays unweighted)`,
      );
    }
  }
  if (o.nullTeacher !== undefined && (!o.unet.numClasses || o.loss !== "simple")) {
    throw new RangeError(
      `${what}: nullTeacher teaches the "no class" branch of a class-conditional U-Net trained with loss "simple", got numClasses ${
        o.unet.numClasses ?? 0
      } and loss "${o.loss}"`,
    );
  }
  if (
    o.trainOnly !== undefined &&
    !(Array.isArray(o.trainOnly) && o.trainOnly.length > 0 &&
      o.trainOnly.every((p) => typeof p === "string" && p.length > 0))
  ) {
    throw new RangeError(
      `${what}: trainOnly must be a non-empty array of parameter-name prefixes, got ${
        JSON.stringify(o.trainOnly)
      }`,
    );
  }
  if (o.workers > o.batchSize) {
    throw new RangeError(
      `${what}: workers (${o.workers}) must not exceed the batch size (${o.batchSize})`,
    );
  }
  const backend = tf.getBackend();
  if (o.workers > 1 && backend !== "wasm" && backend !== "cpu") {
    throw new RangeError(
      `${what}: workers > 1 needs the wasm or cpu backend (this is ${backend}; on webgpu use one)`,
    );
  }
  return o;
}

/** Checks the labels of a conditional run: one integer in [0, K) per image. */
export function _checkLabels(labels: Int32Array | undefined, n: number, K: number): Int32Array {
  const what = "Cannot train";
  if (!(labels instanceof Int32Array)) {
    throw new RangeError(
      `${what}: a class-conditional U-Net (numClasses ${K}) needs labels (an Int32Array, or data.labels), got ${labels}`,
    );
  }
  if (labels.length !== n) {
    throw new RangeError(
      `${what}: labels must hold one label per image (${n}), got ${labels.length}`,
    );
  }
  const bad = labels.findIndex((v) => v < 0 || v >= K);
  if (bad >= 0) {
    throw new RangeError(
      `${what}: labels must be in [0, ${K - 1}] (numClasses ${K}), got labels[${bad}] = ${
        labels[bad]
      }`,
    );
  }
  return labels;
}

/**
 * The names of the parameters a run trains (`trainOnly`: those starting with one of its
 * prefixes; each prefix must name at least one), or undefined for all of them.
 */
export function _trainable(
  trainOnly: readonly string[] | undefined,
  net: { params: ReadonlyMap<string, unknown> },
): Set<string> | undefined {
  if (trainOnly === undefined) return undefined;
  const names = [...net.params.keys()];
  for (const prefix of trainOnly) {
    if (!names.some((n) => n.startsWith(prefix))) {
      throw new RangeError(
        `Cannot train: trainOnly "${prefix}" names no parameter of this U-Net (its names start with ${
          [...new Set(names.map((n) => n.split(".")[0]))].join(", ")
        })`,
      );
    }
  }
  return new Set(names.filter((n) => trainOnly.some((p) => n.startsWith(p))));
}

export function _trainConfig(o: _Resolved) {
  const { batchSize, lr, warmup, lrDecay, lrFinal, decayStart, gradClip, emaDecay, flip, seed } = o;
  return {
    batchSize,
    lr,
    warmup,
    lrDecay,
    lrFinal,
    decayStart,
    gradClip,
    emaDecay,
    flip,
    seed,
    workers: o.workers,
    ...(o.emaWarmup ? {} : { emaWarmup: false }),
    data: o.data.source,
    ...(o.unet.numClasses ? { classDropout: o.classDropout } : {}),
    ...(o.loss !== "simple" ? { loss: o.loss } : {}),
    ...(o.minSnrGamma !== undefined ? { minSnrGamma: o.minSnrGamma } : {}),
    ...(o.trainOnly !== undefined ? { trainOnly: [...o.trainOnly] } : {}),
    // a path or URL is recorded; a checkpoint given as an object has no name
    ...(o.initFrom !== undefined && !_isCheckpoint(o.initFrom)
      ? { initFrom: String(o.initFrom) }
      : {}),
    ...(o.nullTeacher !== undefined
      ? { nullTeacher: _isCheckpoint(o.nullTeacher) ? "(a checkpoint)" : String(o.nullTeacher) }
      : {}),
  };
}

/** Whether initFrom is a loaded checkpoint (not a path or URL). */
export function _isCheckpoint(source: string | URL | Checkpoint): source is Checkpoint {
  return typeof source === "object" && !(source instanceof URL);
}
