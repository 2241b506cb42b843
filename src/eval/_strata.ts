/** The strata of t that bpdEstimate samples one term from each. */

/**
 * Strata of t ∈ [1, T): edges 1 + round((T - 1)(k/K)²), k = 0..K, without repeats; one
 * stratum per t when K ≥ T - 1.
 */
export function _strata(T: number, K: number): { from: number; to: number }[] {
  if (K >= T - 1) return Array.from({ length: T - 1 }, (_, k) => ({ from: k + 1, to: k + 2 }));
  const edges: number[] = [];
  for (let k = 0; k <= K; k++) {
    const e = 1 + Math.round((T - 1) * (k / K) ** 2);
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges.slice(1).map((to, k) => ({ from: edges[k], to }));
}
