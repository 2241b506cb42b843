import { _escape, _num } from "./chart_svg.ts";

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
 * Draws a loss curve as an SVG picture: the raw losses in light grey, an exponential moving
 * average (weight 0.98, bias-corrected) in blue, on a log₁₀ y axis with gridlines.
 *
 * @param points `[step, loss]` pairs in step order; non-finite or non-positive losses are skipped.
 * @param options `{ title, width, height }`.
 * @returns The SVG document.
 *
 * @example
 * ```ts
 * import { lossCurveSvg } from "@ddpm/core";
 * const svg = lossCurveSvg([[1, 1], [2, 0.5], [3, 0.25]]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lossCurveSvg(points: [number, number][], options: LossCurveOptions = {}): string {
  const W = options.width ?? 720, H = options.height ?? 400;
  const m = { l: 64, r: 16, t: 36, b: 44 };
  const pts = points.filter(([, l]) => Number.isFinite(l) && l > 0);
  const title = _escape(options.title ?? "Training loss");
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">` +
    `<rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`;
  if (pts.length === 0) {
    return `${head}<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>\n`;
  }
  // smoothed: s_k = (β s_{k-1} + (1 - β) l_k), reported as s_k / (1 - β^k)
  const beta = 0.98;
  let acc = 0;
  const smooth = pts.map(([, l], k) => (acc = beta * acc + (1 - beta) * l) / (1 - beta ** (k + 1)));
  const logs = pts.map(([, l]) => Math.log10(l));
  let [y0, y1] = [Math.floor(Math.min(...logs) * 2) / 2, Math.ceil(Math.max(...logs) * 2) / 2];
  if (y1 <= y0) y1 = y0 + 0.5;
  const [x0, x1] = [pts[0][0], Math.max(pts[pts.length - 1][0], pts[0][0] + 1)];
  const X = (s: number) => m.l + (s - x0) / (x1 - x0) * (W - m.l - m.r);
  const Y = (l: number) => m.t + (1 - (Math.log10(l) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const path = (ys: number[]) =>
    ys.map((l, k) => `${k ? "L" : "M"}${X(pts[k][0]).toFixed(1)},${Y(l).toFixed(1)}`).join("");
  let grid = "";
  for (let e = y0; e <= y1 + 1e-9; e += 0.5) {
    const y = Y(10 ** e).toFixed(1);
    grid += `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
      `<text x="${m.l - 6}" y="${y}" text-anchor="end" dy="4">${_num(10 ** e)}</text>`;
  }
  for (let k = 0; k <= 5; k++) {
    const s = x0 + (x1 - x0) * k / 5, x = X(s).toFixed(1);
    grid += `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>` +
      `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${Math.round(s)}</text>`;
  }
  return head + grid +
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" ` +
    `fill="none" stroke="#888"/>` +
    `<path d="${path(pts.map(([, l]) => l))}" fill="none" stroke="#bbb" stroke-width="1"/>` +
    `<path d="${path(smooth)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>` +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">step</text>` +
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">` +
    `loss (log scale)</text></svg>\n`;
}
