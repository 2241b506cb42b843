// `deno task eval`: how good is a checkpoint? NLL in bits/dim through the variational bound
// (stratified over t, with its standard error) and, for 28×28 grayscale models, FID-MNIST,
// classifier confidence and class entropy of its samples, next to real held-out digits.
// Writes a table to the terminal, eval.json, and report.md with its pictures.
//
//   deno task eval [--checkpoint FILE] [--data mnist|<folder>] [--n 128] [--sampler ddim]
//                  [--steps 50] [--eta 0] [--bpd-images 64] [--strata 32] [--out out/eval] ...
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../backend.ts";
import { _checkpointHref, _guidanceArg, _joinShards, _runShardInWorker } from "./_sample_shard.ts";
import { _defaultWorkers, _shardCuts } from "../_shards.ts";
import type { Tensor } from "../types.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { setWeights } from "../io/weights.ts";
import { imageGrid } from "../io/image_grid.ts";
import { chartSvg } from "../io/chart_svg.ts";
import { _atomicWrite } from "../io/_atomic_write.ts";
import { loadMnist } from "../data/mnist.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import type { Dataset } from "../data/dataset.ts";
import { createUNet } from "../unet/unet.ts";
import { makeSchedule } from "../schedule.ts";
import { sampleLoop, SAMPLER_NAMES, samplingSchedule } from "../samplers.ts";
import { bpdEstimate } from "../eval/bpd_estimate.ts";
import { loadMnistClassifier } from "../eval/classifier_weights.ts";
import { classifierOutputs, sampleQuality } from "../eval/sample_quality.ts";
import { featureStats } from "../eval/frechet_distance.ts";
import { nearestNeighbours } from "../eval/nearest_neighbours.ts";
import { CLASSIFIER_FEATURES } from "../eval/classifier.ts";
import { _evalReport, type _EvalResults } from "../eval/_report.ts";
import { _duration, _progress } from "../train/_progress.ts";
import { _batch } from "../train/_batches.ts";
import {
  _backendArg,
  _choiceArg,
  _cliArgs,
  _intArg,
  _nonNegativeArg,
  _orderArg,
  _run,
  _spacingArg,
} from "./_args.ts";
import type { VarianceKind } from "../types.ts";

const HELP = `Evaluate a DDPM checkpoint: NLL (bits/dim) and, for MNIST, sample quality.

Options:
  --checkpoint FILE   checkpoint (EMA weights are used)          [the bundled MNIST model]
  --data mnist|DIR    held-out images: MNIST's test split, or a folder of PNG/JPEG [mnist]
  --n N               samples to draw and score                                    [128]
  --sampler NAME      ddpm, ddim or dpm++, for the scored samples                 [ddim]
  --steps N           sampler steps (model calls)          [ddpm, ddim: 50; dpm++: 20]
  --order K           DPM-Solver++ order 1, 2 or 3                                   [2]
  --spacing KIND      ddim, logsnr, karras, linspace, trailing or even [the sampler's]
  --eta X             DDIM η (0: deterministic, 1: DDPM-like noise; ddim only)       [0]
  --bpd-images N      held-out images in the bound (evenly spaced over the set)     [64]
  --strata K          timestep strata of the bound (K + 1 model calls per image;
                      K ≥ T - 1 computes every term exactly)                        [32]
  --variance NAME     reverse variance for the bound: fixedLarge or fixedSmall
                                                                            [fixedLarge]
  --classifier FILE   digit classifier for FID-MNIST                 [the shipped one]
  --guidance W        conditional checkpoints: the guidance scale of the scored
                      samples (image i of class i mod 10)
                                          [the checkpoint's recommended scale, else 1]
  --sweep LIST        conditional checkpoints: also score samples at each of these
                      guidance scales (FID, confidence, conditional accuracy);
                      "none" to skip                                       [0,1,2,3,5]
  --seed N            seed of the samples and the bound's noise and timesteps        [0]
  --out DIR           where eval.json, report.md and pictures go              [out/eval]
  --backend NAME      auto, webgpu, wasm or cpu                                     [auto]
  --help              this text`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      checkpoint: { type: "string" },
      data: { type: "string", default: "mnist" },
      n: { type: "string", default: "128" },
      sampler: { type: "string", default: "ddim" },
      steps: { type: "string" },
      order: { type: "string", default: "2" },
      spacing: { type: "string" },
      eta: { type: "string", default: "0" },
      "bpd-images": { type: "string", default: "64" },
      strata: { type: "string", default: "32" },
      variance: { type: "string", default: "fixedLarge" },
      classifier: { type: "string" },
      guidance: { type: "string" },
      sweep: { type: "string", default: "0,1,2,3,5" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "out/eval" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  const sampler = _choiceArg("sampler", a.sampler, SAMPLER_NAMES);
  const order = _orderArg(a.order);
  const spacing = _spacingArg(a.spacing);
  const variance: VarianceKind = _choiceArg("variance", a.variance, ["fixedLarge", "fixedSmall"]);
  const eta = _nonNegativeArg("eta", a.eta);
  const n = _intArg("n", a.n, 2);
  const steps = a.steps === undefined
    ? (sampler === "dpm++" ? 20 : 50)
    : _intArg("steps", a.steps, 1);
  const bpdImages = _intArg("bpd-images", a["bpd-images"], 1);
  const strata = _intArg("strata", a.strata, 1), seed = _intArg("seed", a.seed, 0);
  const t0 = performance.now();
  const info = await initBackend(_backendArg(a.backend));
  const source = a.checkpoint ?? BUNDLED_MNIST_CHECKPOINT;
  const ck = await loadCheckpoint(source);
  const unet = createUNet(ck.config.unet, { T: ck.config.schedule.T });
  setWeights(unet.params, ck.ema);
  const { imageSize: size, inChannels: C } = unet.config;
  const K = ck.config.unet.numClasses ?? 0;
  const guidance = _guidanceArg(a.guidance, ck.config);
  const sweep = K === 0 || a.sweep === "none"
    ? []
    : a.sweep.split(",").map((v) => _nonNegativeArg("sweep", v.trim()));
  // conditional: image i is drawn for class i mod K
  const classes = K > 0 ? Array.from({ length: n }, (_, i) => i % K) : undefined;
  const held: Dataset = a.data === "mnist"
    ? loadMnist({ split: "test" })
    : await loadImageFolder(a.data, { size, channels: C as 1 | 3 });
  if (held.shape[1] !== size || held.shape[3] !== C) {
    throw new RangeError(
      `the model makes ${size}×${size}×${C} images but the data is ${
        held.shape.slice(1).join("×")
      }`,
    );
  }
  // the classifier first: a bad --classifier fails before minutes of sampling
  const mnistLike = size === 28 && C === 1;
  const { classifier, metadata } = mnistLike
    ? await loadMnistClassifier(a.classifier)
    : { classifier: undefined, metadata: {} as Record<string, string> };
  const checkpointName = source instanceof URL ? "bundled mnist" : String(source);
  console.log(
    `backend ${info.backend} · checkpoint ${checkpointName} · held-out ${held.source}: ` +
      `${held.shape[0]} images`,
  );
  const px = size * size * C;
  const pick = (count: number, from: number[]) =>
    Array.from(
      { length: Math.min(count, from.length) },
      (_, i) => from[Math.floor(i * from.length / Math.min(count, from.length))],
    );
  const gather = (idx: number[]) => _batch(held, idx);
  const allIdx = Array.from({ length: held.shape[0] }, (_, i) => i);

  // 2 (started first). Samples: on wasm and cpu in workers (src/cli/_sample_worker.ts), each with
  // its own tfjs on its own core, while this thread computes the bound; the same images as
  // in-process sampling (the rows of one seeded batch)
  const shape = [n, size, size, C];
  const workers = info.backend === "webgpu" ? 0 : _defaultWorkers(info.backend, n);
  const cuts = _shardCuts(n, workers);
  let ts = performance.now();
  // n samples in the workers at guidance w (conditional checkpoints; w = 0: unconditional)
  const inWorkersAt = (w: number | undefined, quiet = false) =>
    Promise.all(
      Array.from({ length: workers }, (_, k) =>
        _runShardInWorker(
          {
            checkpoint: _checkpointHref(source),
            sampler,
            steps,
            spacing,
            order,
            eta,
            seed,
            start: cuts[k],
            count: cuts[k + 1] - cuts[k],
            of: n,
            snapAt: [],
            show: 0,
            ...(w === undefined || w === 0 ? {} : { classes, guidance: w }),
          },
          info.backend === "cpu" ? "cpu" : "wasm",
          () => {},
        ).then((r) => {
          if (!quiet) console.log(`  samples ${cuts[k]}…${cuts[k + 1] - 1} done (a worker)`);
          return r.samples;
        })),
    ).then((parts) => _joinShards(parts, cuts, [size, size, C]));
  const inWorkers = workers === 0 ? undefined : inWorkersAt(guidance);
  inWorkers?.catch(() => {}); // awaited below; no unhandled rejection while the bound runs

  // 1. The bound, on the 8-bit grid: x0 = round((x + 1) · 127.5) / 127.5 - 1
  const base = makeSchedule(ck.config.schedule);
  const bpdIdx = pick(bpdImages, allIdx);
  const x0 = tf.tidy(() =>
    tf.sub(tf.div(tf.round(tf.mul(tf.add(gather(bpdIdx), 1), 127.5)), 127.5), 1)
  );
  let bar = _progress(1, 0, true, 5);
  const tb = performance.now();
  const bpd = await bpdEstimate(unet, base, {
    x0,
    strata,
    seed,
    variance,
    onStep: (done, total) => {
      if (done === 1) bar = _progress(total, 0, true, 5);
      bar.update(done, NaN);
    },
  });
  bar.done();
  x0.dispose();
  const bpdSeconds = (performance.now() - tb) / 1000;
  console.log(
    `NLL ≤ ${bpd.mean.toFixed(3)} ± ${bpd.stdError.toFixed(3)} bits/dim on ${bpdIdx.length} ` +
      `held-out images (${bpd.strata.length} strata + L_0, ${_duration(bpdSeconds)})`,
  );

  // 2. Samples
  const s = samplingSchedule(base, sampler, steps, spacing);
  // in this thread (webgpu) at guidance w
  const inProcessAt = async (w: number | undefined) => {
    bar = _progress(s.T, 0, true, 10);
    let done = 0;
    const onStep = () => bar.update(++done, NaN);
    const cond = w === undefined || w === 0 ? {} : { classes, guidanceScale: w };
    const x = await sampleLoop(unet, s, { sampler, shape, seed, eta, order, onStep, ...cond });
    bar.done();
    return x;
  };
  let samples: Tensor;
  if (inWorkers) {
    samples = await inWorkers;
  } else {
    ts = performance.now();
    samples = await inProcessAt(guidance);
  }
  const sampleSeconds = (performance.now() - ts) / 1000;
  console.log(
    `${n} samples, ${sampler} ${s.T} steps (${_duration(sampleSeconds)}` +
      (inWorkers ? `, in ${workers} worker${workers > 1 ? "s" : ""} alongside the bound)` : ")"),
  );
  _atomicWrite(`${a.out}/samples.png`, await imageGrid(samples, { scale: 2 }));

  // 3. Sample quality through the digit classifier (28×28×1 models only)
  let quality: _EvalResults["quality"];
  const sweepRows: NonNullable<_EvalResults["guidanceSweep"]> = [];
  if (classifier) {
    // reference: even-indexed held-out digits; real ceiling: n odd-indexed ones
    const even = allIdx.filter((i) => i % 2 === 0), odd = allIdx.filter((i) => i % 2 === 1);
    const refImages = gather(even), realImages = gather(pick(n, odd));
    const reference = featureStats(
      (await classifierOutputs(classifier, refImages)).features,
      CLASSIFIER_FEATURES,
    );
    // conditional accuracy against the classes asked for (at w = 0, drawn without them: chance)
    const score = (x: Tensor) => sampleQuality(classifier, x, reference, { classes });
    const generated = await score(samples);
    const real = await sampleQuality(classifier, realImages, reference);
    quality = {
      generated,
      real,
      referenceSize: even.length,
      classifierAccuracy: Number(metadata.testAccuracy),
    };
    // the guidance trade-off: the same seed and classes at each scale
    for (const w of sweep) {
      const tw = performance.now();
      const x = inWorkers ? await inWorkersAt(w, true) : await inProcessAt(w);
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
      sweepRows.push(row);
      console.log(
        `  guidance ${w}: FID-MNIST ${row.fid.toFixed(2)}, confidence ${
          row.meanConfidence.toFixed(3)
        }, accuracy ${row.accuracy.toFixed(3)} (${_duration(row.seconds)})`,
      );
    }
    tf.dispose([refImages, realImages]);
  }

  // 4. Nearest training neighbours of the first 8 samples
  const train = a.data === "mnist" ? loadMnist({ split: "train" }) : held;
  const q = Math.min(8, n), k = 3;
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
  const tileTensor = tf.tensor4d(tiles, [q * (k + 1), size, size, C]);
  _atomicWrite(
    `${a.out}/neighbours.png`,
    await imageGrid(tileTensor, { cols: k + 1, scale: 2 }),
  );
  tf.dispose([first, tileTensor, samples]);
  unet.dispose();
  classifier?.dispose();

  // 5. Charts, JSON, report
  const strataRows = bpd.strata.map(({ from, to }, kk) => {
    const termBpd = _mean(bpd.termsBpd[kk]);
    return {
      from,
      to,
      meanT: _mean(bpd.t[kk]),
      termBpd,
      contributionBpd: (to - from) * termBpd,
      epsMse: _mean(bpd.epsMse[kk]),
    };
  });
  // per-image points (t, value) and the stratum means, on log-log axes
  const byT = (
    file: string,
    ys: Float64Array[],
    pick: (r: typeof strataRows[0]) => number,
    title: string,
    yLabel: string,
  ) => {
    const dots = ys.flatMap((y, kk) =>
      Array.from(y, (v, i) => [bpd.t[kk][i], v] as [number, number])
    );
    _atomicWrite(
      `${a.out}/${file}`,
      chartSvg([
        { points: dots, label: "per image", kind: "dots", color: "#9ab" },
        { points: strataRows.map((r) => [r.meanT, pick(r)]), label: "stratum mean" },
      ], { title, xLabel: "t", yLabel, logX: true, logY: true }),
    );
  };
  if (sweepRows.length > 0) {
    const at = (pick: (r: typeof sweepRows[0]) => number) =>
      sweepRows.map((r) => [r.guidance, pick(r)] as [number, number]);
    _atomicWrite(
      `${a.out}/guidance_fid.svg`,
      chartSvg([{ points: at((r) => r.fid), label: "FID-MNIST" }], {
        title: "Guidance trade-off: FID-MNIST",
        xLabel: "guidance scale w",
        yLabel: "FID-MNIST",
      }),
    );
    _atomicWrite(
      `${a.out}/guidance_accuracy.svg`,
      chartSvg([
        { points: at((r) => r.accuracy), label: "conditional accuracy" },
        { points: at((r) => r.confidentFraction), label: "share with confidence > 0.9" },
      ], { title: "Guidance trade-off: accuracy", xLabel: "guidance scale w", yLabel: "share" }),
    );
  }
  byT("bpd_terms.svg", bpd.termsBpd, (r) => r.termBpd, "Bound terms L_t by timestep", "bits/dim");
  byT(
    "loss_by_t.svg",
    bpd.epsMse,
    (r) => r.epsMse,
    "Training loss ‖ε_θ - ε‖² / D by timestep (held-out)",
    "loss",
  );
  const results: _EvalResults = {
    checkpoint: checkpointName,
    trainState: ck.state,
    backend: info.backend,
    data: held.source,
    bpd: {
      mean: bpd.mean,
      stdError: bpd.stdError,
      images: bpdIdx.length,
      strata: bpd.strata.length,
      T: base.T,
      variance,
      priorBpd: _mean(bpd.priorBpd),
      decoderBpd: _mean(bpd.decoderBpd),
      terms: strataRows,
      seconds: bpdSeconds,
    },
    // η only where it applies (the ddpm sampler ignores it, as `deno task sample` does)
    sampling: {
      n,
      sampler,
      steps: s.T,
      ...(sampler === "ddim" ? { eta } : {}),
      ...(sampler === "dpm++" ? { order } : {}),
      ...(guidance !== undefined ? { guidance, classes: "image i: class i mod " + K } : {}),
      seed,
      seconds: sampleSeconds,
    },
    quality,
    ...(sweepRows.length > 0 ? { guidanceSweep: sweepRows } : {}),
    neighbours: nn.distance.map((d) => d[0]),
    seconds: (performance.now() - t0) / 1000,
  };
  _atomicWrite(`${a.out}/eval.json`, JSON.stringify(results, null, 2) + "\n");
  _atomicWrite(`${a.out}/report.md`, _evalReport(results));
  console.log(_table(results));
  console.log(
    `wrote ${a.out}/eval.json, report.md, samples.png, neighbours.png, bpd_terms.svg, ` +
      `loss_by_t.svg (${_duration(results.seconds)} in all)`,
  );
});

function _mean(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i];
  return sum / v.length;
}

function _table(r: _EvalResults): string {
  const rows: [string, string, string][] = [
    ["NLL bound (bits/dim)", `${r.bpd.mean.toFixed(3)} ± ${r.bpd.stdError.toFixed(3)}`, ""],
  ];
  if (r.quality) {
    const { generated: g, real } = r.quality;
    rows.push(
      ["FID-MNIST", g.fid.toFixed(2), real.fid.toFixed(2)],
      ["mean confidence", g.meanConfidence.toFixed(3), real.meanConfidence.toFixed(3)],
      [
        "share with confidence > 0.9",
        g.confidentFraction.toFixed(3),
        real.confidentFraction.toFixed(3),
      ],
      [
        "class entropy (nats, ln10 = 2.303)",
        g.classEntropy.toFixed(3),
        real.classEntropy.toFixed(3),
      ],
    );
    if (g.conditional) rows.push(["conditional accuracy", g.conditional.accuracy.toFixed(3), ""]);
  }
  const w = [36, 16, 16];
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i])).join(" ");
  return [line(["", "model", "real held-out"]), ...rows.map(line)].join("\n");
}
