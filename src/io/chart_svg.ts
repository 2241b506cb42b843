/**
 * A small SVG chart of point series (dots or lines) on linear or log₁₀ axes, for reports.
 *
 * @module
 */

/** One series of a chart. */
export interface ChartSeries {
  /** `[x, y]` points; non-finite points (and y ≤ 0 on a log axis) are skipped. */
  points: [number, number][];
  /** Legend label. */
  label: string;
  /** "line" joins the points in order; "dots" draws each (default "line"). */
  kind?: "line" | "dots";
  /** CSS colour (default: a palette by position). */
  color?: string;
}

/** Options of {@linkcode chartSvg}. */
export interface ChartOptions {
  /** Picture title. */
  title: string;
  /** x-axis label. */
  xLabel: string;
  /** y-axis label. */
  yLabel: string;
  /** Log₁₀ y axis (default false). */
  logY?: boolean;
  /** Log₁₀ x axis (default false; x ≤ 0 is skipped). */
  logX?: boolean;
  /** Width in pixels (default 720). */
  width?: number;
  /** Height in pixels (default 400). */
  height?: number;
}

const _PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#868e96"];

/**
 * Draws series of points as an SVG chart with gridlines, axis labels and a legend.
 *
 * @param series The series to draw, back to front.
 * @param options `{ title, xLabel, yLabel, logY?, logX?, width?, height? }`.
 * @returns The SVG document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chartSvg } from "@ddpm/core";
 * const svg = chartSvg([{ points: [[1, 1], [2, 4], [3, 9]], label: "x²" }], {
 *   title: "Squares",
 *   xLabel: "x",
 *   yLabel: "x²",
 * });
 * assert.ok(svg.startsWith("<svg"));
 * ```
 */
export function chartSvg(series: ChartSeries[], options: ChartOptions): string {
  const W = options.width ?? 720, H = options.height ?? 400;
  const m = { l: 70, r: 16, t: 36, b: 44 };
  const fx = options.logX ? Math.log10 : (v: number) => v;
  const fy = options.logY ? Math.log10 : (v: number) => v;
  const ok = ([x, y]: [number, number]) => Number.isFinite(fx(x)) && Number.isFinite(fy(y));
  const kept = series.map((s) => s.points.filter(ok));
  const all = kept.flat();
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">` +
    `<rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${
      _escape(options.title)
    }</text>`;
  if (all.length === 0) {
    return `${head}<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>\n`;
  }
  const [xa, xb] = _range(all.map(([x]) => fx(x)), Boolean(options.logX));
  const [ya, yb] = _range(all.map(([, y]) => fy(y)), Boolean(options.logY));
  const X = (x: number) => m.l + (fx(x) - xa) / (xb - xa) * (W - m.l - m.r);
  const Y = (y: number) => m.t + (1 - (fy(y) - ya) / (yb - ya)) * (H - m.t - m.b);
  let body = "";
  for (
    const [u, isX] of [[_ticks(xa, xb, Boolean(options.logX)), true], [
      _ticks(ya, yb, Boolean(options.logY)),
      false,
    ]] as const
  ) {
    for (const v of u) {
      if (isX) {
        const x = X(v).toFixed(1);
        body += `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>` +
          `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${_num(v)}</text>`;
      } else {
        const y = Y(v).toFixed(1);
        body += `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
          `<text x="${m.l - 6}" y="${y}" text-anchor="end" dy="4">${_num(v)}</text>`;
      }
    }
  }
  body += `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" ` +
    `fill="none" stroke="#888"/>`;
  series.forEach((s, i) => {
    const color = s.color ?? _PALETTE[i % _PALETTE.length];
    const pts = kept[i];
    if (s.kind === "dots") {
      for (const [x, y] of pts) {
        body += `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2" fill="${color}" ` +
          `fill-opacity="0.5"/>`;
      }
    } else if (pts.length > 0) {
      const d = pts.map(([x, y], k) => `${k ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
      body += `<path d="${d.join("")}" fill="none" stroke="${color}" stroke-width="2"/>`;
    }
    const ly = m.t + 16 + 16 * i;
    body += `<rect x="${W - m.r - 180}" y="${ly - 9}" width="10" height="10" fill="${color}"/>` +
      `<text x="${W - m.r - 165}" y="${ly}">${_escape(s.label)}</text>`;
  });
  const scale = (log?: boolean) => (log ? " (log scale)" : "");
  return head + body +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${
      _escape(options.xLabel + scale(options.logX))
    }</text>` +
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">` +
    `${_escape(options.yLabel + scale(options.logY))}</text></svg>\n`;
}

/** Axis range of transformed values: whole half-decades on log axes, padded 5% otherwise. */
function _range(v: number[], log: boolean): [number, number] {
  let [a, b] = [Math.min(...v), Math.max(...v)];
  if (log) [a, b] = [Math.floor(a * 2) / 2, Math.ceil(b * 2) / 2];
  else {
    const pad = (b - a) * 0.05;
    [a, b] = [a - pad, b + pad];
  }
  return b > a ? [a, b] : [a - 0.5, a + 0.5];
}

/** Tick values (untransformed): powers of 10 and their half-decades, or round steps. */
function _ticks(a: number, b: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.ceil(a * 2) / 2; e <= b + 1e-9; e += 0.5) out.push(10 ** e);
    return out;
  }
  // about 5 steps of 1, 2 or 5 × 10^k
  const raw = (b - a) / 5, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** A short number for an axis label. */
function _num(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 0.01 && a < 10000 ? String(Number(v.toPrecision(2))) : v.toExponential(1);
}

/** Escapes text for SVG. */
function _escape(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}
