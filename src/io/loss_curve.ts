import { chartSvg } from "./chart_svg.ts";

/** Options of {@linkcode lossCurveSvg}. */
export interface LossCurveOptions {
  /** Picture title (default "Training loss"). */
  title?: string;
  /** Width and height in pixels (default 720 × 400). */
  width?: number;
  /** Height in pixels. */
  height?: number;
}

/**
 * Draws a loss curve as an SVG picture ({@linkcode chartSvg}): the raw losses in light grey, an
 * exponential moving average (weight 0.98, bias-corrected) in blue, on a log₁₀ y axis.
 *
 * @param points `[step, loss]` pairs in step order; non-finite or non-positive losses are skipped.
 * @param options `{ title, width, height }`.
 * @returns The SVG document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossCurveSvg } from "@ddpm/core";
 * const svg = lossCurveSvg([[1, 1], [2, 0.5], [3, 0.25]]);
 * assert.ok(svg.startsWith("<svg"));
 * ```
 */
export function lossCurveSvg(points: [number, number][], options: LossCurveOptions = {}): string {
  const pts = points.filter(([, l]) => Number.isFinite(l) && l > 0);
  // smoothed: s_k = β s_{k-1} + (1 - β) l_k, reported as s_k / (1 - β^k)
  const beta = 0.98;
  let acc = 0;
  const smooth = pts.map(([step, l], k): [number, number] => [
    step,
    (acc = beta * acc + (1 - beta) * l) / (1 - beta ** (k + 1)),
  ]);
  return chartSvg([
    { points: pts, label: "loss", color: "#bbb" },
    { points: smooth, label: `moving average (${beta})`, color: "#1f5fbf" },
  ], {
    title: options.title ?? "Training loss",
    xLabel: "step",
    yLabel: "loss",
    logY: true,
    width: options.width,
    height: options.height,
  });
}
