// Internal: the report of `evaluate()` (markdown, charts, the terminal table), from its results.
import type { SampleQuality } from "./eval/sample_quality.ts";
import type { TrainState } from "./io/checkpoint.ts";
import type { BpdEstimate } from "./eval/bpd_estimate.ts";
import { chartSvg } from "./io/chart_svg.ts";
import { _intervalText } from "./_guidance.ts";
import type { SelfCheck, SelfCheckTally } from "./self_check.ts";
// deno-lint-ignore no-unused-vars
import type { evaluate } from "./eval/evaluate.ts";

/** Everything {@linkcode evaluate} measured; also written as eval.json. */
export interface EvalResults {
  /** The checkpoint's path, or "bundled mnist". */
  checkpoint: string;
  /** The checkpoint's training state (step, loss…), when it has one. */
  trainState?: TrainState;
  /** The tfjs backend of the evaluation. */
  backend: string;
  /** Where the held-out images came from. */
  data: string;
  /**
   * The NLL bound in bits/dim: its mean and standard error over `images` held-out images,
   * `strata` timestep strata of the T terms, the prior and decoder terms, each stratum's terms
   * (and the held-out ε-loss there), and the seconds it took.
   */
  bpd: {
    mean: number;
    stdError: number;
    images: number;
    strata: number;
    T: number;
    variance: string;
    priorBpd: number;
    decoderBpd: number;
    terms: {
      from: number;
      to: number;
      meanT: number;
      termBpd: number;
      contributionBpd: number;
      epsMse: number;
    }[];
    seconds: number;
  };
  /** How the scored samples were drawn, and the seconds it took. */
  sampling: {
    n: number;
    sampler: string;
    steps: number;
    /** DDIM η (ddim only). */
    eta?: number;
    /** DPM-Solver++'s order (dpm++ only). */
    order?: number;
    /** Conditional checkpoints: the guidance scale and which classes were asked for. */
    guidance?: number;
    classes?: string;
    /** The model timesteps where the guidance applied (absent: every step). */
    guidanceInterval?: [number, number];
    /**
     * The self-check of the scored samples: its timesteps and rounds, the draws made again and
     * the samples the class network still guessed as another class.
     */
    selfCheck?: SelfCheck & SelfCheckTally;
    seed: number;
    seconds: number;
  };
  /**
   * 28×28×1 models: the samples' FID-MNIST, confidence and class entropy (and, conditional,
   * accuracy: the samples' for the class asked for, the real digits' for their labels, where the
   * held-out data has labels), beside the same for n real held-out digits, against a reference of
   * `referenceSize` held-out digits; the classifier's own held-out accuracy.
   */
  quality?: {
    generated: SampleQuality;
    real: SampleQuality;
    referenceSize: number;
    classifierAccuracy: number;
  };
  /** Pixel-space distance of each of the first samples to its nearest training image. */
  neighbours: number[];
  /** Conditional checkpoints: the scored samples at each guidance scale of the sweep. */
  guidanceSweep?: {
    guidance: number;
    fid: number;
    meanConfidence: number;
    confidentFraction: number;
    classEntropy: number;
    accuracy: number;
    seconds: number;
  }[];
  /** Seconds in all. */
  seconds: number;
}

/**
 * The bound as "mean ± standard error"; with one image the error is unknown (no spread to
 * measure), and says so instead of "± NaN".
 */
export function _boundText(mean: number, stdError: number): string {
  return Number.isFinite(stdError)
    ? `${mean.toFixed(3)} ± ${stdError.toFixed(3)}`
    : `${mean.toFixed(3)} (standard error unknown: one image)`;
}

/** The report: headline table, method notes, the pictures and the per-stratum terms. */
export function _evalReport(r: EvalResults): string {
  const f = (v: number, d = 3) => v.toFixed(d);
  const step = r.trainState ? ` (training step ${r.trainState.step})` : "";
  const lines = [
    `# Evaluation of ${r.checkpoint}${step}`,
    "",
    `Backend ${r.backend}; held-out data: ${r.data}; ${f(r.seconds, 0)} s in all.`,
    "",
    "| measure | model | real held-out digits |",
    "|---|---|---|",
    `| NLL bound, bits/dim (± standard error) | ${_boundText(r.bpd.mean, r.bpd.stdError)} | |`,
  ];
  if (r.quality) {
    const { generated: g, real } = r.quality;
    lines.push(
      `| FID-MNIST (classifier features, n = ${g.n} vs ${r.quality.referenceSize}) | ${
        f(g.fid, 2)
      } | ${f(real.fid, 2)} |`,
      `| mean top-class confidence | ${f(g.meanConfidence)} | ${f(real.meanConfidence)} |`,
      `| share classified with confidence > 0.9 | ${f(g.confidentFraction)} | ${
        f(real.confidentFraction)
      } |`,
      `| entropy of predicted classes, nats (ln 10 = 2.303) | ${f(g.classEntropy)} | ${
        f(real.classEntropy)
      } |`,
      `| predicted digits 0–9 | ${g.classCounts.join(" ")} | ${real.classCounts.join(" ")} |`,
    );
    if (g.conditional) {
      lines.push(
        `| conditional accuracy (classified as the class asked for; real: as labelled) | ${
          f(g.conditional.accuracy)
        } | ${real.conditional ? f(real.conditional.accuracy) : ""} |`,
        `| per class 0–9 | ${g.conditional.perClass.map((v) => f(v, 2)).join(" ")} | ${
          real.conditional ? real.conditional.perClass.map((v) => f(v, 2)).join(" ") : ""
        } |`,
      );
    }
  }
  if (r.guidanceSweep) {
    lines.push(
      "",
      "## Guidance trade-off",
      "",
      `The same seed and classes (image i: class i mod 10) at each guidance scale w ` +
        `(ε̃ = ε(x, ∅) + w·(ε(x, y) − ε(x, ∅))${
          r.sampling.guidanceInterval
            ? ` at t ∈ [${r.sampling.guidanceInterval.join(", ")}], the conditional model elsewhere`
            : ""
        }; w = 0 is the unconditional model, whose accuracy is chance's${
          r.sampling.selfCheck ? "; the self-check at every w > 0" : ""
        }).`,
      "",
      "| w | FID-MNIST | mean confidence | share > 0.9 | conditional accuracy | seconds |",
      "|---|---|---|---|---|---|",
      ...r.guidanceSweep.map((s) =>
        `| ${s.guidance} | ${f(s.fid, 2)} | ${f(s.meanConfidence)} | ${f(s.confidentFraction)} | ${
          f(s.accuracy)
        } | ${f(s.seconds, 0)} |`
      ),
      "",
      "![guidance and FID](guidance_fid.svg)",
      "",
      "![guidance and accuracy](guidance_accuracy.svg)",
    );
  }
  lines.push(
    "",
    "## How it was measured",
    "",
    `- **NLL**: the variational bound L_T + Σ L_t + L_0 of Ho et al. (2020, eq. 5) with the ` +
      `discretized Gaussian decoder, in bits/dim, on ${r.bpd.images} held-out images put on ` +
      `the 8-bit grid; T = ${r.bpd.T}, reverse variance ${r.bpd.variance}. L_T ` +
      `(${f(r.bpd.priorBpd, 6)}) and L_0 (${f(r.bpd.decoderBpd)}) exactly; the ${
        r.bpd.T - 1
      } terms t ≥ 1 by ${r.bpd.strata} strata (narrow at small t), one random t per ` +
      `stratum and image, weighted by the stratum's width — unbiased; the ± is the standard ` +
      `error over images (${f(r.bpd.seconds, 0)} s).`,
    `- **Samples**: ${r.sampling.n} images, ${r.sampling.sampler} with ${r.sampling.steps} ` +
      `steps${r.sampling.eta ? ` (η = ${r.sampling.eta})` : ""}${
        r.sampling.order ? ` (order ${r.sampling.order})` : ""
      }${
        r.sampling.guidance !== undefined
          ? `, guidance ${r.sampling.guidance}${
            _intervalText(r.sampling.guidanceInterval)
          } (${r.sampling.classes})${
            r.sampling.selfCheck
              ? `, self-checked by the class network at t ∈ {${
                r.sampling.selfCheck.timesteps.join(", ")
              }} (${r.sampling.selfCheck.redrawn} draws again, ${r.sampling.selfCheck.stillOther} still guessed another class)`
              : ""
          }`
          : ""
      }, seed ${r.sampling.seed} ` +
      `(${f(r.sampling.seconds, 0)} s).`,
  );
  if (r.quality) {
    lines.push(
      `- **FID-MNIST**: squared Fréchet distance between Gaussians fitted to the 64 ` +
        `penultimate features of this project's digit classifier (test accuracy ${
          f(100 * r.quality.classifierAccuracy, 2)
        }%, trained on the train split only): samples vs ${r.quality.referenceSize} ` +
        `held-out digits (even positions). "Real held-out digits" are ${r.quality.real.n} ` +
        `other held-out digits (odd positions) scored the same way: the ceiling at this n ` +
        `(finite n biases FID upward).`,
    );
  }
  lines.push(
    "",
    "## Samples",
    "",
    "![samples](samples.png)",
    "",
    "## Nearest training images",
    "",
    "Each row: a sample, then its 3 nearest training digits in pixel space (L2). " +
      `Distances to the nearest: ${r.neighbours.map((d) => f(d, 1)).join(", ")}.`,
    "",
    "![neighbours](neighbours.png)",
    "",
    "## Bound terms and training loss by timestep",
    "",
    "![bpd terms](bpd_terms.svg)",
    "",
    "![loss by t](loss_by_t.svg)",
    "",
    "| t from | t to | mean term (bits/dim) | contribution (bits/dim) | ε-MSE |",
    "|---|---|---|---|---|",
    `| 0 | 1 | ${f(r.bpd.decoderBpd, 4)} (L_0) | ${f(r.bpd.decoderBpd, 4)} | |`,
    ...r.bpd.terms.map((t) =>
      `| ${t.from} | ${t.to} | ${t.termBpd.toExponential(3)} | ${f(t.contributionBpd, 4)} | ${
        f(t.epsMse, 4)
      } |`
    ),
    "",
  );
  return lines.join("\n");
}

/**
 * The report's charts: the bound's terms and the held-out ε-loss by t (per image and stratum
 * means, log–log), and with a guidance sweep its FID and accuracy against the scale.
 */
export function _evalCharts(r: EvalResults, bpd: BpdEstimate): Record<string, string> {
  const byT = (ys: Float64Array[], pick: (t: EvalResults["bpd"]["terms"][0]) => number) => [
    {
      points: ys.flatMap((y, k) => Array.from(y, (v, i) => [bpd.t[k][i], v] as [number, number])),
      label: "per image",
      kind: "dots" as const,
      color: "#9ab",
    },
    {
      points: r.bpd.terms.map((t) => [t.meanT, pick(t)] as [number, number]),
      label: "stratum mean",
    },
  ];
  const logLog = { xLabel: "t", logX: true, logY: true };
  const charts: Record<string, string> = {
    "bpd_terms.svg": chartSvg(byT(bpd.termsBpd, (t) => t.termBpd), {
      ...logLog,
      title: "Bound terms L_t by timestep",
      yLabel: "bits/dim",
    }),
    "loss_by_t.svg": chartSvg(byT(bpd.epsMse, (t) => t.epsMse), {
      ...logLog,
      title: "Training loss ‖ε_θ - ε‖² / D by timestep (held-out)",
      yLabel: "loss",
    }),
  };
  const sweep = r.guidanceSweep ?? [];
  if (sweep.length > 0) {
    const at = (pick: (row: typeof sweep[0]) => number) =>
      sweep.map((row) => [row.guidance, pick(row)] as [number, number]);
    charts["guidance_fid.svg"] = chartSvg([{ points: at((row) => row.fid), label: "FID-MNIST" }], {
      title: "Guidance trade-off: FID-MNIST",
      xLabel: "guidance scale w",
      yLabel: "FID-MNIST",
    });
    charts["guidance_accuracy.svg"] = chartSvg([
      { points: at((row) => row.accuracy), label: "conditional accuracy" },
      { points: at((row) => row.confidentFraction), label: "share with confidence > 0.9" },
    ], { title: "Guidance trade-off: accuracy", xLabel: "guidance scale w", yLabel: "share" });
  }
  return charts;
}

/** The headline numbers as a terminal table: the model beside real held-out digits. */
export function _evalTable(r: EvalResults): string {
  const rows: [string, string, string][] = [
    ["NLL bound (bits/dim)", _boundText(r.bpd.mean, r.bpd.stdError), ""],
  ];
  if (r.quality) {
    const { generated: g, real } = r.quality;
    const pair = (label: string, pick: (q: SampleQuality) => number, digits: number) =>
      rows.push([label, pick(g).toFixed(digits), pick(real).toFixed(digits)]);
    pair("FID-MNIST", (q) => q.fid, 2);
    pair("mean confidence", (q) => q.meanConfidence, 3);
    pair("share with confidence > 0.9", (q) => q.confidentFraction, 3);
    pair("class entropy (nats, ln10 = 2.303)", (q) => q.classEntropy, 3);
    if (g.conditional) {
      rows.push([
        "conditional accuracy",
        g.conditional.accuracy.toFixed(3),
        real.conditional?.accuracy.toFixed(3) ?? "",
      ]);
    }
  }
  const w = [36, 16, 16];
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i])).join(" ");
  return [line(["", "model", "real held-out"]), ...rows.map(line)].join("\n");
}
