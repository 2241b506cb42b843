// A slow float64 scalar reference for every closed form: plain TypeScript, no tfjs.
// Where there is a second algebraic route to a quantity the reference takes it (Bayes'
// rule in precision form for the posterior, division instead of reciprocal square roots),
// so that agreement is evidence, not a copy.

/** The schedule tables recomputed from the paper's definitions. */
export interface RefSchedule {
  T: number;
  betas: number[];
  alphas: number[];
  abar: number[];
  abarPrev: number[];
}

/** β_t of a named kind (improved-diffusion's definitions, scale = 1000/T). */
export function refBetas(kind: string, T: number): number[] {
  const scale = 1000 / T;
  const start = scale * 1e-4, end = scale * 0.02;
  const lin = (a: number, b: number, i: number) => T === 1 ? a : a + (b - a) * i / (T - 1);
  const out: number[] = [];
  for (let i = 0; i < T; i++) {
    if (kind === "linear") out.push(lin(start, end, i));
    else if (kind === "quadratic") out.push(lin(Math.sqrt(start), Math.sqrt(end), i) ** 2);
    else if (kind === "sigmoid") {
      out.push((end - start) / (1 + Math.exp(-lin(-6, 6, i))) + start);
    } else if (kind === "cosine") {
      const f = (u: number) => Math.cos((u / T + 0.008) / 1.008 * Math.PI / 2) ** 2;
      out.push(Math.min(1 - f(i + 1) / f(i), 0.999));
    } else throw new Error(`unknown kind ${kind}`);
  }
  return out;
}

/** Tables from betas: ᾱ_t as a running product, ᾱ_{-1} = 1. */
export function refSchedule(betas: number[]): RefSchedule {
  const alphas = betas.map((b) => 1 - b);
  const abar: number[] = [], abarPrev: number[] = [];
  let p = 1;
  for (const a of alphas) {
    abarPrev.push(p);
    p *= a;
    abar.push(p);
  }
  return { T: betas.length, betas, alphas, abar, abarPrev };
}

/** q(x_t | x0) sample: √ᾱ x0 + √(1-ᾱ) ε. */
export function refForwardNoise(r: RefSchedule, t: number, x0: number, eps: number): number {
  return Math.sqrt(r.abar[t]) * x0 + Math.sqrt(1 - r.abar[t]) * eps;
}

/** q(x_t | x_{t-1}) sample: √α x + √β ε. */
export function refForwardStep(r: RefSchedule, t: number, x: number, eps: number): number {
  return Math.sqrt(r.alphas[t]) * x + Math.sqrt(r.betas[t]) * eps;
}

/**
 * q(x_{t-1} | x_t, x0) by Bayes' rule in precision form, t ≥ 1:
 * precision = α_t/β_t + 1/(1-ᾱ_{t-1}),
 * mean = (√α_t x_t / β_t + √ᾱ_{t-1} x0 / (1-ᾱ_{t-1})) / precision.
 */
export function refPosterior(
  r: RefSchedule,
  t: number,
  x0: number,
  xt: number,
): { mean: number; variance: number } {
  const prec = r.alphas[t] / r.betas[t] + 1 / (1 - r.abarPrev[t]);
  const mean = (Math.sqrt(r.alphas[t]) * xt / r.betas[t] +
    Math.sqrt(r.abarPrev[t]) * x0 / (1 - r.abarPrev[t])) / prec;
  return { mean, variance: 1 / prec };
}

/** Log density of N(mean, variance) at x. */
export function refLogNormal(x: number, mean: number, variance: number): number {
  return -0.5 * (Math.log(2 * Math.PI * variance) + (x - mean) ** 2 / variance);
}

/** x0 from ε: (x_t - √(1-ᾱ) ε) / √ᾱ. */
export function refX0FromEps(r: RefSchedule, t: number, xt: number, eps: number): number {
  return (xt - Math.sqrt(1 - r.abar[t]) * eps) / Math.sqrt(r.abar[t]);
}

/** ε from x0: (x_t - √ᾱ x0) / √(1-ᾱ). */
export function refEpsFromX0(r: RefSchedule, t: number, xt: number, x0: number): number {
  return (xt - Math.sqrt(r.abar[t]) * x0) / Math.sqrt(1 - r.abar[t]);
}

/** v = √ᾱ ε - √(1-ᾱ) x0. */
export function refV(r: RefSchedule, t: number, x0: number, eps: number): number {
  return Math.sqrt(r.abar[t]) * eps - Math.sqrt(1 - r.abar[t]) * x0;
}

/** KL(N(m1, e^{lv1}) ‖ N(m2, e^{lv2})) via variances. */
export function refNormalKl(m1: number, lv1: number, m2: number, lv2: number): number {
  const v1 = Math.exp(lv1), v2 = Math.exp(lv2);
  return 0.5 * (Math.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1);
}

/** The paper code's tanh approximation of the standard normal CDF. */
export function refApproxCdf(u: number): number {
  return 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
}

/** Discretized Gaussian log-likelihood of one 8-bit value x ∈ [-1, 1]. */
export function refDiscretizedLogLik(x: number, mean: number, logScale: number): number {
  const s = Math.exp(logScale);
  const plus = refApproxCdf((x - mean + 1 / 255) / s);
  const minus = refApproxCdf((x - mean - 1 / 255) / s);
  if (x < -0.999) return Math.log(Math.max(plus, 1e-12));
  if (x > 0.999) return Math.log(Math.max(1 - minus, 1e-12));
  return Math.log(Math.max(plus - minus, 1e-12));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function refNormalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
        0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** The 8-bit grid value of bin k: 2k/255 - 1. */
export function gridValue(k: number): number {
  return 2 * k / 255 - 1;
}

/**
 * The Bayes-optimal ε-predictor for data x0 ~ N(m, s²) (each dimension independent):
 * E[ε | x_t] = √(1-ᾱ) (x_t - √ᾱ m) / (ᾱ s² + 1 - ᾱ).
 */
export function refOracleEps(abar: number, xt: number, m: number, s: number): number {
  return Math.sqrt(1 - abar) * (xt - Math.sqrt(abar) * m) / (abar * s * s + 1 - abar);
}
