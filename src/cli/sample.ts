// `deno task sample`: draw images from a checkpoint (default: the bundled class-conditional MNIST
// model, one column per digit).
//
//   deno task sample [--checkpoint FILE] [--n 64] [--sampler ddpm|ddim|dpm++] [--steps N]
//                    [--order 2] [--spacing KIND] [--eta 0]
//                    [--seed 0] [--out out/samples.png] [--npy FILE] [--progression FILE]
//                    [--backend auto|webgpu|wasm|cpu] [--workers N] [--class all|none|7|3,5]
//                    [--guidance W] [--guidance-interval LO,HI|all]
//   bun src/cli/sample.ts ...        (the same, under Bun)
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../backend.ts";
import { BUNDLED_MNIST_CONDITIONAL } from "../io/bundled.ts";
import { _intervalText } from "../_guidance.ts";
import { imageGrid, toUint8 } from "../io/image_grid.ts";
import { encodeNpy } from "../io/npy.ts";
import { _atomicWrite } from "../_atomic_write.ts";
import { _duration, _progress } from "../_progress.ts";
import {
  _backendArg,
  _choiceArg,
  _classesArg,
  _cliArgs,
  _guidanceArg,
  _guidanceIntervalArg,
  _intArg,
  _nonNegativeArg,
  _orderArg,
  _outArg,
  _run,
  _selfCheckArg,
  _spacingArg,
} from "./_args.ts";
import {
  _checkpointHref,
  _joinShards,
  _loadSampler,
  _runShard,
  _runShardInWorker,
  type _ShardJob,
} from "../_sample_shard.ts";
import { _defaultWorkers, _shardCuts } from "../_shards.ts";
import { SAMPLER_NAMES } from "../samplers.ts";

import type { Tensor } from "../types.ts";
import { _sumTallies, _tallyText, type SelfCheckTally } from "../self_check.ts";

const HELP = `Sample images from a DDPM checkpoint.

Options:
  --checkpoint FILE     a checkpoint from deno task train
                        [the bundled class-conditional MNIST model]
  --n N                 number of images                                            [64]
  --sampler NAME        ddpm (ancestral, Algorithm 2), ddim (deterministic at η = 0)
                        or dpm++ (DPM-Solver++ multistep)
                                      [the checkpoint's recommended sampler, else ddim]
  --steps N             sampling steps (model calls)   [the checkpoint's recommended count
                        for its sampler, else ddpm: all T, ddim: 50, dpm++: 20]
  --order K             DPM-Solver++ order 1, 2 or 3                                 [2]
  --spacing KIND        how the steps are spaced: ddim, logsnr, karras, linspace,
                        trailing, or even              [ddpm: even, ddim: ddim, dpm++: logsnr]
  --eta X               DDIM η (0: deterministic, 1: DDPM-like noise)
                                                   [the checkpoint's recommended η, else 0]
  --seed N              seed of x_T and the sampling noise                          [0]
  --out FILE            PNG grid of the samples                       [out/samples.png]
  --npy FILE            also write the samples as uint8 [N, H, W, C] for numpy.load
  --progression FILE    also write x_t (odd rows) and predicted x0 (even rows) of the
                        first 4 samples at 10 steps of the chain, noisy to clean
  --class C             conditional checkpoints: "all" (image i gets class i mod the
                        number of classes: one column per class), a class name or
                        index ("7", "sneaker"), a comma-separated list to cycle
                        through ("3,5"), or "none" (unconditional)                [all]
  --guidance W          classifier-free guidance scale: ε(x,∅) + W·(ε(x,y) − ε(x,∅));
                        1 is the conditional model, 0 unconditional
                                            [the checkpoint's recommended scale, else 1]
  --guidance-interval LO,HI  apply the guidance only at timesteps LO..HI (the conditional
                        model alone elsewhere; Kynkäänniemi et al. 2024), or "all"
                                       [the checkpoint's recommended interval, else all]
  --self-check none     conditional checkpoints that recommend a self-check (each sample
                        classified by the class network itself and drawn again where it
                        guesses another class): "none" turns it off [the checkpoint's]
  --backend NAME        auto, webgpu, wasm or cpu                                   [auto]
  --workers N           split the images over N workers, one tfjs each (wasm and cpu
                        run on one core each); the images do not depend on N
                                            [wasm, cpu: the cores, at most 4; webgpu: 1]
  --help                this text`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      checkpoint: { type: "string" },
      n: { type: "string", default: "64" },
      sampler: { type: "string" },
      steps: { type: "string" },
      eta: { type: "string" },
      order: { type: "string", default: "2" },
      spacing: { type: "string" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "out/samples.png" },
      npy: { type: "string" },
      progression: { type: "string" },
      backend: { type: "string", default: "auto" },
      workers: { type: "string" },
      class: { type: "string" },
      guidance: { type: "string" },
      "guidance-interval": { type: "string" },
      "self-check": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  _outArg("out", a.out, [".png"]);
  if (a.npy !== undefined) _outArg("npy", a.npy, [".npy"]);
  if (a.progression !== undefined) _outArg("progression", a.progression, [".png"]);
  const given = {
    sampler: a.sampler === undefined ? undefined : _choiceArg("sampler", a.sampler, SAMPLER_NAMES),
    steps: a.steps === undefined ? undefined : _intArg("steps", a.steps, 1),
    eta: a.eta === undefined ? undefined : _nonNegativeArg("eta", a.eta),
  };
  const order = _orderArg(a.order);
  const spacing = _spacingArg(a.spacing);
  const n = _intArg("n", a.n, 1), seed = _intArg("seed", a.seed, 0);
  const info = await initBackend(_backendArg(a.backend));
  const source = a.checkpoint ?? BUNDLED_MNIST_CONDITIONAL;
  // the self-check's class network only where the checkpoint's self-check may run
  const { unet, s, config, sampler, steps, eta, checker } = await _loadSampler(
    source,
    given,
    spacing,
    a["self-check"] !== "none",
  );
  const selfCheck = _selfCheckArg(a["self-check"], config);
  const conditional = (config.unet.numClasses ?? 0) > 0;
  const names = conditional
    ? config.classes ?? Array.from({ length: config.unet.numClasses! }, (_, i) => String(i))
    : undefined;
  const guidance = _guidanceArg(a.guidance, config);
  const guidanceInterval = _guidanceIntervalArg(a["guidance-interval"], config);
  // --guidance 0 is the unconditional model: no labels needed
  const classArg = a.class ?? (conditional ? "all" : "none");
  const classes = guidance === 0 ? undefined : _classesArg(classArg, n, names);
  const workers = a.workers === undefined
    ? _defaultWorkers(info.backend, n)
    : Math.min(n, _intArg("workers", a.workers, 1));
  const { imageSize: size, inChannels: C } = unet.config;
  console.log(
    `backend ${info.backend} · ${sampler}${sampler === "dpm++" ? ` (order ${order})` : ""}` +
      `${sampler === "ddim" && eta > 0 ? ` (η ${eta})` : ""} ` +
      `with ${s.T} steps · ${n} images ${size}×${size}×${C} · ` +
      `checkpoint ${source instanceof URL ? "bundled mnist-conditional" : source}` +
      (config.autoguidance
        ? ` (autoguidance ${config.autoguidance.weight}` +
          (config.autoguidance.unconditionalWeight !== undefined
            ? `, ∅ ${config.autoguidance.unconditionalWeight})`
            : ")")
        : "") +
      (workers > 1 ? ` · ${workers} workers` : "") +
      (conditional
        ? classes
          ? ` · classes ${_describeClasses(classArg, classes, names!)} · guidance ${guidance}` +
            _intervalText(guidanceInterval)
          : " · unconditional"
        : ""),
  );
  const shape = [n, size, size, C];
  const snaps = 10;
  const snapAt = Array.from(
    { length: snaps },
    (_, k) => Math.round((s.T - 1) * (1 - k / (snaps - 1))),
  );
  // contiguous shards of near-equal size; the progression shows the first `show` images, kept
  // by the shards that hold them
  const cuts = _shardCuts(n, workers);
  const show = Math.min(n, 4);
  const shows = cuts.slice(0, -1).map((c, w) => Math.max(0, Math.min(show - c, cuts[w + 1] - c)));
  const job = (w: number): _ShardJob => ({
    checkpoint: _checkpointHref(source),
    sampler,
    steps,
    spacing,
    order,
    eta,
    seed,
    start: cuts[w],
    count: cuts[w + 1] - cuts[w],
    of: n,
    snapAt: a.progression ? snapAt : [],
    show: shows[w],
    classes,
    guidance,
    guidanceInterval,
    selfCheck: classes ? selfCheck : undefined,
  });
  const bar = _progress(s.T, 0, true, 10);
  const t0 = performance.now();
  let done = 0;
  const tick = () => bar.update(Math.floor(++done / workers), NaN);
  let x: Tensor, rows: Tensor[][], tallies: (SelfCheckTally | undefined)[];
  if (workers === 1) {
    let tally: SelfCheckTally | undefined;
    ({ samples: x, snaps: rows, tally } = await _runShard(unet, s, job(0), tick, checker));
    tallies = [tally];
  } else {
    const backend = info.backend === "cpu" ? "cpu" : "wasm";
    const parts = await Promise.all(
      Array.from({ length: workers }, (_, w) => _runShardInWorker(job(w), backend, tick)),
    );
    x = _joinShards(parts.map((p) => p.samples), cuts, [size, size, C]);
    tallies = parts.map((p) => p.tally);
    // snapshot k: [x_t, x̂0] of the first `show` images, from the shards that hold them
    const held = parts.map((p, w) => ({ ...p, rows: shows[w] })).filter((p) => p.rows > 0);
    rows = held[0].snaps.map((_, k) =>
      [0, 1].map((which) =>
        tf.tidy(() =>
          tf.concat(held.map((p) => tf.tensor(p.snaps[k][which], [p.rows, size, size, C])))
        )
      )
    );
  }
  bar.done();
  if (job(0).selfCheck) console.log(_tallyText(_sumTallies(tallies), n));
  // --class all: one column per class, so each column holds one class
  const cols = classes && classArg === "all" ? Math.min(n, names!.length) : undefined;
  _atomicWrite(a.out, await imageGrid(x, { scale: 2, cols }));
  console.log(`wrote ${a.out} (${_duration((performance.now() - t0) / 1000)})`);
  if (a.npy) {
    _atomicWrite(a.npy, encodeNpy(await toUint8(x), shape));
    console.log(`wrote ${a.npy}: uint8 [${shape}]`);
  }
  if (a.progression) {
    // grid: columns are the snapshots (noisy → clean); per sample a row of x_t and one of x̂0
    const cols = rows.length;
    const tiles = tf.tidy(() => {
      const perRow: Tensor[] = [];
      for (let i = 0; i < show; i++) {
        for (const which of [0, 1]) {
          for (const r of rows) perRow.push(tf.slice(r[which], i, 1));
        }
      }
      return tf.concat(perRow, 0);
    });
    _atomicWrite(a.progression, await imageGrid(tf.clipByValue(tiles, -1, 1), { cols, scale: 2 }));
    tiles.dispose();
    rows.flat().forEach((r) => r.dispose());
    console.log(`wrote ${a.progression}: x_t and predicted x0 at ${cols} steps`);
  }
  x.dispose();
  unet.dispose();
  checker?.net.dispose();
});

/** "all 10" for --class all, else the distinct names asked for (the first six). */
function _describeClasses(classArg: string, classes: number[], names: string[]): string {
  if (classArg === "all") return `all ${names.length}`;
  const distinct = [...new Set(classes)];
  return distinct.slice(0, 6).map((c) => names[c]).join(",") + (distinct.length > 6 ? ",…" : "");
}
