import { _uniformGenerator } from "./_random.ts";
import { _LOSS_TIMESTEPS } from "./_streams.ts";

/**
 * The recent losses of each timestep, which importance sampling of t learns from
 * (improved-diffusion's `LossSecondMomentResampler`): `losses[t·perTerm + k]` is the k-th of the
 * last `counts[t]` losses at t (oldest first, at most `perTerm`). Plain data, saved in checkpoints.
 */
export interface LossHistory {
  /** Timesteps. */
  T: number;
  /** Losses kept per timestep (10 in the paper). */
  perTerm: number;
  /** [T·perTerm] recent losses, each t's oldest first. */
  losses: Float64Array;
  /** [T] how many of each t's slots are filled. */
  counts: Int32Array;
}

/**
 * An empty loss history: importance sampling draws t uniformly until every t has `perTerm` losses.
 *
 * @param T Timesteps.
 * @param perTerm Losses kept per timestep (default 10).
 * @returns The history.
 * @throws {RangeError} If T or perTerm is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLossHistory } from "@ddpm/core";
 * const h = createLossHistory(1000);
 * assert.equal(h.losses.length, 10_000);
 * ```
 */
export function createLossHistory(T: number, perTerm = 10): LossHistory {
  for (const [name, v] of [["T", T], ["perTerm", perTerm]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`Cannot create loss history: ${name} must be an integer >= 1, got ${v}`);
    }
  }
  return { T, perTerm, losses: new Float64Array(T * perTerm), counts: new Int32Array(T) };
}

/**
 * Records one loss per example at its timestep, dropping each t's oldest once it has `perTerm`.
 *
 * @param h The history (changed in place).
 * @param t The examples' timesteps.
 * @param losses Their losses (finite).
 * @throws {RangeError} On lengths that differ, a timestep outside [0, T), or a loss that is not
 *   finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLossHistory, updateLossHistory } from "@ddpm/core";
 * const h = createLossHistory(4, 2);
 * updateLossHistory(h, [3, 3, 3], [1, 2, 5]);
 * assert.deepEqual([h.counts[3], h.losses[6], h.losses[7]], [2, 2, 5]);
 * ```
 */
export function updateLossHistory(
  h: LossHistory,
  t: ArrayLike<number>,
  losses: ArrayLike<number>,
): void {
  const what = "update loss history";
  if (t.length !== losses.length) {
    throw new RangeError(
      `Cannot ${what}: t and losses must have one entry per example, got ${t.length} and ${losses.length}`,
    );
  }
  for (let i = 0; i < t.length; i++) {
    const k = t[i], loss = losses[i];
    if (!(Number.isInteger(k) && k >= 0 && k < h.T)) {
      throw new RangeError(`Cannot ${what}: timesteps must be integers in [0, ${h.T}), got ${k}`);
    }
    if (!Number.isFinite(loss)) {
      throw new RangeError(`Cannot ${what}: losses must be finite, got ${loss} at t = ${k}`);
    }
    const row = h.losses.subarray(k * h.perTerm, (k + 1) * h.perTerm);
    if (h.counts[k] === h.perTerm) {
      row.copyWithin(0, 1);
      row[h.perTerm - 1] = loss;
    } else {
      row[h.counts[k]++] = loss;
    }
  }
}

/**
 * Importance sampling's distribution of t (Nichol & Dhariwal 2021, eq. 18): p_t ∝ √E[L_t²] over
 * each t's recent losses, mixed with the uniform distribution at `uniformProb`
 * (p = (1 − u)·p + u/T, as improved-diffusion); uniform until every t has its `perTerm` losses.
 *
 * @param h The loss history.
 * @param uniformProb The uniform share u (default 0.001).
 * @returns p [T], summing to 1.
 *
 * @example Uniform until warmed up; then t with larger losses are drawn more often
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLossHistory, importanceProbabilities, updateLossHistory } from "@ddpm/core";
 * const h = createLossHistory(2, 1);
 * assert.deepEqual(Array.from(importanceProbabilities(h)), [0.5, 0.5]);
 * updateLossHistory(h, [0, 1], [1, 3]);
 * const p = importanceProbabilities(h, 0);
 * assert.deepEqual(Array.from(p), [0.25, 0.75]);
 * ```
 */
export function importanceProbabilities(h: LossHistory, uniformProb = 0.001): Float64Array {
  if (!(uniformProb >= 0 && uniformProb <= 1)) {
    throw new RangeError(
      `Cannot compute importance probabilities: uniformProb must be in [0, 1], got ${uniformProb}`,
    );
  }
  const p = new Float64Array(h.T);
  if (!h.counts.every((c) => c === h.perTerm)) return p.fill(1 / h.T);
  let sum = 0;
  for (let t = 0; t < h.T; t++) {
    let sq = 0;
    for (let k = 0; k < h.perTerm; k++) sq += h.losses[t * h.perTerm + k] ** 2;
    sum += p[t] = Math.sqrt(sq / h.perTerm);
  }
  if (!(sum > 0)) return p.fill(1 / h.T); // all losses zero: nothing to prefer
  for (let t = 0; t < h.T; t++) p[t] = (1 - uniformProb) * p[t] / sum + uniformProb / h.T;
  return p;
}

/**
 * Draws `batch` timesteps from p (by inverse CDF, from stream 1 of `seed`, the stream `epsLoss`
 * draws uniform t from) and their weights 1 / (T·p_t), which make a weighted loss unbiased:
 * E_{t∼p}[L_t / (T·p_t)] = (1/T) Σ_t L_t.
 *
 * @param p The distribution of t (see {@linkcode importanceProbabilities}).
 * @param batch How many.
 * @param seed The seed.
 * @returns `{ t, weights }`, each of length `batch`.
 *
 * @example With p uniform every weight is 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { importanceTimesteps } from "@ddpm/core";
 * const { t, weights } = importanceTimesteps(new Float64Array(4).fill(0.25), 3, 7);
 * assert.ok(t.every((k) => k >= 0 && k < 4));
 * assert.deepEqual(Array.from(weights), [1, 1, 1]);
 * ```
 */
export function importanceTimesteps(
  p: ArrayLike<number>,
  batch: number,
  seed: number,
): { t: Int32Array; weights: Float64Array } {
  const what = "draw timesteps";
  let total = 0;
  for (let k = 0; k < p.length; k++) {
    if (!(p[k] >= 0 && Number.isFinite(p[k]))) {
      throw new RangeError(`Cannot ${what}: p must be finite and >= 0, got p[${k}] = ${p[k]}`);
    }
    total += p[k];
  }
  if (!(Math.abs(total - 1) < 1e-9)) {
    throw new RangeError(`Cannot ${what}: p must sum to 1, got ${total}`);
  }
  if (!(Number.isInteger(batch) && batch >= 1)) {
    throw new RangeError(`Cannot ${what}: batch must be an integer >= 1, got ${batch}`);
  }
  const cdf = new Float64Array(p.length);
  let acc = 0;
  for (let k = 0; k < p.length; k++) cdf[k] = acc += p[k];
  const u = _uniformGenerator(seed, _LOSS_TIMESTEPS);
  const t = new Int32Array(batch), weights = new Float64Array(batch);
  for (let i = 0; i < batch; i++) {
    const x = u() * acc;
    // the first k with cdf[k] > x, skipping zero-probability t (binary search)
    let lo = 0, hi = p.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    t[i] = lo;
    weights[i] = 1 / (p.length * p[lo]);
  }
  return { t, weights };
}
