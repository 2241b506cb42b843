// `deno task bench:samplers`: sample quality against model calls for every sampler on a checkpoint
// (default: the bundled MNIST model) — FID-MNIST, classifier confidence and the share above 0.9
// of n samples (same seed), and the seconds per image on this machine. Writes
// bench/sampler_quality.{json,md,svg}. The quality runs use every worker; the seconds come from a
// separate pass on one worker (`--time-images` per row, timed from its first step to its last, so
// the worker's start and the checkpoint load are left out). `--timing-only` keeps the quality
// columns of an earlier run's JSON and measures the seconds again (for a machine left idle).
//
//   deno task bench:samplers [--checkpoint FILE] [--n 128] [--workers N] [--out bench]
//                            [--time-images 8] [--timing-only] [--only ddim@50,dpm++@20,…]
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../src/io/bundled.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { loadMnistClassifier } from "../src/eval/classifier_weights.ts";
import { classifierOutputs, sampleQuality } from "../src/eval/sample_quality.ts";
import { featureStats } from "../src/eval/frechet_distance.ts";
import { CLASSIFIER_FEATURES } from "../src/eval/classifier.ts";
import { chartSvg } from "../src/io/chart_svg.ts";
import { _atomicWrite } from "../src/_atomic_write.ts";
import { _batch } from "../src/_batches.ts";
import { _defaultWorkers, _shardCuts } from "../src/_shards.ts";
import { _checkpointHref, _joinShards, _runShardInWorker } from "../src/_sample_shard.ts";
import type { SamplerName } from "../src/samplers.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    checkpoint: { type: "string" },
    n: { type: "string", default: "128" },
    workers: { type: "string" },
    out: { type: "string", default: "bench" },
    only: { type: "string" },
    "time-images": { type: "string", default: "8" },
    "timing-only": { type: "boolean", default: false },
  },
});
const n = Number(a.n);
const timeImages = Number(a["time-images"]);
const info = await initBackend("wasm");
const workers = a.workers ? Number(a.workers) : _defaultWorkers(info.backend, n);
const source = a.checkpoint ?? BUNDLED_MNIST_CHECKPOINT;
const { classifier } = await loadMnistClassifier();
const held = loadMnist({ split: "test" });
const even = Array.from({ length: held.shape[0] }, (_, i) => i).filter((i) => i % 2 === 0);
const refImages = _batch(held, even);
const reference = featureStats(
  (await classifierOutputs(classifier, refImages)).features,
  CLASSIFIER_FEATURES,
);
refImages.dispose();
// real digits scored the same way: the other held-out half, as many as the rows' n where it can,
// spread evenly over it (the held-out digits are ordered by class)
const others = Array.from({ length: held.shape[0] }, (_, i) => i).filter((i) => i % 2 === 1);
const odd = Array.from(
  { length: Math.min(n, others.length) },
  (_, i) => others[Math.floor(i * others.length / Math.min(n, others.length))],
);
const realImages = _batch(held, odd);
const realFid = (await sampleQuality(classifier, realImages, reference)).fid;
realImages.dispose();

type Run = { sampler: SamplerName; steps: number; order?: 1 | 2 | 3; label: string };
const runs: Run[] = [
  ...[10, 15, 20, 25].map((steps) => ({
    sampler: "dpm++" as const,
    steps,
    order: 2 as const,
    label: "DPM-Solver++ 2M",
  })),
  ...[10, 15, 20, 25].map((steps) => ({
    sampler: "dpm++" as const,
    steps,
    order: 3 as const,
    label: "DPM-Solver++ 3M",
  })),
  ...[25, 50, 100].map((steps) => ({ sampler: "ddim" as const, steps, label: "DDIM (η = 0)" })),
  { sampler: "ddpm" as const, steps: 250, label: "DDPM" },
].filter((r) =>
  !a.only ||
  a.only.split(",").some((o) => o === r.sampler || o === `${r.sampler}@${r.steps}`)
);

/** Seconds per image of DDIM-50 over this row's, as "2.5×" (blank until both are timed). */
function speedUp(r: Row): string {
  const baseRow = rows.find((b) => b.sampler === "ddim" && b.steps === 50);
  if (!baseRow || !(r.secondsPerImage > 0) || !(baseRow.secondsPerImage > 0)) return "";
  return `${(baseRow.secondsPerImage / r.secondsPerImage).toFixed(1)}×`;
}

/** Writes the table, JSON and chart of the rows so far (after every row: a stopped run keeps them). */
function writeOutputs(): void {
  const md = [
    `# Sample quality against model calls`,
    "",
    `Checkpoint ${
      source instanceof URL ? "bundled mnist" : source
    }; ${n} samples per row (seed 0), ` +
    `scored by this project's digit classifier against ${even.length} held-out digits (FID-MNIST; ` +
    `${odd.length} other real held-out digits score ${realFid.toFixed(2)}). Seconds per image: ` +
    `one core of this machine ` +
    `(wasm, one worker, ${timeImages} images per row, from the first step to the last), and the ` +
    `speed-up against DDIM with 50 steps measured in the same pass.`,
    "",
    "| sampler | model calls | FID-MNIST | mean confidence | share > 0.9 | s / image | speed-up vs DDIM-50 |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.label} | ${r.steps} | ${r.fid.toFixed(2)} | ${r.confidence.toFixed(3)} | ${
        (100 * r.confident).toFixed(0)
      }% | ${r.secondsPerImage > 0 ? r.secondsPerImage.toFixed(2) : ""} | ${speedUp(r)} |`
    ),
    "",
    "![FID-MNIST against model calls](sampler_quality.svg)",
    "",
  ].join("\n");
  _atomicWrite(`${a.out}/sampler_quality.md`, md);
  _atomicWrite(`${a.out}/sampler_quality.json`, JSON.stringify(rows, null, 2) + "\n");
  const labels = [...new Set(rows.map((r) => r.label))];
  _atomicWrite(
    `${a.out}/sampler_quality.svg`,
    chartSvg(
      labels.map((label) => ({
        label,
        points: rows.filter((r) => r.label === label).map((r) =>
          [r.steps, r.fid] as [number, number]
        ),
        kind: rows.filter((r) => r.label === label).length === 1 ? "dots" as const : undefined,
      })),
      {
        title: "FID-MNIST against model calls",
        xLabel: "model calls",
        yLabel: "FID-MNIST",
        logX: true,
      },
    ),
  );
  // formatted as the repository's files are (deno fmt --check passes on them)
  new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", ...["md", "json", "svg"].map((e) => `${a.out}/sampler_quality.${e}`)],
  }).outputSync();
}

/** The shard job of rows [start, start + count) of a batch of `of` for one run (seed 0, η 0). */
function shardJob(run: Run, start: number, count: number, of: number) {
  return {
    checkpoint: _checkpointHref(source),
    sampler: run.sampler,
    steps: run.steps,
    order: run.order,
    eta: 0,
    seed: 0,
    start,
    count,
    of,
    snapAt: [],
    show: 0,
  };
}

/**
 * Seconds per image of one run on one worker: `timeImages` images, timed from the first step's
 * message to the result (the first step's own time is scaled in), so the worker's start-up and
 * the checkpoint load are not counted.
 */
async function secondsPerImage(run: Run): Promise<number> {
  let first = 0, stepsSeen = 0;
  await _runShardInWorker(
    shardJob(run, 0, timeImages, timeImages),
    "wasm",
    () => {
      if (stepsSeen++ === 0) first = performance.now();
    },
  );
  const seconds = (performance.now() - first) / 1000;
  return seconds * stepsSeen / Math.max(stepsSeen - 1, 1) / timeImages;
}

type Row = Run & { fid: number; confidence: number; confident: number; secondsPerImage: number };
const rows: Row[] = [];
if (a["timing-only"]) {
  const earlier: Row[] = JSON.parse(Deno.readTextFileSync(`${a.out}/sampler_quality.json`));
  rows.push(...earlier.filter((r) => runs.some((q) => q.label === r.label && q.steps === r.steps)));
} else {
  const cuts = _shardCuts(n, workers);
  for (const run of runs) {
    const parts = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        _runShardInWorker(
          shardJob(run, cuts[w], cuts[w + 1] - cuts[w], n),
          "wasm",
          () => {},
        ).then((r) => r.samples)),
    );
    const x = _joinShards(parts, cuts, [28, 28, 1]);
    const q = await sampleQuality(classifier, x, reference);
    x.dispose();
    rows.push({
      ...run,
      fid: q.fid,
      confidence: q.meanConfidence,
      confident: q.confidentFraction,
      secondsPerImage: NaN,
    });
    writeOutputs();
    console.log(
      `${run.label} ${run.steps} calls: FID-MNIST ${q.fid.toFixed(2)}, confidence ${
        q.meanConfidence.toFixed(3)
      }, > 0.9 ${(100 * q.confidentFraction).toFixed(0)}%`,
    );
  }
}
for (const row of rows) {
  row.secondsPerImage = await secondsPerImage(row);
  writeOutputs();
  console.log(
    `${row.label} ${row.steps} calls: ${row.secondsPerImage.toFixed(2)} s/image (one core)`,
  );
}
classifier.dispose();
void tf;

console.log(`wrote ${a.out}/sampler_quality.md, .json, .svg`);
