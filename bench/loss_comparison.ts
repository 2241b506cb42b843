// `deno task bench:losses`: Improved DDPM's comparison (Nichol & Dhariwal 2021, Table 1 and
// Fig. 8) on checkpoints trained here. Each run is evaluated with `evaluate()` (the NLL bound with
// the model's own reverse variance, FID-MNIST and the classifier's confidence of DDIM-50 samples),
// and one learned-variance run also samples with DDPM respaced to 50 and to 250 steps (the paper's
// claim: with learned variances, 50 steps come close to the full chain). Writes README.md (the
// tables), results.json and each evaluation's report under --out.
//
//   deno task bench:losses --run simple=out/iddpm-simple-lin/checkpoint.safetensors \
//     --run hybrid=out/iddpm-hybrid-lin/checkpoint.safetensors \
//     --run vlb=out/iddpm-vlb-lin/checkpoint.safetensors \
//     [--respaced hybrid] [--respaced-n 64] [--n 128] [--bpd-images 64] [--out bench/improved_ddpm]
import { parseArgs } from "node:util";
import { type EvalResults, evaluate } from "../fs.ts";
import { initBackend, loadCheckpoint } from "../mod.ts";
import { _atomicWrite } from "../src/_atomic_write.ts";
import { _boundText } from "../src/_eval_report.ts";
import { _reportHead } from "./_report_head.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "../src/cli/_args.ts";

/** One trained run and what its evaluation measured. */
interface Run {
  label: string;
  checkpoint: string;
  loss: string;
  variance: string;
  schedule: string;
  steps: number;
  batch: number;
  eval: EvalResults;
}

/** The respaced-DDPM comparison of one run. */
interface Respaced {
  label: string;
  n: number;
  bySteps: { steps: number; eval: EvalResults }[];
}

const RESPACED_STEPS = [50, 250];

/** "label=path" → [label, path]. */
function _runArg(s: string): [string, string] {
  const i = s.indexOf("=");
  if (i <= 0 || i === s.length - 1 || !/^[\w-]+$/.test(s.slice(0, i))) {
    throw new RangeError(
      `Cannot compare: --run must be LABEL=CHECKPOINT (LABEL in [A-Za-z0-9_-]), got ${s}`,
    );
  }
  return [s.slice(0, i), s.slice(i + 1)];
}

async function _evalRun(
  label: string,
  checkpoint: string,
  n: number,
  bpdImages: number,
  out: string,
): Promise<Run> {
  const ck = await loadCheckpoint(checkpoint);
  const train = (ck.config.train ?? {}) as { loss?: string; batchSize?: number };
  console.log(`== ${label}: ${checkpoint}`);
  const r = await evaluate({ checkpoint, n, bpdImages, outDir: `${out}/${label}` });
  return {
    label,
    checkpoint,
    loss: train.loss ?? "simple",
    variance: r.bpd.variance,
    schedule: ck.config.schedule.kind,
    steps: ck.state?.step ?? 0,
    batch: train.batchSize ?? 0,
    eval: r,
  };
}

async function _evalRespaced(run: Run, n: number, out: string): Promise<Respaced> {
  const bySteps = [];
  for (const steps of RESPACED_STEPS) {
    console.log(`== ${run.label}: DDPM respaced to ${steps} steps`);
    // the bound is not what this measures: one image, one stratum
    const r = await evaluate({
      checkpoint: run.checkpoint,
      n,
      sampler: "ddpm",
      steps,
      bpdImages: 1,
      strata: 1,
      outDir: `${out}/${run.label}-ddpm${steps}`,
    });
    bySteps.push({ steps, eval: r });
  }
  return { label: run.label, n, bySteps };
}

function _markdown(runs: Run[], respaced: Respaced | undefined, command: string): string {
  const f = (x: number | undefined, d: number) => (x === undefined ? "—" : x.toFixed(d));
  const base = runs[0].eval.bpd.mean;
  const q = (r: EvalResults) => r.quality?.generated;
  const real = runs[0].eval.quality?.real;
  const lines = [
    ..._reportHead("Improved DDPM on MNIST: losses and learned variances", command),
    "Runs of the `mnist` preset from the same seed and the same budget (`deno task train`, the",
    "commands in docs/evaluation.md), their EMA weights evaluated with `deno task eval`'s defaults: the NLL bound in",
    `bits/dim on ${runs[0].eval.bpd.images} held-out digits (${runs[0].eval.bpd.strata} strata;`,
    "± the standard error over images) with the model's own reverse variance, and",
    `${runs[0].eval.sampling.n} samples of ${runs[0].eval.sampling.sampler}-` +
    `${runs[0].eval.sampling.steps} scored by the digit classifier (FID-MNIST against 500 held-out`,
    `digits; real held-out digits at the same n: FID ${f(real?.fid, 1)}, mean confidence ` +
    `${f(real?.meanConfidence, 3)}, ${f(real && 100 * real.confidentFraction, 0)}% above 0.9).`,
    "Δ bound: against the first row.",
    "",
    "| run | loss | reverse variance | schedule | steps × batch | NLL bound, bits/dim | Δ bound | L_0 | FID-MNIST | mean confidence | > 0.9 | report |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) =>
      `| ${r.label} | ${r.loss} | ${r.variance} | ${r.schedule} | ${r.steps} × ${r.batch} | ` +
      `${_boundText(r.eval.bpd.mean, r.eval.bpd.stdError)} | ` +
      `${
        r === runs[0]
          ? "—"
          : (r.eval.bpd.mean - base >= 0 ? "+" : "") + f(r.eval.bpd.mean - base, 3)
      } | ` +
      `${f(r.eval.bpd.decoderBpd, 3)} | ${f(q(r.eval)?.fid, 1)} | ${
        f(q(r.eval)?.meanConfidence, 3)
      } | ` +
      `${f(q(r.eval) && 100 * q(r.eval)!.confidentFraction, 0)}% | [report](${r.label}/report.md) |`
    ),
    "",
    "L_0 is the decoder's term, in the bound; the loss `hybrid` is L_simple + 0.001·L_vlb with the",
    "mean's gradient stopped in L_vlb, `vlb` is L_vlb with importance-sampled timesteps.",
    "",
  ];
  if (respaced) {
    lines.push(
      `## DDPM with fewer steps: run ${respaced.label}`,
      "",
      `${respaced.n} samples of DDPM (ancestral sampling) respaced to each number of steps, with the model's`,
      "learned variance, scored as above (same seed).",
      "",
      "| steps | FID-MNIST | mean confidence | > 0.9 | samples |",
      "|---|---|---|---|---|",
      ...respaced.bySteps.map(({ steps, eval: r }) =>
        `| ${steps} | ${f(q(r)?.fid, 1)} | ${f(q(r)?.meanConfidence, 3)} | ` +
        `${f(q(r) && 100 * q(r)!.confidentFraction, 0)}% | ` +
        `[samples](${respaced.label}-ddpm${steps}/samples.png) |`
      ),
      "",
      `Real held-out digits at n = ${respaced.n}: FID ${
        f(respaced.bySteps[0].eval.quality?.real.fid, 1)
      }.`,
      "",
    );
  }
  return lines.join("\n");
}

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      run: { type: "string", multiple: true },
      n: { type: "string", default: "128" },
      respaced: { type: "string" },
      "respaced-n": { type: "string", default: "64" },
      "bpd-images": { type: "string", default: "64" },
      out: { type: "string", default: "bench/improved_ddpm" },
      backend: { type: "string", default: "wasm" },
    },
  });
  const pairs = (a.run ?? []).map(_runArg);
  if (pairs.length === 0) {
    throw new RangeError("Cannot compare: give at least one --run LABEL=CHECKPOINT, got none");
  }
  const n = _intArg("n", a.n, 2), respacedN = _intArg("respaced-n", a["respaced-n"], 2);
  const bpdImages = _intArg("bpd-images", a["bpd-images"], 1);
  await initBackend(_backendArg(a.backend));
  const runs: Run[] = [];
  for (const [label, path] of pairs) runs.push(await _evalRun(label, path, n, bpdImages, a.out!));
  const learned = runs.find((r) => r.label === a.respaced) ??
    (a.respaced === undefined ? runs.find((r) => r.variance.startsWith("learned")) : undefined);
  if (a.respaced !== undefined && !learned) {
    throw new RangeError(`Cannot compare: --respaced must name a --run, got ${a.respaced}`);
  }
  const respaced = learned ? await _evalRespaced(learned, respacedN, a.out!) : undefined;
  const command = "npx -y deno@2 task bench:losses " + _cliArgs().join(" ");
  _atomicWrite(`${a.out}/README.md`, _markdown(runs, respaced, command));
  _atomicWrite(
    `${a.out}/results.json`,
    JSON.stringify({ runs, respaced }, null, 2) + "\n",
  );
  console.log(`wrote ${a.out}/README.md and ${a.out}/results.json`);
});
