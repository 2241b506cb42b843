/**
 * The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, the
 * distance behind FID), computed in float64 on the host.
 *
 * @module
 */
import { EigenvalueDecomposition, Matrix } from "ml-matrix";

/** Mean and covariance of a set of feature vectors. */
export interface FeatureStats {
  /** Number of vectors the statistics came from. */
  n: number;
  /** Feature dimension D. */
  d: number;
  /** μ, [D]. */
  mean: Float64Array;
  /** Σ (unbiased, divided by n - 1), [D, D] row-major. */
  cov: Float64Array;
}

/**
 * Mean and unbiased covariance of feature vectors (rows).
 *
 * @param features [N, D] row-major, N ≥ 2.
 * @param d The feature dimension D.
 * @returns `{ n, d, mean, cov }` in float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureStats } from "@ddpm/core";
 * const s = featureStats(new Float32Array([0, 0, 2, 2]), 2); // two vectors of dimension 2
 * assert.deepEqual([Array.from(s.mean), Array.from(s.cov)], [[1, 1], [2, 2, 2, 2]]);
 * ```
 */
export function featureStats(features: ArrayLike<number>, d: number): FeatureStats {
  if (!Number.isInteger(d) || d < 1 || features.length % d !== 0) {
    throw new RangeError(
      `Cannot compute feature statistics: ${features.length} values are not rows of ${d}`,
    );
  }
  const n = features.length / d;
  if (n < 2) throw new RangeError(`Cannot compute feature statistics: need ≥ 2 vectors, got ${n}`);
  const mean = new Float64Array(d), cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j] / n;
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = features[i * d + j] - mean[j];
    for (let j = 0; j < d; j++) {
      for (let k = j; k < d; k++) cov[j * d + k] += c[j] * c[k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) cov[k * d + j] = cov[j * d + k] /= n - 1;
  }
  return { n, d, mean, cov };
}

/**
 * d² = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^½), with Tr (Σ₁ Σ₂)^½ = Σᵢ √λᵢ(Σ₁^½ Σ₂ Σ₁^½)
 * (the eigenvalues of a symmetric positive semi-definite matrix, so no complex square root
 * is needed; eigenvalues that round below 0 count as 0).
 *
 * @param a Statistics of the first set ({@linkcode featureStats}).
 * @param b Statistics of the second set, of the same dimension.
 * @returns The squared Fréchet distance d² (what FID reports), ≥ 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureStats, frechetDistance } from "@ddpm/core";
 * const a = featureStats([0, 0, 2, 2], 2), b = featureStats([1, 1, 3, 3], 2);
 * // the means are √2 apart, the covariances equal (eigenvalues found by iteration: ≈ 1e-7 off)
 * assert.ok(Math.abs(frechetDistance(a, b) - 2) < 1e-6);
 * ```
 */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.d !== b.d) {
    throw new RangeError(`Cannot compute the Fréchet distance: dimensions ${a.d} and ${b.d}`);
  }
  const d = a.d;
  const S1 = _square(a.cov, d), S2 = _square(b.cov, d);
  const root1 = _sqrtPsd(S1); // Σ₁^½
  const M = root1.mmul(S2).mmul(root1); // Σ₁^½ Σ₂ Σ₁^½, symmetric PSD
  const sym = M.add(M.transpose()).div(2); // exact symmetry for the eigensolver
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true }).realEigenvalues;
  const trSqrt = eig.reduce((s, l) => s + Math.sqrt(Math.max(l, 0)), 0);
  let meanTerm = 0, trace = 0;
  for (let j = 0; j < d; j++) {
    meanTerm += (a.mean[j] - b.mean[j]) ** 2;
    trace += a.cov[j * d + j] + b.cov[j * d + j];
  }
  return Math.max(meanTerm + trace - 2 * trSqrt, 0);
}

function _square(flat: Float64Array, d: number): Matrix {
  const m = new Matrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m.set(i, j, flat[i * d + j]);
  return m;
}

/** Σ^½ = V diag(√max(λ, 0)) Vᵀ of a symmetric PSD Σ. */
function _sqrtPsd(S: Matrix): Matrix {
  const e = new EigenvalueDecomposition(S, { assumeSymmetric: true });
  const V = e.eigenvectorMatrix;
  const D = Matrix.diag(e.realEigenvalues.map((l) => Math.sqrt(Math.max(l, 0))));
  return V.mmul(D).mmul(V.transpose());
}
