// Internal: the markdown report of `deno task eval`, from its results.
import type { SampleQuality } from "./sample_quality.ts";
import type { TrainState } from "../io/checkpoint.ts";

/** Everything `deno task eval` measured; also written as eval.json. */
export interface _EvalResults {
  checkpoint: string;
  trainState?: TrainState;
  backend: string;
  data: string;
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
  sampling: {
    n: number;
    sampler: string;
    steps: number;
    /** DDIM η (absent in reports written before it was an option: 0). */
    eta?: number;
    /** DPM-Solver++'s order (dpm++ only). */
    order?: number;
    /** Conditional checkpoints: the guidance scale and which classes were asked for. */
    guidance?: number;
    classes?: string;
    seed: number;
    seconds: number;
  };
  quality?: {
    generated: SampleQuality;
    real: SampleQuality;
    referenceSize: number;
    classifierAccuracy: number;
  };
  /** Pixel-space distance of each of the first samples to its nearest training image. */
  neighbours: number[];
  /** Conditional checkpoints: the scored samples at each guidance scale. */
  guidanceSweep?: {
    guidance: number;
    fid: number;
    meanConfidence: number;
    confidentFraction: number;
    classEntropy: number;
    accuracy: number;
    seconds: number;
  }[];
  seconds: number;
}

/** The report: headline table, method notes, the pictures and the per-stratum terms. */
export function _evalReport(r: _EvalResults): string {
  const f = (v: number, d = 3) => v.toFixed(d);
  const step = r.trainState ? ` (training step ${r.trainState.step})` : "";
  const lines = [
    `# Evaluation of ${r.checkpoint}${step}`,
    "",
    `Backend ${r.backend}; held-out data: ${r.data}; ${f(r.seconds, 0)} s in all.`,
    "",
    "| measure | model | real held-out digits |",
    "|---|---|---|",
    `| NLL bound, bits/dim (± standard error) | ${f(r.bpd.mean)} ± ${f(r.bpd.stdError)} | |`,
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
        `| conditional accuracy (classified as the class asked for) | ${
          f(g.conditional.accuracy)
        } | |`,
        `| per class 0–9 | ${g.conditional.perClass.map((v) => f(v, 2)).join(" ")} | |`,
      );
    }
  }
  if (r.guidanceSweep) {
    lines.push(
      "",
      "## Guidance trade-off",
      "",
      `The same seed and classes (image i: class i mod 10) at each guidance scale w ` +
        `(ε̃ = ε(x, ∅) + w·(ε(x, y) − ε(x, ∅)); w = 0 is the unconditional model, whose ` +
        `accuracy is chance's).`,
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
          ? `, guidance ${r.sampling.guidance} (${r.sampling.classes})`
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
