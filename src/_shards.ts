// Internal: how a batch of n is split over worker threads (sampling and training): how many
// workers by default, and which rows each takes.

/**
 * Workers for a batch of n when none are asked for: the cores (at most 4) on wasm and cpu,
 * whose tfjs runs on one thread in Deno and Bun; one on webgpu.
 */
export function _defaultWorkers(backend: string, n: number): number {
  return backend === "webgpu" ? 1 : Math.max(1, Math.min(navigator.hardwareConcurrency ?? 1, 4, n));
}

/** Shard w holds rows [cuts[w], cuts[w + 1]): contiguous, of near-equal size. */
export function _shardCuts(n: number, workers: number): number[] {
  return Array.from({ length: workers + 1 }, (_, w) => Math.round((w * n) / workers));
}
