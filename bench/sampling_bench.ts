// `deno task bench:sampling`: one sampling step (a U-Net forward pass, the posterior and the
// noise: pSample) at batch B with the batch split over N threads, exactly as
// `deno task sample --workers N` splits it (src/_sample_worker.ts, each worker its own tfjs and
// wasm heap, rows [start, start + count) each). Prints one JSON line (--json) or a short table.
//
// The step time is the wall time between two consecutive steps that every worker has finished
// (the slowest worker's pace), its median over the steps after the first `--warmup` (weight
// loading, the first allocations and the JIT's warm-up: a forward pass settles within about
// six calls). PyTorch's counterpart is
// bench/torch_reference.py's forward at the same batch with N threads.
//
//   deno task bench:sampling [--batch 64] [--workers 2] [--steps 20] [--warmup 6] [--checkpoint bundled|FILE] [--json]
import { parseArgs } from "node:util";
import { _checkpointHref, _runShardInWorker, type _ShardJob } from "../src/_sample_shard.ts";
import { _shardCuts } from "../src/_shards.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../src/io/bundled.ts";
import { _backendArg, _cliArgs, _intArg, _run } from "../src/cli/_args.ts";

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      batch: { type: "string", default: "64" },
      workers: { type: "string", default: "2" },
      steps: { type: "string", default: "20" },
      warmup: { type: "string", default: "6" },
      backend: { type: "string", default: "wasm" },
      checkpoint: { type: "string", default: "bundled" },
      json: { type: "boolean", default: false },
    },
  });
  const B = _intArg("batch", a.batch, 1), workers = _intArg("workers", a.workers, 1);
  const warmup = _intArg("warmup", a.warmup, 1);
  const steps = _intArg("steps", a.steps, warmup + 2);
  const backend = _backendArg(a.backend);
  if (backend !== "wasm" && backend !== "cpu") {
    throw new RangeError(
      `Cannot time sampling workers: --backend must be wasm or cpu, got ${backend}`,
    );
  }
  if (workers > B) throw new RangeError(`Cannot split ${B} images over ${workers} workers`);
  const checkpoint = a.checkpoint === "bundled" ? BUNDLED_MNIST_CHECKPOINT : a.checkpoint;
  const cuts = _shardCuts(B, workers);
  // done[w][k]: when worker w finished its step k
  const done: number[][] = Array.from({ length: workers }, () => []);
  const job = (w: number): _ShardJob => ({
    checkpoint: _checkpointHref(checkpoint),
    sampler: "ddpm",
    steps,
    eta: 0,
    seed: 0,
    start: cuts[w],
    count: cuts[w + 1] - cuts[w],
    of: B,
    snapAt: [],
    show: 0,
  });
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: workers },
      (_, w) => _runShardInWorker(job(w), backend, () => done[w].push(performance.now())),
    ),
  );
  const total = performance.now() - t0;
  // a step is over when the slowest worker has finished it
  const over = Array.from({ length: steps }, (_, k) => Math.max(...done.map((d) => d[k])));
  const perStep = over.slice(warmup).map((t, k) => t - over[warmup + k - 1]);
  perStep.sort((x, y) => x - y);
  const out = {
    impl: "@ddpm/core",
    backend,
    batch: B,
    workers,
    steps,
    warmup,
    sampleStepMs: perStep[Math.floor(perStep.length / 2)],
    firstStepMs: over[0] - t0,
    totalMs: total,
    deno: Deno.version.deno,
  };
  if (a.json) return console.log(JSON.stringify(out));
  for (const [k, v] of Object.entries(out)) {
    console.log(`${k.padEnd(14)} ${typeof v === "number" ? Number(v.toFixed(1)) : v}`);
  }
});
