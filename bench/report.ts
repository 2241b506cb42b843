// `deno task bench:report`: one run that times the U-Net on this machine with @ddpm/core and
// with PyTorch (bench/torch_reference.py, when python3-torch is installed), prints the ratios
// ours / PyTorch and the change against the previously committed results, and rewrites
// bench/README.md and bench/results.json.
//
// It also profiles one mnist training step kernel by kernel beside PyTorch's
// (bench/kernel_profile.ts, bench/torch_profile.py) and counts a webgpu step's dispatches, bytes
// and FLOPs for the GPU cost model (bench/_profile_report.ts).
//
// The sampling target's step (batch 64 split over the cores, as `deno task sample --workers N`)
// is timed by bench/sampling_bench.ts beside PyTorch's forward pass at batch 64 on as many
// threads.
//
//   deno task bench:report [--quick] [--only wasm|cpu|webgpu|profile|sampling] [--render]
//   (--quick: 1 iteration each, results not written; --only: re-time one backend's rows, only
//   the profile or only the sampling step, and keep the rest of the committed figures, marked
//   "kept"; --render: rewrite bench/README.md from bench/results.json, timing nothing)
import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { _atomicWrite } from "../src/_atomic_write.ts";
import { _cliArgs, _run } from "../src/cli/_args.ts";
import {
  _gpuSection,
  _kernelSection,
  _targetsSection,
  type OurProfile,
  type TorchProfile,
} from "./_profile_report.ts";

interface Row {
  preset: string;
  batch: number;
  backend: string;
  /** Threads of the training step: ours data-parallel over workers, PyTorch's intra-op threads. */
  threads?: number;
}

/** The cores used by the multi-thread rows (at most 4, as `deno task train` by default). */
const CORES = Math.max(2, Math.min(cpus().length, 4));

/** What is timed: the issue's configurations that fit a CPU machine in minutes. */
const ROWS: Row[] = [
  { preset: "mnist", batch: 32, backend: "wasm" },
  { preset: "mnist", batch: 32, backend: "wasm", threads: CORES },
  { preset: "cifar10", batch: 8, backend: "wasm" },
  { preset: "cifar10", batch: 8, backend: "wasm", threads: CORES }, // a wasm heap per worker
  { preset: "cifar10", batch: 4, backend: "wasm" }, // b8 exceeds wasm's ~2 GiB while training
  { preset: "mnist", batch: 8, backend: "cpu" },
  { preset: "mnist", batch: 8, backend: "webgpu" },
];

/** One timed configuration: train_bench.ts's JSON, PyTorch's beside it, or the error. */
interface Result extends Row {
  trainStepMs?: number;
  forwardMs?: number;
  firstStepMs?: number;
  ddim50ImagesPerSec?: number;
  ddpm1000ImagesPerSec?: number;
  tensorsBefore?: number;
  tensorsAfter?: number;
  peakBytes?: number;
  torch?: { trainStepMs: number; forwardMs: number; threads: number };
  error?: string;
  /** Copied from the previous results (not re-timed in this run: --only). */
  kept?: boolean;
}

const HERE = new URL(".", import.meta.url).pathname;
const RESULTS = `${HERE}results.json`;

function _exec(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    return { ok: r.success, out: dec(r.stdout), err: dec(r.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

const _lastJson = (s: string) =>
  JSON.parse(s.trim().split("\n").filter((l) => l.startsWith("{")).pop()!);

/** The batch the GPU cost model prices (bench:train's on a GPU machine). */
const GPU_BATCH = 128;

/** The batch of the sampling target's step. */
const SAMPLING_BATCH = 64;

/** The sampling target's step: ours split over `workers` threads, PyTorch's forward on as many. */
interface SamplingResult {
  batch: number;
  workers: number;
  sampleStepMs: number;
  torch?: { forwardMs: number; threads: number };
}

function _samplingRun(python: string, torch: string | undefined, iters: string): SamplingResult {
  console.log(`timing a sampling step, batch ${SAMPLING_BATCH} over ${CORES} threads …`);
  const r = _exec(Deno.execPath(), [
    ...["run", "-A", `${HERE}sampling_bench.ts`, "--batch", String(SAMPLING_BATCH)],
    ...["--workers", String(CORES), "--steps", iters === "1" ? "8" : "20", "--json"],
  ]);
  if (!r.ok) throw new Error(`sampling_bench.ts: ${r.err.trim()}`);
  const o = _lastJson(r.out);
  let ref: SamplingResult["torch"];
  if (torch) {
    const t = _exec(python, [
      ...[`${HERE}torch_reference.py`, "--preset", "mnist", "--batch", String(SAMPLING_BATCH)],
      ...["--iters", iters, "--threads", String(CORES)],
    ]);
    if (t.ok) {
      const j = _lastJson(t.out);
      ref = { forwardMs: j.forwardMs, threads: j.threads };
    } else console.log(`  PyTorch failed: ${t.err.trim().split("\n").pop()}`);
  }
  return { batch: o.batch, workers: o.workers, sampleStepMs: o.sampleStepMs, torch: ref };
}

/** What the profile sections are made from. */
interface ProfileData {
  wasm: OurProfile;
  torch?: TorchProfile;
  webgpu: { preset: string; small: OurProfile; large: OurProfile }[];
  /** The day it was profiled (absent in results written before the field existed). */
  date?: string;
}

function _profileRun(python: string, torch: string | undefined): ProfileData {
  const ours = (args: string[]): OurProfile => {
    console.log(`profiling ${args.join(" ")} …`);
    const r = _exec(Deno.execPath(), ["run", "-A", `${HERE}kernel_profile.ts`, ...args, "--json"]);
    if (!r.ok) throw new Error(`kernel_profile.ts ${args.join(" ")}: ${r.err.trim()}`);
    return _lastJson(r.out);
  };
  const wasm = ours(["--preset", "mnist", "--batch", "32", "--backend", "wasm"]);
  let ref: TorchProfile | undefined;
  if (torch) {
    const t = _exec(python, [`${HERE}torch_profile.py`, "--preset", "mnist", "--batch", "32"]);
    ref = t.ok ? _lastJson(t.out) : undefined;
    if (!t.ok) console.log(`  PyTorch's profile failed: ${t.err.trim().split("\n").pop()}`);
  }
  // the counts at batch 1 and 2 (llvmpipe is slow; counts are affine in the batch)
  const gpu = (preset: string, batch: number) =>
    ours(["--preset", preset, "--batch", String(batch), "--backend", "webgpu"]);
  const webgpu = ["mnist", "cifar10"].map((preset) => ({
    preset,
    small: gpu(preset, 1),
    large: gpu(preset, 2),
  }));
  return { wasm, torch: ref, webgpu, date: new Date().toISOString().slice(0, 10) };
}

function _main(): void {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      // rewrite bench/README.md from bench/results.json, timing nothing
      render: { type: "boolean", default: false },
    },
  });
  if (a.render && !existsSync(RESULTS)) throw new Error("--render needs bench/results.json");
  const iters = a.quick ? "1" : "5";
  const load = loadavg()[0];
  const previous = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, "utf8")) : undefined;
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const torchProbe = _exec(python, ["-c", "import torch; print(torch.__version__)"]);
  const torch = torchProbe.ok ? torchProbe.out.trim() : undefined;
  if (!torch) console.log("PyTorch not found (apt-get install python3-torch): timing ours only");
  const results: Result[] = [];
  const prevOf = (r: Result): Result | undefined =>
    previous?.results?.find((p: Result) =>
      p.preset === r.preset && p.batch === r.batch && p.backend === r.backend &&
      (p.threads ?? 1) === (r.threads ?? 1) && !p.error
    );

  if (a.render) results.push(...previous.results);
  for (const row of a.render ? [] : ROWS) {
    if (a.only && row.backend !== a.only) {
      // not re-timed: keep the committed figures (or failure), marked as such
      const kept = prevOf({ ...row }) ??
        previous?.results?.find((p: Result) =>
          p.preset === row.preset && p.batch === row.batch && p.backend === row.backend &&
          (p.threads ?? 1) === (row.threads ?? 1)
        );
      if (kept) results.push({ ...kept, kept: true });
      continue;
    }
    const threads = row.threads ?? 1;
    const label = `${row.preset} b${row.batch} ${row.backend} ×${threads}`;
    console.log(`timing ${label} …`);
    const ours = _exec(Deno.execPath(), [
      ...["run", "-A", `${HERE}train_bench.ts`, "--preset", row.preset],
      ...["--batch", String(row.batch), "--backend", row.backend, "--iters", iters, "--json"],
      ...["--workers", String(threads)],
    ]);
    if (!ours.ok) {
      console.log(`  ${label}: failed: ${ours.err.trim().split("\n").pop()}`);
      results.push({ ...row, threads, error: ours.err.trim().split("\n").pop() });
      continue;
    }
    const o = _lastJson(ours.out);
    let ref: Result["torch"];
    if (torch) {
      const t = _exec(python, [
        ...[`${HERE}torch_reference.py`, "--preset", row.preset, "--batch", String(row.batch)],
        ...["--iters", iters, ...(row.threads ? ["--threads", String(threads)] : [])],
      ]);
      ref = t.ok ? _lastJson(t.out) : undefined;
      if (!t.ok) console.log(`  PyTorch failed: ${t.err.trim().split("\n").pop()}`);
    }
    results.push({ ...o, threads, torch: ref });
  }
  const profileKept = Boolean((a.render || (a.only && a.only !== "profile")) && previous?.profile);
  const profile: ProfileData = profileKept ? previous.profile : _profileRun(python, torch);
  const sampling: SamplingResult | undefined =
    (a.render || (a.only && a.only !== "sampling")) && previous?.sampling
      ? previous.sampling
      : _samplingRun(python, torch, iters);
  const machine = a.render ? previous.machine : {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    deno: Deno.version.deno,
    torch: torch ?? null,
    date: new Date().toISOString().slice(0, 10),
    loadAtStart: Number(load.toFixed(2)),
  };
  const f = (v: number | undefined, d = 0) => (v === undefined ? "—" : v.toFixed(d));
  const ratio = (x?: number, y?: number) => (x && y ? `${(x / y).toFixed(2)}×` : "—");
  const lines = [
    "# Benchmarks",
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, no GPU unless stated; Deno ${machine.deno}` +
    `${
      torch
        ? `, PyTorch ${torch} (CPU, ${results.find((r) => r.torch)?.torch?.threads ?? "?"} threads)`
        : ""
    }; ${machine.date}.`,
    `Load average when the run started: ${machine.loadAtStart} (other work sharing the cores ` +
    "slows both libraries alike; each timed process uses one thread unless PyTorch's default " +
    "says otherwise).",
    "Regenerate with `deno task bench:report` (one run times both libraries).",
    "",
    "Training step = L_simple forward + backward + clipping + Adam + EMA; forward = one",
    "no-grad U-Net pass (≈ one sampling step). Medians; first calls (compilation, allocation)",
    "apart. Ratio = ours / PyTorch (lower is better; 1× is parity). Δ = ours now / ours in the",
    "previous committed results.",
    "",
    "| preset | batch | backend | threads | train step ms | PyTorch ms | ratio | forward ms | PyTorch ms | ratio | first step ms | DDIM-50 img/s | DDPM-1000 img/s | Δ train |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    if (r.error) {
      lines.push(
        `| ${r.preset} | ${r.batch} | ${r.backend}${r.kept ? " (kept)" : ""} | ${
          r.threads ?? 1
        } | failed: ${r.error} |||||||||| |`,
      );
      continue;
    }
    const p = prevOf(r);
    // multi-thread rows time the training step only (our forward stays on one thread there)
    const one = (r.threads ?? 1) === 1;
    const fwd = one
      ? `${f(r.forwardMs)} | ${f(r.torch?.forwardMs)} | ${ratio(r.forwardMs, r.torch?.forwardMs)}`
      : "— | — | —";
    const sampling = one
      ? `${f(r.ddim50ImagesPerSec, 3)} | ${f(r.ddpm1000ImagesPerSec, 4)}`
      : "— | —";
    lines.push(
      `| ${r.preset} | ${r.batch} | ${r.backend}${r.kept ? " (kept)" : ""} | ${
        one ? 1 : `${r.threads} / ${r.torch?.threads ?? "—"}`
      } | ${f(r.trainStepMs)} | ${f(r.torch?.trainStepMs)} | ${
        ratio(r.trainStepMs, r.torch?.trainStepMs)
      } | ${fwd} | ${f(r.firstStepMs)} | ${sampling} | ${
        p && !r.kept ? ratio(r.trainStepMs, p.trainStepMs) : "—"
      } |`,
    );
  }
  lines.push(
    "",
    "Notes: tfjs-backend-wasm runs on one thread in Deno and Bun (they cannot start its pthread",
    "workers: worker_threads from a blob: URL). Rows with threads N / M split each training",
    "step's batch over N threads of ours (data-parallel Web Workers, each with its own tfjs and",
    "wasm heap: `deno task train --workers N`) against PyTorch with M intra-op threads; their",
    "forward and sampling columns are left out (`deno task sample --workers N` splits sampling",
    "the same way; README). The cpu and webgpu rows on a machine without a GPU are tfjs's",
    "plain-JS kernels and Mesa's llvmpipe. cifar10 training at batch 8 needs more than one wasm",
    'heap\'s ~2 GiB, hence the batch-4 row; split over workers it fits. "kept" rows were not',
    "re-timed in this run (`--only`).",
    "",
    "In the browser: [browser.md](browser.md) (`deno task bench:browser`) times the forward pass",
    "in Chromium against Deno; sample quality per model call of each sampler:",
    "[sampler_quality.md](sampler_quality.md) (`deno task bench:samplers`), and at n = 512 for",
    "DPM-Solver++ with 20 calls against DDIM with 50: [n512/sampler_quality.md](n512/sampler_quality.md).",
    "",
    ..._targetsSection(
      (() => {
        const r = results.find((x) =>
          x.preset === "mnist" && x.batch === 32 && (x.threads ?? 1) > 1 && !x.error
        );
        return r?.trainStepMs && r.torch
          ? { ratio: r.trainStepMs / r.torch.trainStepMs, threads: r.threads! }
          : undefined;
      })(),
      profile.wasm,
      sampling?.torch
        ? {
          ratio: sampling.sampleStepMs / sampling.torch.forwardMs,
          ms: sampling.sampleStepMs,
          torchMs: sampling.torch.forwardMs,
          threads: sampling.workers,
        }
        : undefined,
    ),
    ...(profileKept
      ? [
        `The profile and the GPU counts below are kept from ${
          profile.date ? `the run of ${profile.date}` : "an earlier run"
        } (\`${
          a.render ? "--render" : "--only"
        }\` did not re-profile; \`deno task bench:report --only profile\` does).`,
        "",
      ]
      : []),
    ..._kernelSection(profile.wasm, profile.torch),
    ..._gpuSection(profile.webgpu, GPU_BATCH),
    "Tensor counts before/after the timed steps (no leak when equal) and tfjs's peak bytes of",
    "one profiled step:",
    "",
    ...results.filter((r) => !r.error).map((r) =>
      `- ${r.preset} b${r.batch} ${r.backend} ×${
        r.threads ?? 1
      }: ${r.tensorsBefore} → ${r.tensorsAfter} tensors, peak ${
        (r.peakBytes! / 2 ** 20).toFixed(0)
      } MiB`
    ),
    "",
  );
  const md = lines.join("\n");
  console.log(md);
  if (a.quick) return console.log("(--quick: results not written)");
  _atomicWrite(`${HERE}README.md`, md);
  _atomicWrite(RESULTS, JSON.stringify({ machine, results, profile, sampling }, null, 2) + "\n");
  console.log(`wrote bench/README.md and bench/results.json`);
}

await _run(() => Promise.resolve().then(_main));
