// `deno task eval`: the command line of `evaluate()` (src/eval/evaluate.ts): parses the flags,
// evaluates, prints the table; eval.json, report.md and its pictures go to --out.
//
//   deno task eval [--checkpoint FILE] [--data mnist|<folder>] [--n 128] [--sampler ddim]
//                  [--steps 50] [--eta 0] [--bpd-images 64] [--strata 32] [--out out/eval] ...
import { parseArgs } from "node:util";
import { initBackend } from "../backend.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { SAMPLER_NAMES } from "../samplers.ts";
import { evaluate } from "../eval/evaluate.ts";
import { _evalTable } from "../_eval_report.ts";
import { _duration } from "../_progress.ts";
import {
  _backendArg,
  _choiceArg,
  _cliArgs,
  _guidanceArg,
  _guidanceIntervalArg,
  _intArg,
  _nonNegativeArg,
  _orderArg,
  _run,
  _selfCheckArg,
  _spacingArg,
} from "./_args.ts";
import type { VarianceKind } from "../types.ts";

const HELP = `Evaluate a DDPM checkpoint: NLL (bits/dim) and, for MNIST, sample quality.

Options:
  --checkpoint FILE   checkpoint (EMA weights are used)          [the bundled MNIST model]
  --data mnist|DIR    held-out images: MNIST's test split, or a folder of PNG/JPEG [mnist]
  --n N               samples to draw and score                                    [128]
  --sampler NAME      ddpm, ddim or dpm++, for the scored samples
                                      [the checkpoint's recommended sampler, else ddim]
  --steps N           sampler steps (model calls)  [the checkpoint's recommended count for
                      its sampler, else ddpm, ddim: 50; dpm++: 20]
  --order K           DPM-Solver++ order 1, 2 or 3                                   [2]
  --spacing KIND      ddim, logsnr, karras, linspace, trailing or even [the sampler's]
  --eta X             DDIM η (0: deterministic, 1: DDPM-like noise; ddim only)
                                                   [the checkpoint's recommended η, else 0]
  --bpd-images N      held-out images in the bound (evenly spaced over the set)     [64]
  --strata K          timestep strata of the bound (K + 1 model calls per image;
                      K ≥ T - 1 computes every term exactly)                        [32]
  --variance NAME     reverse variance for the bound: fixedLarge or fixedSmall (a model
                      that learns its variance uses it)
                                                                            [fixedLarge]
  --classifier FILE   digit classifier for FID-MNIST                 [the shipped one]
  --guidance W        conditional checkpoints: the guidance scale of the scored
                      samples (image i of class i mod 10)
                                          [the checkpoint's recommended scale, else 1]
  --guidance-interval LO,HI  conditional checkpoints: apply the guidance (at every scale)
                      only at timesteps LO..HI, the conditional model elsewhere; "all"
                      for every step        [the checkpoint's recommended interval, else all]
  --sweep LIST        conditional checkpoints: also score samples at each of these
                      guidance scales (FID, confidence, conditional accuracy);
                      "none" to skip                                       [0,1,2,3,5]
  --self-check none   conditional checkpoints that recommend a self-check: "none" scores
                      the samples without it                          [the checkpoint's]
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
      sampler: { type: "string" },
      steps: { type: "string" },
      order: { type: "string", default: "2" },
      spacing: { type: "string" },
      eta: { type: "string" },
      "bpd-images": { type: "string", default: "64" },
      strata: { type: "string", default: "32" },
      variance: { type: "string" },
      classifier: { type: "string" },
      guidance: { type: "string" },
      "guidance-interval": { type: "string" },
      sweep: { type: "string", default: "0,1,2,3,5" },
      seed: { type: "string", default: "0" },
      "self-check": { type: "string" },
      out: { type: "string", default: "out/eval" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  const sampler = a.sampler === undefined
    ? undefined
    : _choiceArg("sampler", a.sampler, SAMPLER_NAMES);
  const variance: VarianceKind | undefined = a.variance === undefined
    ? undefined
    : _choiceArg("variance", a.variance, ["fixedLarge", "fixedSmall"] as const);
  const checkpoint = a.checkpoint ?? BUNDLED_MNIST_CHECKPOINT;
  await initBackend(_backendArg(a.backend));
  // the flags that depend on the checkpoint, checked against it first
  const { config } = await loadCheckpoint(checkpoint);
  const guidance = _guidanceArg(a.guidance, config);
  const interval = _guidanceIntervalArg(a["guidance-interval"], config);
  const { imageSize: size, inChannels: C } = config.unet;
  const results = await evaluate({
    checkpoint,
    data: a.data === "mnist"
      ? undefined
      : await loadImageFolder(a.data, { size, channels: C as 1 | 3 }),
    n: _intArg("n", a.n, 2),
    sampler,
    steps: a.steps === undefined ? undefined : _intArg("steps", a.steps, 1),
    order: _orderArg(a.order),
    spacing: _spacingArg(a.spacing),
    eta: a.eta === undefined ? undefined : _nonNegativeArg("eta", a.eta),
    bpdImages: _intArg("bpd-images", a["bpd-images"], 1),
    strata: _intArg("strata", a.strata, 1),
    variance,
    classifier: a.classifier,
    guidance,
    ...(guidance === undefined ? {} : { guidanceInterval: interval ?? "all" as const }),
    sweep: guidance === undefined || a.sweep === "none"
      ? []
      : a.sweep.split(",").map((v) => _nonNegativeArg("sweep", v.trim())),
    seed: _intArg("seed", a.seed, 0),
    selfCheck: _selfCheckArg(a["self-check"], config) !== undefined,
    outDir: a.out,
    onNote: (line) => console.log(line),
  });
  console.log(_evalTable(results));
  console.log(
    `wrote ${a.out}/eval.json, report.md, samples.png, neighbours.png, bpd_terms.svg, ` +
      `loss_by_t.svg (${_duration(results.seconds)} in all)`,
  );
});
