// Internal: a worker of `deno task sample --workers N`: one shard (src/_sample_shard.ts) on its
// own tfjs instance, so that N shards use N cores (tfjs-backend-wasm runs on one thread in Deno
// and Bun). Messages in: { job, backend }; out: { kind: "step" } per step, then { kind: "done",
// samples, snaps, tally } with Float32Arrays (and the self-check's tally), or { kind: "error", message }.
import { initBackend } from "./backend.ts";
import { _loadSampler, _runShard, type _ShardJob } from "./_sample_shard.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = async (e: MessageEvent<{ job: _ShardJob; backend: "wasm" | "cpu" }>) => {
  try {
    const { job, backend } = e.data;
    await initBackend(backend);
    const { unet, s, checker } = await _loadSampler(
      new URL(job.checkpoint),
      { sampler: job.sampler, steps: job.steps, eta: job.eta },
      job.spacing,
      job.selfCheck !== undefined,
    );
    const { samples, snaps, tally } = await _runShard(
      unet,
      s,
      job,
      () => scope.postMessage({ kind: "step" }),
      checker,
    );
    const data = await samples.data() as Float32Array;
    const snapData: Float32Array[][] = [];
    for (const pair of snaps) {
      snapData.push(await Promise.all(pair.map((x) => x.data() as Promise<Float32Array>)));
    }
    scope.postMessage({ kind: "done", samples: data, snaps: snapData, tally });
    samples.dispose();
    snaps.flat().forEach((x) => x.dispose());
    unet.dispose();
    checker?.net.dispose();
  } catch (err) {
    scope.postMessage({
      kind: "error",
      message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
  }
};
