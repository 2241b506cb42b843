// `deno task bench:conditional`: what makes class-conditional training converge fastest, at an
// equal budget. Each variant trains a small class-conditional U-Net on the built-in digits from the
// same seed, with the same number of training images (steps × batch) and the same learning-rate
// shape (warm-up, then a linear decay to 0), changing one thing against the base run: min-SNR-γ
// weighting (Hang et al. 2023), the batch size, the learning rate, or the class dropout. Each run's
// EMA weights are evaluated with `evaluate()`: the NLL bound on held-out digits (independent of the
// loss weighting) and DDIM samples at guidance 0, 1 and 2 scored by the digit classifier
// (FID-MNIST, accuracy as asked, confidence). Writes README.md (the table), results.json, a chart
// and each evaluation's report under --out.
//
// The runs live in --runs/<budget>/<variant>: a comparison stopped with Ctrl-C (the run in
// progress writes its checkpoint) or killed continues where it stopped when the same command is run
// again, and runs already trained and evaluated are not redone, so a large budget can be spread
// over several sittings.
//
//   deno task bench:conditional [--budget 96000] [--n 128] [--steps 20] [--bpd-images 32]
//     [--strata 8] [--variants base,min-snr-5,...] [--workers 2] [--out bench/conditional]
//     [--runs out/bench-conditional]
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type EvalResults, evaluate, loadMnist, train } from "../fs.ts";
import { type Dataset, initBackend, type UNetConfig } from "../mod.ts";
import { _atomicWrite } from "../src/_atomic_write.ts";
import { _boundText } from "../src/_eval_report.ts";
import { _reportHead } from "./_report_head.ts";
import { chartSvg } from "../src/io/chart_svg.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "../src/cli/_args.ts";
import { _stopOnSignal } from "../src/cli/_stop_on_signal.ts";

/** The small conditional U-Net every variant trains (the mnist preset at half width, one block). */
const SMALL_UNET: UNetConfig = {
  imageSize: 28,
  inChannels: 1,
  ch: 16,
  chMult: [1, 2, 2],
  numResBlocks: 1,
  attnResolutions: [7],
  dropout: 0.1,
  groups: 8,
  numClasses: 10,
};

/** What one variant changes against the base run. */
interface Variant {
  batchSize: number;
  lr: number;
  classDropout: number;
  minSnrGamma?: number;
}

const BASE: Variant = { batchSize: 32, lr: 2e-4, classDropout: 0.1 };

/** The variants, each one change against BASE. */
const VARIANTS: Record<string, Variant> = {
  base: BASE,
  "min-snr-5": { ...BASE, minSnrGamma: 5 },
  "batch-16": { ...BASE, batchSize: 16 },
  "batch-64": { ...BASE, batchSize: 64 },
  "lr-1e-4": { ...BASE, lr: 1e-4 },
  "lr-5e-4": { ...BASE, lr: 5e-4 },
  "dropout-0.2": { ...BASE, classDropout: 0.2 },
};

/** Guidance scales every run is sampled at. */
const SWEEP = [0, 1, 2];

/** One trained variant and what its evaluation measured. */
interface Run {
  label: string;
  variant: Variant;
  steps: number;
  trainSeconds: number;
  finalLoss: number;
  eval: EvalResults;
}

function _variantsArg(s: string): string[] {
  const names = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  for (const name of names) {
    if (!(name in VARIANTS)) {
      throw new RangeError(
        `Cannot compare: --variants must name variants among ${
          Object.keys(VARIANTS).join(", ")
        }, got ${name}`,
      );
    }
  }
  if (names.length === 0) throw new RangeError(`Cannot compare: --variants is empty, got "${s}"`);
  return names;
}

/** The mean training loss over the last tenth of the run, and its seconds, from its log. */
function _fromLog(logPath: string): { finalLoss: number; trainSeconds: number } {
  const lines = readFileSync(logPath, "utf8").trim().split("\n").map((l) =>
    JSON.parse(l) as { loss: number; seconds: number }
  );
  const tail = lines.slice(-Math.max(1, Math.round(lines.length / 10)));
  return {
    finalLoss: tail.reduce((a, b) => a + b.loss, 0) / tail.length,
    trainSeconds: lines[lines.length - 1].seconds,
  };
}

/** A finished evaluation of this checkpoint at this step, from an earlier sitting. */
function _earlierEval(evalDir: string, checkpoint: string, step: number): EvalResults | undefined {
  const file = join(evalDir, "eval.json");
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, "utf8")) as EvalResults;
  return r.checkpoint === checkpoint && r.trainState?.step === step ? r : undefined;
}

async function _trainAndEval(
  data: Dataset,
  label: string,
  budget: number,
  o: { n: number; steps: number; bpdImages: number; strata: number; workers: number },
  runs: string,
  out: string,
  signal: AbortSignal,
): Promise<Run | undefined> {
  const v = VARIANTS[label];
  if (budget % v.batchSize !== 0) {
    throw new RangeError(
      `Cannot compare: --budget must be a multiple of every batch size (${v.batchSize} for ${label}), got ${budget}`,
    );
  }
  const steps = budget / v.batchSize;
  const outDir = join(runs, String(budget), label);
  console.log(`== ${label}: ${steps} steps × batch ${v.batchSize}, lr ${v.lr} (${outDir})`);
  const result = await train({
    data,
    unet: SMALL_UNET,
    steps,
    batchSize: v.batchSize,
    lr: v.lr,
    warmup: Math.max(1, Math.round(steps / 10)),
    lrDecay: "linear",
    // short runs: an EMA with a half-life of ~1/10 of the run
    emaDecay: Math.max(0.5, 1 - 7 / steps),
    classDropout: v.classDropout,
    ...(v.minSnrGamma !== undefined ? { minSnrGamma: v.minSnrGamma } : {}),
    seed: 0,
    workers: o.workers,
    sampleEvery: 0,
    checkpointEvery: Math.max(1, Math.round(steps / 20)),
    outDir,
    resume: "ifPresent",
    signal,
  });
  if (result.stopped) return undefined;
  const evalDir = join(out, label);
  const r = _earlierEval(evalDir, result.checkpoint, steps) ?? await evaluate({
    checkpoint: result.checkpoint,
    n: o.n,
    sampler: "ddim",
    steps: o.steps,
    bpdImages: o.bpdImages,
    strata: o.strata,
    guidance: 1,
    sweep: SWEEP,
    workers: o.workers,
    outDir: evalDir,
  });
  return { label, variant: v, steps, ..._fromLog(join(outDir, "log.jsonl")), eval: r };
}

function _at(r: EvalResults, w: number) {
  return r.guidanceSweep?.find((s) => s.guidance === w);
}

function _markdown(runs: Run[], budget: number, command: string): string {
  const f = (x: number | undefined, d: number) =>
    x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d);
  const pct = (x: number | undefined) => (x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
  const e0 = runs[0].eval;
  const real = e0.quality?.real;
  const lines = [
    ..._reportHead(
      "Class-conditional training: what converges fastest at an equal budget",
      command,
    ),
    `Each run trains a small class-conditional U-Net (ch ${SMALL_UNET.ch}, ` +
    `chMult [${SMALL_UNET.chMult}], ${SMALL_UNET.numResBlocks} block per level, attention at 7×7) on`,
    `the built-in digits from seed 0 on ${budget} training images (steps × batch), with a warm-up`,
    "over the first tenth and a linear decay of the learning rate to 0, and an EMA whose half-life is",
    "about a tenth of the run. Each changes one thing against `base` (batch 32, lr 2e-4, class",
    "dropout 0.1, plain L_simple). Evaluated with `evaluate()`: the NLL bound in bits/dim on",
    `${e0.bpd.images} held-out digits (${e0.bpd.strata} strata, ± standard error; it does not depend`,
    "on the loss weighting, so it compares min-SNR-γ fairly), and",
    `${e0.sampling.n} samples of ${e0.sampling.sampler}-${e0.sampling.steps} per guidance scale`,
    "(classes cycling 0–9), scored by the digit classifier: FID-MNIST against 500 held-out digits",
    `(real held-out digits at the same n: ${f(real?.fid, 1)}), the share the classifier assigns to`,
    "the class asked for (w ≥ 1), and the share with confidence > 0.9.",
    "",
    "| run | steps × batch | lr | class dropout | min-SNR γ | final loss | NLL bound, bits/dim | FID w = 0 | > 0.9 w = 0 | FID w = 1 | as asked w = 1 | FID w = 2 | as asked w = 2 | train s | report |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) => {
      const [s0, s1, s2] = SWEEP.map((w) => _at(r.eval, w));
      return `| ${r.label} | ${r.steps} × ${r.variant.batchSize} | ${r.variant.lr} | ` +
        `${r.variant.classDropout} | ${r.variant.minSnrGamma ?? "—"} | ${f(r.finalLoss, 4)} | ` +
        `${_boundText(r.eval.bpd.mean, r.eval.bpd.stdError)} | ` +
        `${f(s0?.fid, 1)} | ${pct(s0?.confidentFraction)} | ${f(s1?.fid, 1)} | ` +
        `${pct(s1?.accuracy)} | ${f(s2?.fid, 1)} | ${pct(s2?.accuracy)} | ` +
        `${f(r.trainSeconds, 0)} | [report](${r.label}/report.md) |`;
    }),
    "",
    "The final loss is the mean training loss over the last tenth of the steps; min-SNR-γ weights",
    "it, so it is not comparable with the others (the bound and FID are).",
    "",
    "![FID-MNIST by guidance scale](fid.svg)",
    "",
  ];
  return lines.join("\n");
}

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      budget: { type: "string", default: "96000" },
      n: { type: "string", default: "128" },
      steps: { type: "string", default: "20" },
      "bpd-images": { type: "string", default: "32" },
      strata: { type: "string", default: "8" },
      variants: { type: "string", default: Object.keys(VARIANTS).join(",") },
      workers: { type: "string", default: String(Math.min(2, cpus().length)) },
      out: { type: "string", default: "bench/conditional" },
      runs: { type: "string", default: "out/bench-conditional" },
      backend: { type: "string", default: "wasm" },
    },
  });
  const budget = _intArg("budget", a.budget, 64);
  const o = {
    n: _intArg("n", a.n, 2),
    steps: _intArg("steps", a.steps, 1),
    bpdImages: _intArg("bpd-images", a["bpd-images"], 1),
    strata: _intArg("strata", a.strata, 1),
    workers: _intArg("workers", a.workers, 1),
  };
  const labels = _variantsArg(a.variants!);
  await initBackend(_backendArg(a.backend));
  const stop = _stopOnSignal("the training step in progress");
  const data = loadMnist({ split: "train" });
  const runs: Run[] = [];
  for (const label of labels) {
    const run = await _trainAndEval(data, label, budget, o, a.runs!, a.out!, stop.signal);
    if (!run) {
      console.error(`stopped in ${label}: run the same command again to continue`);
      Deno.exit(stop.exitCode() ?? 1);
    }
    runs.push(run);
  }
  const command = "npx -y deno@2 task bench:conditional " + _cliArgs().join(" ");
  _atomicWrite(`${a.out}/README.md`, _markdown(runs, budget, command));
  _atomicWrite(
    `${a.out}/fid.svg`,
    chartSvg(
      runs.map((r) => ({
        label: r.label,
        points: SWEEP.map((w) => [w, _at(r.eval, w)?.fid ?? NaN] as [number, number]),
      })),
      { title: "FID-MNIST by guidance scale", xLabel: "guidance scale w", yLabel: "FID-MNIST" },
    ),
  );
  _atomicWrite(`${a.out}/results.json`, JSON.stringify({ budget, runs }, null, 2) + "\n");
  console.log(`wrote ${a.out}/README.md, fid.svg and results.json`);
});
