import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import type { Tensor, VarianceKind } from "../types.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { _ownNetwork, unetFromCheckpoint } from "../io/unet_from_checkpoint.ts";
import { imageGrid } from "../io/image_grid.ts";
import { _atomicWrite } from "../_atomic_write.ts";
import { loadMnist } from "../data/mnist.ts";
import type { Dataset } from "../data/dataset.ts";
import type { UNet } from "../unet/unet.ts";
import { makeSchedule, type Schedule } from "../schedule.ts";
import {
  _samplerChoice,
  sampleLoop,
  SAMPLER_NAMES,
  type SamplerChoice,
  type SamplerName,
  samplingSchedule,
} from "../samplers.ts";
import { type BpdEstimate, bpdEstimate } from "./bpd_estimate.ts";
import { loadMnistClassifier } from "./classifier_weights.ts";
import type { MnistClassifier } from "./classifier.ts";
import { CLASSIFIER_FEATURES } from "./classifier.ts";
import { classifierOutputs, sampleQuality } from "./sample_quality.ts";
import { type FeatureStats, featureStats } from "./frechet_distance.ts";
import { nearestNeighbours } from "./nearest_neighbours.ts";
import { _boundText, _evalCharts, _evalReport, type EvalResults } from "../_eval_report.ts";
import { _duration, _progress } from "../_progress.ts";
import { _batch } from "../_batches.ts";
import { _checkpointHref, _joinShards, _runShardInWorker } from "../_sample_shard.ts";
import {
  type _Checker,
  _classifierOf,
  _selfChecked,
  _sumTallies,
  _tallyText,
  type SelfCheck,
  type SelfCheckTally,
} from "../self_check.ts";
import { _defaultWorkers, _shardCuts } from "../_shards.ts";
import { _checkVariance, _varianceFor } from "../_reverse.ts";
import { _intervalFor, _isGuidanceInterval } from "../_guidance.ts";

export type { EvalResults } from "../_eval_report.ts";

/** Options of {@linkcode evaluate}. Every field has a default. */
export interface EvaluateOptions {
  /** Checkpoint path or URL; its EMA weights are evaluated (default: the bundled MNIST model). */
  checkpoint?: string | URL;
  /** Held-out images (default: MNIST's test split). */
  data?: Dataset;
  /**
   * Images the nearest neighbours of the samples are searched in (default: MNIST's training split
   * with the default data, else `data`).
   */
  neighboursIn?: Dataset;
  /** Samples drawn and scored (default 128, at least 2). */
  n?: number;
  /**
   * Sampler of the scored samples (default: the checkpoint's recommended one, else "ddim"); its
   * recommended steps and η apply unless given.
   */
  sampler?: SamplerName;
  /** Sampler steps (default: the recommended count, else 20 for dpm++, else 50). */
  steps?: number;
  /** DPM-Solver++'s order (default 2). */
  order?: 1 | 2 | 3;
  /** Respacing kind (default: the sampler's own). */
  spacing?: string;
  /** DDIM η (default: the recommended η, else 0; ddim only). */
  eta?: number;
  /** Held-out images in the bound, evenly spaced over the set (default 64). */
  bpdImages?: number;
  /** Timestep strata of the bound (default 32; K + 1 model calls per image). */
  strata?: number;
  /**
   * Reverse variance of the bound (default "fixedLarge"; a `learnSigma` model's learned one,
   * "learnedRange").
   */
  variance?: VarianceKind;
  /** Digit classifier for FID-MNIST, 28×28×1 models only (default: the shipped one). */
  classifier?: string | URL;
  /**
   * Conditional checkpoints: the guidance scale of the scored samples, image i of class i mod K
   * (default: the checkpoint's recommended scale, else 1). Unconditional ones refuse it.
   */
  guidance?: number;
  /**
   * Conditional checkpoints: the model timesteps [lo, hi] where the guidance applies, at every
   * scale (the conditional model alone elsewhere), or "all" for every step (default: the
   * checkpoint's recommended interval, else every step).
   */
  guidanceInterval?: [number, number] | "all";
  /** Conditional checkpoints: also score samples at each of these guidance scales (default []). */
  sweep?: number[];
  /**
   * Conditional checkpoints that recommend a self-check (`CheckpointConfig.selfCheck`): apply it
   * to the labelled samples at every guidance scale (default true).
   */
  selfCheck?: boolean;
  /** Seed of the samples and of the bound's noise and timesteps (default 0). */
  seed?: number;
  /**
   * Workers sampling alongside the bound, each with its own tfjs (default: one per core on wasm
   * and cpu, none on webgpu, where sampling runs after the bound in this thread).
   */
  workers?: number;
  /** Folder for eval.json, report.md and its pictures and charts (default: none written). */
  outDir?: string;
  /** Draw progress bars on stderr (default true). */
  progress?: boolean;
  /** Told each stage's result as a line (default: console.warn, on stderr). */
  onNote?: (line: string) => void;
}

/**
 * How good is a checkpoint? The counterpart of `train()`: the NLL in bits/dim through the
 * variational bound (stratified over t, with its standard error, on held-out images on the 8-bit
 * grid) and, for 28×28 grayscale models, FID-MNIST, classifier confidence and class entropy of its
 * samples next to real held-out digits; for conditional checkpoints the accuracy of the class asked
 * for (beside the real digits' accuracy as labelled, its ceiling), and a guidance sweep. With `outDir`, writes eval.json, report.md, samples.png,
 * neighbours.png (each of the first 8 samples beside its 3 nearest training images) and the charts
 * bpd_terms.svg, loss_by_t.svg (and guidance_fid.svg, guidance_accuracy.svg with a sweep).
 *
 * @param options See {@linkcode EvaluateOptions}.
 * @returns Everything measured (also eval.json's contents).
 * @throws {RangeError} On bad options, or held-out data that does not fit the model.
 *
 * @example A quick look at the bundled model: the bound on 2 digits, 4 samples of 3 DDIM steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "@ddpm/core";
 * import { evaluate } from "@ddpm/core/fs";
 * await initBackend("wasm");
 * const r = await evaluate({
 *   n: 4, steps: 3, bpdImages: 2, strata: 2, workers: 0, progress: false, onNote: () => {},
 * });
 * assert.ok(r.bpd.mean > 0 && r.bpd.mean < 8); // bits per 8-bit pixel
 * assert.equal(r.quality!.generated.n, 4);
 * ```
 */
export async function evaluate(options: EvaluateOptions = {}): Promise<EvalResults> {
  const t0 = performance.now();
  const checked = _checkOptions(options);
  const source = checked.checkpoint ?? BUNDLED_MNIST_CHECKPOINT;
  const ck = await loadCheckpoint(source);
  const o = _withSampler(checked, ck.config.sampler);
  const K = ck.config.unet.numClasses ?? 0;
  if (K === 0 && (o.guidance !== undefined || o.sweep.length > 0)) {
    throw new RangeError(
      `Cannot evaluate: guidance needs a class-conditional checkpoint; this one is unconditional, ` +
        `got ${o.guidance !== undefined ? `guidance ${o.guidance}` : `sweep ${o.sweep}`}`,
    );
  }
  const guidance = K > 0 ? o.guidance ?? ck.config.guidanceScale ?? 1 : undefined;
  const interval = K === 0
    ? undefined
    : _intervalFor(o.guidanceInterval, ck.config.guidanceInterval);
  // the bound's variance: a learnSigma network's own (the samplers read it the same way, and
  // otherwise keep their own default, as `deno task sample` does)
  const variance = _varianceFor("evaluate", ck.config.unet, o.variance) ?? "fixedLarge";
  const unet = unetFromCheckpoint(ck);
  const { imageSize: size, inChannels: C } = unet.config;
  const held = o.data ?? loadMnist({ split: "test" });
  if (held.shape[1] !== size || held.shape[2] !== size || held.shape[3] !== C) {
    unet.dispose();
    throw new RangeError(
      `Cannot evaluate: the model makes ${size}×${size}×${C} images but the data is ${
        held.shape.slice(1).join("×")
      }`,
    );
  }
  // the classifier first: a bad one fails before minutes of sampling
  const classifier = size === 28 && C === 1 ? await _classifier(o.classifier, unet) : undefined;
  const backend = tf.getBackend();
  const checkpointName = source instanceof URL ? "bundled mnist" : String(source);
  o.onNote(
    `backend ${backend} · checkpoint ${checkpointName} · held-out ${held.source}: ` +
      `${held.shape[0]} images`,
  );
  // conditional: image i is drawn for class i mod K
  const classes = K > 0 ? Array.from({ length: o.n }, (_, i) => i % K) : undefined;
  const base = makeSchedule(ck.config.schedule);
  const s = samplingSchedule(base, o.sampler, o.steps, o.spacing);
  const workers = o.workers ?? (backend === "webgpu" ? 0 : _defaultWorkers(backend, o.n));
  const selfCheck = K > 0 && o.selfCheck !== false ? ck.config.selfCheck : undefined;
  // the class network for a self-check in this thread (workers load their own)
  const checker = selfCheck === undefined || workers > 0
    ? undefined
    : { net: _ownNetwork(ck), base, numClasses: K };
  const tallies: SelfCheckTally[] = [];
  const draw = _sampler(unet, s, o, {
    source,
    backend,
    workers,
    classes,
    interval,
    selfCheck,
    checker,
    onTally: (t) => tallies.push(t),
  });

  // samples in workers (started first, alongside the bound), else in this thread after it
  let ts = performance.now();
  const early = workers > 0 ? draw(guidance) : undefined;
  early?.catch(() => {}); // awaited below; no unhandled rejection while the bound runs
  const bound = await _bound(unet, base, held, { ...o, variance });
  if (!early) ts = performance.now();
  const samples = await (early ?? draw(guidance));
  const sampleSeconds = (performance.now() - ts) / 1000;
  // the scored samples' self-check (the sweep's rows come after)
  const tally = tallies.length > 0 ? _sumTallies(tallies) : undefined;
  if (tally) o.onNote(_tallyText(tally, o.n));
  o.onNote(
    `${o.n} samples, ${o.sampler} ${s.T} steps (${_duration(sampleSeconds)}` +
      (early ? `, in ${workers} worker${workers > 1 ? "s" : ""} alongside the bound)` : ")"),
  );

  let quality: EvalResults["quality"];
  const sweepRows: NonNullable<EvalResults["guidanceSweep"]> = [];
  if (classifier) {
    const { model, accuracy } = classifier;
    // reference: even-indexed held-out digits; real ceiling: n odd-indexed ones
    const all = Array.from({ length: held.shape[0] }, (_, i) => i);
    const even = all.filter((i) => i % 2 === 0), odd = all.filter((i) => i % 2 === 1);
    const reference = await _featureStatsOf(model, held, even);
    const score = (x: Tensor) => sampleQuality(model, x, reference, { classes });
    const realIdx = _evenlySpaced(o.n, odd);
    const realImages = _batch(held, realIdx);
    // conditional: the real digits asked for their own labels, the accuracy's ceiling
    const realClasses = classes && held.labels ? realIdx.map((i) => held.labels![i]) : undefined;
    const real = await sampleQuality(model, realImages, reference, { classes: realClasses });
    realImages.dispose();
    quality = {
      generated: await score(samples),
      real,
      referenceSize: even.length,
      classifierAccuracy: accuracy,
    };
    for (const w of o.sweep) sweepRows.push(await _sweepRow(w, draw, score, o.onNote));
  }

  const neighboursIn = o.neighboursIn ??
    (o.data === undefined ? loadMnist({ split: "train" }) : held);
  const nn = await _neighbours(samples, neighboursIn);
  const pictures = {
    "samples.png": await imageGrid(samples, { scale: 2 }),
    "neighbours.png": nn.picture,
  };
  samples.dispose();
  unet.dispose();
  checker?.net.dispose();
  classifier?.model.dispose();

  const results: EvalResults = {
    checkpoint: checkpointName,
    trainState: ck.state,
    backend,
    data: held.source,
    bpd: { ...bound.summary, variance },
    // η only where it applies (the ddpm sampler ignores it)
    sampling: {
      n: o.n,
      sampler: o.sampler,
      steps: s.T,
      ...(o.sampler === "ddim" ? { eta: o.eta } : {}),
      ...(o.sampler === "dpm++" ? { order: o.order } : {}),
      ...(guidance !== undefined ? { guidance, classes: "image i: class i mod " + K } : {}),
      ...(interval ? { guidanceInterval: [interval[0], interval[1]] } : {}),
      ...(selfCheck && tally ? { selfCheck: { ...selfCheck, ...tally } } : {}),
      seed: o.seed,
      seconds: sampleSeconds,
    },
    quality,
    ...(sweepRows.length > 0 ? { guidanceSweep: sweepRows } : {}),
    neighbours: nn.distance,
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.outDir !== undefined) {
    const files: Record<string, string | Uint8Array> = {
      "eval.json": JSON.stringify(results, null, 2) + "\n",
      "report.md": _evalReport(results),
      ...pictures,
      ..._evalCharts(results, bound.estimate),
    };
    for (const [name, data] of Object.entries(files)) _atomicWrite(join(o.outDir, name), data);
  }
  return results;
}

/** The options that may stay unset; the rest get their defaults. */
type _Optional =
  | "checkpoint"
  | "data"
  | "neighboursIn"
  | "classifier"
  | "guidance"
  | "guidanceInterval"
  | "workers"
  | "outDir"
  | "spacing"
  | "variance"
  | "sampler"
  | "steps"
  | "eta";

type _Resolved = Required<Omit<EvaluateOptions, _Optional>> & Pick<EvaluateOptions, _Optional>;

/** The options with the sampler settled (given, else the checkpoint's recommended, else ddim). */
type _Run = _Resolved & { sampler: SamplerName; steps: number; eta: number };

function _withSampler(o: _Resolved, recommended: SamplerChoice | undefined): _Run {
  const { sampler, steps, eta } = _samplerChoice(o, recommended, "ddim");
  return { ...o, sampler, steps: steps ?? (sampler === "dpm++" ? 20 : 50), eta: eta ?? 0 };
}

function _checkOptions(options: EvaluateOptions): _Resolved {
  const o = {
    n: 128,
    order: 2 as const,
    bpdImages: 64,
    strata: 32,
    sweep: [] as number[],
    selfCheck: true,
    seed: 0,
    progress: true,
    onNote: (line: string) => console.warn(line),
    ...options,
  };
  const int = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
      throw new RangeError(`Cannot evaluate: ${name} must be an integer >= ${min}, got ${v}`);
    }
  };
  const nonNegative = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`Cannot evaluate: ${name} must be a number >= 0, got ${v}`);
    }
  };
  int("n", o.n, 2);
  int("steps", o.steps, 1);
  int("bpdImages", o.bpdImages, 1);
  int("strata", o.strata, 1);
  int("seed", o.seed, 0);
  int("workers", o.workers, 0);
  nonNegative("eta", o.eta);
  nonNegative("guidance", o.guidance);
  o.sweep.forEach((w) => nonNegative("sweep", w));
  const gi = o.guidanceInterval;
  if (gi !== undefined && gi !== "all" && !_isGuidanceInterval(gi)) {
    throw new RangeError(
      `Cannot evaluate: guidanceInterval must be [lo, hi] (integer timesteps, 0 <= lo <= hi) or ` +
        `"all", got ${JSON.stringify(gi)}`,
    );
  }
  if (o.sampler !== undefined && !SAMPLER_NAMES.includes(o.sampler)) {
    throw new RangeError(
      `Cannot evaluate: sampler must be ${SAMPLER_NAMES.slice(0, -1).join(", ")} or ${
        SAMPLER_NAMES.at(-1)
      }, got ${o.sampler}`,
    );
  }
  if (![1, 2, 3].includes(o.order)) {
    throw new RangeError(`Cannot evaluate: order must be 1, 2 or 3, got ${o.order}`);
  }
  if (o.variance !== undefined) _checkVariance("evaluate", o.variance);
  return o;
}

/** The digit classifier and its held-out accuracy. */
async function _classifier(
  file: string | URL | undefined,
  unet: UNet,
): Promise<{ model: MnistClassifier; accuracy: number }> {
  try {
    const { classifier, metadata } = await loadMnistClassifier(file);
    return { model: classifier, accuracy: Number(metadata.testAccuracy) };
  } catch (e) {
    unet.dispose();
    throw e;
  }
}

/** `count` of `from`'s entries, evenly spaced (held-out sets are often ordered by class). */
function _evenlySpaced(count: number, from: number[]): number[] {
  const k = Math.min(count, from.length);
  return Array.from({ length: k }, (_, i) => from[Math.floor(i * from.length / k)]);
}

/** The bound on `bpdImages` held-out images on the 8-bit grid: x0 = round((x + 1)·127.5)/127.5 − 1. */
async function _bound(
  unet: UNet,
  base: Schedule,
  held: Dataset,
  o: _Resolved,
): Promise<{ estimate: BpdEstimate; summary: Omit<EvalResults["bpd"], "variance"> }> {
  const all = Array.from({ length: held.shape[0] }, (_, i) => i);
  const idx = _evenlySpaced(o.bpdImages, all);
  const x0 = tf.tidy(() => {
    const x = _batch(held, idx);
    return tf.sub(tf.div(tf.round(tf.mul(tf.add(x, 1), 127.5)), 127.5), 1);
  });
  let bar = _progress(1, 0, o.progress, 5);
  const tb = performance.now();
  const estimate = await bpdEstimate(unet, base, {
    x0,
    strata: o.strata,
    seed: o.seed,
    variance: o.variance,
    onStep: (done, total) => {
      if (done === 1) bar = _progress(total, 0, o.progress, 5);
      bar.update(done, NaN);
    },
  });
  bar.done();
  x0.dispose();
  const seconds = (performance.now() - tb) / 1000;
  o.onNote(
    `NLL ≤ ${_boundText(estimate.mean, estimate.stdError)} bits/dim on ` +
      `${idx.length} held-out images (${estimate.strata.length} strata + L_0, ${
        _duration(seconds)
      })`,
  );
  const terms = estimate.strata.map(({ from, to }, k) => {
    const termBpd = _mean(estimate.termsBpd[k]);
    return {
      from,
      to,
      meanT: _mean(estimate.t[k]),
      termBpd,
      contributionBpd: (to - from) * termBpd,
      epsMse: _mean(estimate.epsMse[k]),
    };
  });
  return {
    estimate,
    summary: {
      mean: estimate.mean,
      stdError: estimate.stdError,
      images: idx.length,
      strata: estimate.strata.length,
      T: base.T,
      priorBpd: _mean(estimate.priorBpd),
      decoderBpd: _mean(estimate.decoderBpd),
      terms,
      seconds,
    },
  };
}

/**
 * Draws the n samples at guidance w (undefined or 0: unconditional): in workers (one shard each,
 * its own tfjs on its own core; the same images as in this thread, the rows of one seeded batch)
 * or in this thread.
 */
function _sampler(
  unet: UNet,
  s: Schedule,
  o: _Run,
  at: {
    source: string | URL;
    backend: string;
    workers: number;
    classes?: number[];
    interval?: readonly [number, number];
    selfCheck?: SelfCheck;
    checker?: _Checker<UNet>;
    onTally: (t: SelfCheckTally) => void;
  },
): (w: number | undefined) => Promise<Tensor> {
  const { imageSize: size, inChannels: C } = unet.config;
  const cuts = _shardCuts(o.n, at.workers);
  const inWorkers = (w: number | undefined) =>
    Promise.all(
      Array.from({ length: at.workers }, (_, k) =>
        _runShardInWorker(
          {
            checkpoint: _checkpointHref(at.source),
            sampler: o.sampler,
            steps: o.steps,
            spacing: o.spacing,
            order: o.order,
            eta: o.eta,
            seed: o.seed,
            start: cuts[k],
            count: cuts[k + 1] - cuts[k],
            of: o.n,
            snapAt: [],
            show: 0,
            ...(w === undefined || w === 0 ? {} : {
              classes: at.classes,
              guidance: w,
              guidanceInterval: at.interval,
              selfCheck: at.selfCheck,
            }),
          },
          at.backend === "cpu" ? "cpu" : "wasm",
          () => {},
        ).then((r) => {
          if (r.tally) at.onTally(r.tally);
          return r.samples;
        })),
    ).then((parts) => _joinShards(parts, cuts, [size, size, C]));
  const inThread = async (w: number | undefined) => {
    const bar = _progress(s.T, 0, o.progress, 10);
    let done = 0;
    const cond = w === undefined || w === 0 ? {} : {
      classes: at.classes,
      guidanceScale: w,
      guidanceInterval: at.interval,
    };
    const opts = {
      sampler: o.sampler,
      seed: o.seed,
      eta: o.eta,
      order: o.order,
      variance: _varianceFor("evaluate", unet.config),
      ...cond,
    };
    const x = await sampleLoop(unet, s, {
      ...opts,
      shape: [o.n, size, size, C],
      onStep: () => bar.update(++done, NaN),
    });
    bar.done();
    const check = at.selfCheck, checker = at.checker;
    if (!check || !checker || !at.classes || w === undefined || w === 0) return x;
    const checked = await _selfChecked(
      x,
      { start: 0, of: o.n, classes: at.classes, seed: o.seed },
      check,
      _classifierOf(checker, check.timesteps, o.seed),
      (row, seed) =>
        sampleLoop(unet, s, {
          ...opts,
          seed,
          shape: [1, size, size, C],
          rows: { start: row, of: o.n },
        }),
    );
    at.onTally(checked.tally);
    return checked.samples;
  };
  return at.workers > 0 ? inWorkers : inThread;
}

/** The classifier features' mean and covariance over held-out images `idx`. */
async function _featureStatsOf(
  model: MnistClassifier,
  held: Dataset,
  idx: number[],
): Promise<FeatureStats> {
  const images = _batch(held, idx);
  try {
    return featureStats((await classifierOutputs(model, images)).features, CLASSIFIER_FEATURES);
  } finally {
    images.dispose();
  }
}

/** One row of the guidance sweep: the same seed and classes at scale w. */
async function _sweepRow(
  w: number,
  draw: (w: number) => Promise<Tensor>,
  score: (x: Tensor) => ReturnType<typeof sampleQuality>,
  onNote: (line: string) => void,
): Promise<NonNullable<EvalResults["guidanceSweep"]>[number]> {
  const tw = performance.now();
  const x = await draw(w);
  const q = await score(x);
  x.dispose();
  const row = {
    guidance: w,
    fid: q.fid,
    meanConfidence: q.meanConfidence,
    confidentFraction: q.confidentFraction,
    classEntropy: q.classEntropy,
    accuracy: q.conditional!.accuracy,
    seconds: (performance.now() - tw) / 1000,
  };
  onNote(
    `  guidance ${w}: FID-MNIST ${row.fid.toFixed(2)}, confidence ${
      row.meanConfidence.toFixed(3)
    }, accuracy ${row.accuracy.toFixed(3)} (${_duration(row.seconds)})`,
  );
  return row;
}

/**
 * The 3 nearest training images of each of the first 8 samples: their distances to the nearest,
 * and a picture with one row per sample (the sample, then its neighbours).
 */
async function _neighbours(
  samples: Tensor,
  train: Dataset,
): Promise<{ distance: number[]; picture: Uint8Array }> {
  const [, H, W, C] = samples.shape;
  const px = H! * W! * C!;
  const q = Math.min(8, samples.shape[0]), k = 3;
  const first = tf.slice(samples, 0, q);
  const nn = await nearestNeighbours(first, train.images, k);
  const tiles = new Float32Array(q * (k + 1) * px);
  const firstPx = await first.data();
  for (let i = 0; i < q; i++) {
    tiles.set(firstPx.subarray(i * px, (i + 1) * px), i * (k + 1) * px);
    nn.index[i].forEach((j, r) =>
      tiles.set(train.images.subarray(j * px, (j + 1) * px), (i * (k + 1) + r + 1) * px)
    );
  }
  const tileTensor = tf.tensor4d(tiles, [q * (k + 1), H!, W!, C!]);
  const picture = await imageGrid(tileTensor, { cols: k + 1, scale: 2 });
  tf.dispose([first, tileTensor]);
  return { distance: nn.distance.map((d) => d[0]), picture };
}

function _mean(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i];
  return sum / v.length;
}
