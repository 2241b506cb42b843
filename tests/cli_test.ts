// The command-line tools end to end (small runs): train writes its files, sample reads the
// checkpoint and writes PNG, .npy and a progression picture; bad arguments exit 1 with one
// clear line.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { decode as decodePng } from "fast-png";
import { assertEquals, assertTrue } from "./_assert.ts";
import { useBackend } from "./_helpers.ts";
import {
  BUNDLED_MNIST_CONDITIONAL,
  classifierAccuracy,
  classifierOutputs,
  type Dataset,
  loadCheckpoint,
  loadMnistClassifier,
} from "../mod.ts";
import { loadMnist } from "../fs.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CONDITIONAL_MNIST =
  new URL("../checkpoints/wip/mnist-conditional.safetensors", import.meta.url).pathname;
const UNCONDITIONAL_MNIST = new URL("../checkpoints/mnist.safetensors", import.meta.url).pathname;

/** The images `idx` of `data`, with their labels. */
function _pick(data: Dataset, idx: number[]): Dataset {
  const [, H, W, C] = data.shape, px = H * W * C;
  const images = new Float32Array(idx.length * px);
  idx.forEach((i, k) => images.set(data.images.subarray(i * px, (i + 1) * px), k * px));
  return {
    images,
    shape: [idx.length, H, W, C],
    labels: Int32Array.from(idx, (i) => data.labels![i]),
    source: data.source,
  };
}

function _cli(script: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const path = new URL(`../src/cli/${script}.ts`, import.meta.url).pathname;
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, path, ...args],
  })
    .outputSync();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

Deno.test("cli: train (2 steps of the mnist preset) then sample with ddim, .npy and progression", () => {
  const dir = Deno.makeTempDirSync();
  const t = _cli("train", [
    "--steps",
    "2",
    "--batch",
    "2",
    "--limit",
    "8",
    "--out",
    dir,
    "--sample-every",
    "0",
    "--backend",
    "wasm",
  ]);
  assertEquals(t.code, 0, t.stderr);
  assertTrue(t.stdout.includes("data mnist (train): 8 images 28×28×1 · preset mnist"), t.stdout);
  assertTrue(t.stdout.includes("done: step 2"), t.stdout);
  for (const f of ["checkpoint.safetensors", "log.jsonl", "loss.svg"]) {
    assertTrue(existsSync(join(dir, f)), f);
  }
  const ck = join(dir, "checkpoint.safetensors");
  const [png, npy, prog] = [join(dir, "s.png"), join(dir, "s.npy"), join(dir, "p.png")];
  const s = _cli("sample", [
    "--checkpoint",
    ck,
    "--n",
    "3",
    "--steps",
    "4",
    "--out",
    png,
    "--npy",
    npy,
    "--progression",
    prog,
    "--backend",
    "wasm",
    "--workers",
    "1",
  ]);
  assertEquals(s.code, 0, s.stderr);
  assertTrue(s.stdout.includes("ddim with 4 steps · 3 images 28×28×1"), s.stdout);
  const grid = decodePng(Deno.readFileSync(png));
  assertEquals([grid.width, grid.height], [2 * (2 * 28) + 3 * 2, 2 * (2 * 28) + 3 * 2]); // 2×2 grid, ×2 scale
  const header = new TextDecoder().decode(Deno.readFileSync(npy).subarray(10, 80));
  assertTrue(
    header.includes("'descr': '|u1'") && header.includes("'shape': (3, 28, 28, 1)"),
    header,
  );
  const p = decodePng(Deno.readFileSync(prog));
  // 4 snapshots as columns; x_t and x̂0 rows for each of the 3 samples
  assertEquals([p.width, p.height], [4 * 56 + 5 * 2, 6 * 56 + 7 * 2]);
  // the same images, progression included, from 2 workers (one shard each: images 0–1 and 2)
  const [npy2, prog2] = [join(dir, "s2.npy"), join(dir, "p2.png")];
  const w = _cli("sample", [
    ...["--checkpoint", ck, "--n", "3", "--steps", "4", "--out", join(dir, "s2.png")],
    ...["--npy", npy2, "--progression", prog2, "--backend", "wasm", "--workers", "2"],
  ]);
  assertEquals(w.code, 0, w.stderr);
  assertTrue(w.stdout.includes("3 images 28×28×1 · checkpoint"), w.stdout);
  assertTrue(w.stdout.includes("· 2 workers"), w.stdout);
  assertEquals(
    Deno.readFileSync(npy2),
    Deno.readFileSync(npy),
    "the .npy does not depend on --workers",
  );
  assertEquals(
    decodePng(Deno.readFileSync(prog2)).data,
    p.data,
    "nor does the progression",
  );
  // the export keeps the EMA weights only, and sample reads it
  const model = join(dir, "model.safetensors");
  assertEquals(_cli("export", ["--checkpoint", ck, "--out", model]).code, 0);
  assertTrue(Deno.statSync(model).size < Deno.statSync(ck).size / 3, "export is about a quarter");
  const d = _cli("sample", [
    "--checkpoint",
    model,
    "--n",
    "1",
    "--sampler",
    "ddpm",
    "--steps",
    "3",
    "--out",
    png,
    "--backend",
    "wasm",
  ]);
  assertEquals(d.code, 0, d.stderr);
  assertTrue(d.stdout.includes("ddpm with 3 steps"), d.stdout);
  const e = _cli("sample", [
    ...["--checkpoint", model, "--n", "1", "--sampler", "dpm++", "--steps", "3", "--order", "3"],
    ...["--spacing", "karras", "--out", png, "--backend", "wasm"],
  ]);
  assertEquals(e.code, 0, e.stderr);
  assertTrue(e.stdout.includes("dpm++ (order 3) with 3 steps"), e.stdout);
});

Deno.test("cli: --null-teacher bundled teaches a conditional run's null class", async () => {
  const dir = Deno.makeTempDirSync();
  const t = _cli("train", [
    ...["--conditional", "--null-teacher", "bundled", "--class-dropout", "0.5", "--steps", "1"],
    ...["--batch", "2", "--limit", "8", "--out", dir, "--sample-every", "0", "--backend", "wasm"],
  ]);
  assertEquals(t.code, 0, t.stderr);
  const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
  const train = ck.config.train as { nullTeacher?: string };
  assertTrue(train.nullTeacher?.endsWith("mnist.safetensors"), JSON.stringify(train));
});

Deno.test("cli: a conditional run on Fashion-MNIST, then sample --class by name and index", async () => {
  const dir = Deno.makeTempDirSync();
  const t = _cli("train", [
    ...["--data", "fashion-mnist", "--conditional", "--class-dropout", "0.5", "--steps", "1"],
    ...["--batch", "2", "--limit", "8", "--out", dir, "--sample-every", "0", "--backend", "wasm"],
  ]);
  assertEquals(t.code, 0, t.stderr);
  assertTrue(t.stdout.includes("8 images 28×28×1 · preset mnist · 10 classes"), t.stdout);
  // the folder now holds a run: a second start is refused, --resume-or-start continues it
  const again = _cli("train", [
    "--data",
    "fashion-mnist",
    "--conditional",
    "--limit",
    "8",
    "--out",
    dir,
  ]);
  assertEquals(again.code, 1);
  assertTrue(again.stderr.includes(`Cannot train: ${dir} holds a run`), again.stderr);
  const noRun = _cli("train", ["--resume", "--out", join(dir, "empty"), "--backend", "cpu"]);
  assertTrue(noRun.stderr.includes("has no checkpoint.safetensors to resume"), noRun.stderr);
  const ck = join(dir, "checkpoint.safetensors");
  const sample = (...args: string[]) =>
    _cli("sample", [
      ...["--checkpoint", ck, "--n", "2", "--steps", "2", "--out", join(dir, "s.png")],
      ...["--backend", "wasm", "--workers", "1", ...args],
    ]);
  const byName = sample("--class", "Sneaker,bag", "--guidance", "2", "--npy", join(dir, "a.npy"));
  assertEquals(byName.code, 0, byName.stderr);
  assertTrue(byName.stdout.includes("classes sneaker,bag · guidance 2"), byName.stdout);
  const byIndex = sample("--class", "7,8", "--guidance", "2", "--npy", join(dir, "b.npy"));
  assertEquals(
    Deno.readFileSync(join(dir, "b.npy")),
    Deno.readFileSync(join(dir, "a.npy")),
    "names and indices are the same classes",
  );
  assertEquals(byIndex.code, 0, byIndex.stderr);
  const all = sample("--n", "12");
  assertTrue(all.stdout.includes("classes all 10 · guidance 1"), all.stdout);
  // one column per class: 10 columns and 2 rows of 2×-scaled 28-pixel tiles, 2-pixel gaps
  const grid = decodePng(Deno.readFileSync(join(dir, "s.png")));
  assertEquals([grid.width, grid.height], [10 * 56 + 11 * 2, 2 * 56 + 3 * 2]);
  const none = sample("--class", "none");
  assertTrue(none.stdout.includes("· unconditional"), none.stdout);
  const bad = sample("--class", "cat");
  assertEquals(bad.code, 1);
  assertTrue(
    bad.stderr.includes("--class must be all, none, or classes of this model (t-shirt, trouser"),
    bad.stderr,
  );
  // the export can record the recommended guidance, which sample then uses by default
  const model = join(dir, "model.safetensors");
  assertEquals(_cli("export", ["--checkpoint", ck, "--out", model, "--guidance", "3"]).code, 0);
  const rec = _cli("sample", [
    ...["--checkpoint", model, "--n", "1", "--steps", "1", "--out", join(dir, "r.png")],
    ...["--backend", "wasm", "--class", "5"],
  ]);
  assertTrue(rec.stdout.includes("classes sandal · guidance 3"), rec.stdout);
  // guidance in an interval: one holding every step is plain guidance; the export records one,
  // which sample then uses unless told "all"
  const everyStep = sample(
    "--guidance",
    "2",
    "--guidance-interval",
    "0,999",
    "--npy",
    join(dir, "c.npy"),
  );
  assertTrue(everyStep.stdout.includes("guidance 2 in t ∈ [0, 999]"), everyStep.stdout);
  assertEquals(
    Deno.readFileSync(join(dir, "c.npy")),
    Deno.readFileSync(join(dir, "a.npy")),
    "an interval of every step is plain guidance",
  );

  const tooLate = sample("--guidance-interval", "10,1000");
  assertEquals(tooLate.code, 1);
  assertTrue(
    tooLate.stderr.includes(
      "--guidance-interval must be LO,HI (timesteps, 0 <= LO <= HI < T = 1000) or all, got 10,1000",
    ),
    tooLate.stderr,
  );
  const withInterval = join(dir, "interval.safetensors");
  const ei = _cli("export", [
    ...[
      "--checkpoint",
      ck,
      "--out",
      withInterval,
      "--guidance",
      "3",
      "--guidance-interval",
      "85,585",
    ],
  ]);
  assertEquals(ei.code, 0, ei.stderr);
  assertEquals((await loadCheckpoint(withInterval)).config.guidanceInterval, [85, 585]);
  const recI = _cli("sample", [
    ...["--checkpoint", withInterval, "--n", "1", "--steps", "1", "--out", join(dir, "r.png")],
    ...["--backend", "wasm", "--class", "5"],
  ]);
  assertTrue(recI.stdout.includes("classes sandal · guidance 3 in t ∈ [85, 585]"), recI.stdout);
  const allSteps = _cli("sample", [
    ...["--checkpoint", withInterval, "--n", "1", "--steps", "1", "--out", join(dir, "r.png")],
    ...["--backend", "wasm", "--class", "5", "--guidance-interval", "all"],
  ]);
  assertTrue(allSteps.stdout.includes("classes sandal · guidance 3\n"), allSteps.stdout);
  // a separate unconditional network: the pair's --class none samples as that network does
  const pair = join(dir, "pair.safetensors");
  const ex = _cli("export", ["--checkpoint", ck, "--out", pair, "--unconditional", "bundled"]);
  assertEquals(ex.code, 0, ex.stderr);
  assertTrue(ex.stdout.includes("with the unconditional network of bundled"), ex.stdout);
  const draw = (npy: string, ...args: string[]) =>
    _cli("sample", [
      ...["--n", "2", "--steps", "2", "--seed", "3", "--out", join(dir, "p.png")],
      ...["--npy", join(dir, npy), "--backend", "wasm", "--workers", "1", ...args],
    ]);
  assertEquals(draw("pair.npy", "--checkpoint", pair, "--class", "none").code, 0);
  assertEquals(draw("bundled.npy", "--checkpoint", UNCONDITIONAL_MNIST).code, 0);
  assertEquals(
    Deno.readFileSync(join(dir, "pair.npy")),
    Deno.readFileSync(join(dir, "bundled.npy")),
    "guidance 0 of the pair is the bundled model, bit for bit",
  );
  const notCond = _cli("export", [
    ...["--checkpoint", pair, "--out", join(dir, "x.safetensors")],
    ...["--unconditional", join(dir, "model.safetensors")],
  ]);
  assertEquals(notCond.code, 1);
  assertTrue(
    notCond.stderr.includes("--unconditional: the unconditional network must be unconditional"),
    notCond.stderr,
  );
});

Deno.test("cli: sample --guidance-interval reaches the sampler (the conditional MNIST model)", () => {
  const dir = Deno.makeTempDirSync();
  const draw = (name: string, ...args: string[]) => {
    const r = _cli("sample", [
      ...["--checkpoint", CONDITIONAL_MNIST, "--class", "3", "--n", "2", "--steps", "2"],
      ...["--out", join(dir, "s.png"), "--npy", join(dir, name), "--backend", "wasm", ...args],
    ]);
    assertEquals(r.code, 0, r.stderr);
    return Deno.readFileSync(join(dir, name));
  };
  // the 2 DDIM steps are at t = 500 and 0: an interval holding neither is the conditional model
  const outside = draw("a.npy", "--guidance", "3", "--guidance-interval", "600,999");
  assertEquals(outside, draw("b.npy", "--guidance", "1"), "no step in [600, 999]: w = 1");
  const guided = draw("c.npy", "--guidance", "3", "--guidance-interval", "all");
  assertTrue(guided.some((v, i) => v !== outside[i]), "guidance at both steps changes the samples");
  assertEquals(draw("d.npy", "--guidance", "3", "--guidance-interval", "0,500"), guided);
});

Deno.test("cli: sample --class 7 (the bundled class-conditional model) draws sevens", async () => {
  const dir = Deno.makeTempDirSync();
  const npy = join(dir, "sevens.npy");
  const s = _cli("sample", [
    ...["--class", "7", "--n", "16", "--seed", "0", "--out", join(dir, "sevens.png")],
    ...["--npy", npy, "--backend", "wasm"],
  ]);
  assertEquals(s.code, 0, s.stderr);
  // the bundled model at the sampler and guidance its checkpoint recommends
  const { config } = await loadCheckpoint(BUNDLED_MNIST_CONDITIONAL);
  const rec = config.sampler!;
  for (
    const part of [
      `${rec.name} (η ${rec.eta}) with ${rec.steps ?? 50} steps`,
      "checkpoint bundled mnist-conditional (autoguidance",
      `classes 7 · guidance ${config.guidanceScale} in t ∈ [${
        config.guidanceInterval!.join(", ")
      }]`,
    ]
  ) assertTrue(s.stdout.includes(part), s.stdout);
  // the .npy: a 128-byte header (format 1.0), then uint8 [16, 28, 28, 1]; back to [-1, 1]
  const bytes = Deno.readFileSync(npy).subarray(128);
  assertEquals(bytes.length, 16 * 28 * 28);
  await useBackend("wasm");
  const x = tf.tensor4d(Float32Array.from(bytes, (b) => b / 127.5 - 1), [16, 28, 28, 1]);
  const { classifier } = await loadMnistClassifier();
  const { probs } = await classifierOutputs(classifier, x);
  classifier.dispose();
  x.dispose();
  const digits = Array.from({ length: 16 }, (_, i) => {
    const p = Array.from(probs.subarray(i * 10, i * 10 + 10));
    return p.indexOf(Math.max(...p));
  });
  // At its recommended settings (with the self-check) the model draws the digit asked for ~98% of
  // the time (its model card, n = 512 on two seeds), so at least 14 of 16 has a chance of ~0.99 for a new seed or
  // new weights as good; a model that ignored the class draws a seven 1 time in 10, and 14 of 16
  // then has a chance of ~1e-11.
  const sevens = digits.filter((d) => d === 7).length;
  assertTrue(sevens >= 14, `${sevens} of 16 classified as 7: ${digits}`);
});

Deno.test("cli: eval of the bundled checkpoint (small settings) writes its table, JSON, report and pictures", () => {
  const dir = Deno.makeTempDirSync();
  const r = _cli("eval", [
    ...["--n", "6", "--steps", "3", "--bpd-images", "4", "--strata", "3", "--out", dir],
    ...["--eta", "0.5", "--backend", "wasm"],
  ]);
  assertEquals(r.code, 0, r.stderr);
  for (const row of ["NLL bound (bits/dim)", "FID-MNIST", "mean confidence", "class entropy"]) {
    assertTrue(r.stdout.includes(row), r.stdout);
  }
  const res = JSON.parse(Deno.readTextFileSync(join(dir, "eval.json")));
  assertTrue(Number.isFinite(res.bpd.mean) && res.bpd.mean > 0, `bpd ${res.bpd.mean}`);
  assertEquals(res.bpd.images, 4);
  assertEquals(res.bpd.terms.length, 3);
  assertEquals(res.quality.generated.n, 6);
  assertEquals(res.quality.real.n, 6);
  assertTrue(res.quality.real.fid >= 0 && Number.isFinite(res.quality.generated.fid), "fid");
  assertEquals(res.sampling.eta, 0.5);
  const report = Deno.readTextFileSync(join(dir, "report.md"));
  assertTrue(report.includes("ddim with 3 steps (η = 0.5)"), report);
  for (const f of ["samples.png", "neighbours.png", "bpd_terms.svg", "loss_by_t.svg"]) {
    assertTrue(existsSync(join(dir, f)) && report.includes(`(${f})`), f);
  }
  // 6 samples in the grid; the neighbours picture has 6 rows of a sample and 3 neighbours
  const nb = decodePng(Deno.readFileSync(join(dir, "neighbours.png")));
  assertEquals([nb.width, nb.height], [4 * 28 * 2 + 5 * 2, 6 * 28 * 2 + 7 * 2]);
});

Deno.test("cli: eval of a conditional checkpoint adds the conditional accuracy and a guidance sweep", async () => {
  const dir = Deno.makeTempDirSync();
  const t = _cli("train", [
    ...["--conditional", "--steps", "1", "--batch", "2", "--limit", "8", "--out", dir],
    ...["--sample-every", "0", "--backend", "wasm"],
  ]);
  assertEquals(t.code, 0, t.stderr);
  const r = _cli("eval", [
    ...["--checkpoint", join(dir, "checkpoint.safetensors"), "--n", "4", "--steps", "2"],
    ...["--bpd-images", "2", "--strata", "2", "--sweep", "0,2", "--guidance", "3"],
    ...["--guidance-interval", "100,600", "--out", dir, "--backend", "wasm"],
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertTrue(r.stdout.includes("conditional accuracy"), r.stdout);
  const res = JSON.parse(Deno.readTextFileSync(join(dir, "eval.json")));
  assertEquals(res.sampling.guidance, 3);
  assertEquals(res.sampling.guidanceInterval, [100, 600]);
  const acc = res.quality.generated.conditional.accuracy;
  assertTrue(acc >= 0 && acc <= 1 && acc * 4 === Math.round(acc * 4), `accuracy ${acc} of 4`);

  assertEquals(res.guidanceSweep.map((s: { guidance: number }) => s.guidance), [0, 2]);
  const report = Deno.readTextFileSync(join(dir, "report.md"));
  assertTrue(report.includes("## Guidance trade-off") && report.includes("| 2 |"), report);
  // the real column: the 4 real digits (odd positions of the held-out set, evenly spaced) asked
  // for their own labels, as an independent classification of the same images says
  const held = loadMnist({ split: "test" }), odd = (k: number) => 2 * Math.floor(k * 499 / 4) + 1;
  await useBackend("wasm");
  const { classifier } = await loadMnistClassifier();
  const realAcc = await classifierAccuracy(classifier, _pick(held, [0, 1, 2, 3].map(odd)));
  classifier.dispose();
  assertEquals(res.quality.real.conditional.accuracy, realAcc);
  assertTrue(report.includes(`| ${acc.toFixed(3)} | ${realAcc.toFixed(3)} |`), report);
  assertTrue(report.includes("guidance 3 in t ∈ [100, 600]"), report);
  assertTrue(report.includes("at t ∈ [100, 600], the conditional model elsewhere"), report);
  for (const f of ["guidance_fid.svg", "guidance_accuracy.svg"]) {
    assertTrue(existsSync(join(dir, f)), f);
  }
});

Deno.test("cli: bad arguments exit with status 1 and one clear line", () => {
  const cases: [string, string[], string][] = [
    ["sample", ["--sampler", "foo"], "--sampler must be ddpm, ddim or dpm++, got foo"],
    ["sample", ["--order", "4"], "--order must be 1, 2 or 3, got 4"],
    ["sample", ["--steps", "5000"], "--steps must be at most the model's T = 1000, got 5000"],
    [
      "sample",
      ["--steps", "999"],
      "--steps 999: Cannot respace: no integer stride gives exactly 999",
    ],
    ["sample", ["--out", "grid.jpg"], "--out must end in .png, got grid.jpg"],
    ["sample", ["--n", "-1"], "--n must be an integer >= 1, got -1"],
    [
      "sample",
      ["--spacing", "cubic"],
      "--spacing must be ddim, logsnr, karras, linspace, trailing or even, got cubic",
    ],
    ["eval", ["--sampler", "euler"], "--sampler must be ddpm, ddim or dpm++, got euler"],
    ["sample", ["--n", "0"], "--n must be an integer >= 1, got 0"],
    ["sample", ["--eta=-1"], "--eta must be a number >= 0, got -1"],
    ["sample", ["--workers", "0"], "--workers must be an integer >= 1, got 0"],
    [
      "sample",
      ["--checkpoint", "/no/such.safetensors"],
      "Cannot load checkpoint /no/such.safetensors",
    ],
    ["train", ["--steps", "1.5"], "--steps must be an integer >= 1, got 1.5"],
    ["train", ["--data", "/no/such/folder"], "Cannot load images from /no/such/folder"],
    ["train", ["--preset", "imagenet"], "--preset must be mnist or cifar10, got imagenet"],
    ["train", ["--bogus"], "Unknown option '--bogus'"],
    ["train", ["--lr-decay", "step"], "--lr-decay must be constant, linear or cosine, got step"],
    ["train", ["--loss", "vlb"], "--loss vlb trains a learned variance: add --learn-sigma"],
    [
      "train",
      ["--learn-sigma", "--loss", "simple"],
      "--learn-sigma trains with --loss hybrid or vlb",
    ],
    ["train", ["--schedule", "quadratic"], "--schedule must be linear or cosine, got quadratic"],
    ["train", ["--lr-final=-1"], "--lr-final must be a number >= 0, got -1"],
    ["train", ["--workers", "0"], "--workers must be an integer >= 1, got 0"],
    ["train", ["--workers", "3", "--batch", "2"], "workers (3) must not exceed the batch size (2)"],
    ["eval", ["--variance", "learned"], "--variance must be fixedLarge or fixedSmall"],
    ["eval", ["--eta", "x"], "--eta must be a number >= 0, got x"],
    ["eval", ["--strata", "0"], "--strata must be an integer >= 1, got 0"],
    ["eval", ["--classifier", "/no/such.safetensors"], "Cannot load classifier /no/such"],
    ["train_classifier", ["--lr", "0"], "--lr must be a number > 0, got 0"],
    [
      "sample",
      ["--checkpoint", UNCONDITIONAL_MNIST, "--guidance", "2"],
      "--guidance needs a class-conditional checkpoint",
    ],
    [
      "sample",
      ["--checkpoint", UNCONDITIONAL_MNIST, "--guidance-interval", "1,2"],
      "--guidance-interval needs a class-conditional checkpoint",
    ],
    [
      "sample",
      ["--checkpoint", UNCONDITIONAL_MNIST, "--class", "7"],
      "--class 7 needs a class-conditional checkpoint",
    ],
    ["sample", ["--guidance=-1"], "--guidance must be a number >= 0, got -1"],
    ["eval", ["--guidance", "2"], "--guidance needs a class-conditional checkpoint"],
    ["train", ["--class-dropout", "x"], "--class-dropout must be a number >= 0, got x"],
    ["train", ["--min-snr", "0"], "--min-snr must be a number > 0, got 0"],
    ["train", ["--null-teacher", "bundled"], 'nullTeacher teaches the "no class" branch'],
    ["train", ["--class-dropout", "1"], "classDropout must be in [0, 1), got 1"],
    ["train", ["--train-only", "nope"], 'trainOnly "nope" names no parameter of this U-Net'],
    ["train", [
      "--conditional",
      "--data",
      "fashion-mnist",
      "--limit",
      "4",
      "--steps",
      "1",
      "--class-dropout",
      "2",
    ], "classDropout must be in [0, 1)"],
  ];
  for (const [script, args, msg] of cases) {
    const r = _cli(script, [...args, "--backend", "cpu"]);
    assertEquals(r.code, 1, `${script} ${args.join(" ")}`);
    assertTrue(r.stderr.includes(msg), `${script} ${args.join(" ")}: ${r.stderr}`);
    assertTrue(!r.stderr.includes("    at "), `no stack trace: ${r.stderr}`);
  }
});

Deno.test("cli: convert a diffusers folder, sample it, and export it back; bad arguments are one clear line", () => {
  const dir = Deno.makeTempDirSync();
  const fixture = new URL("./fixtures/interop/diffusers_ddpm_tiny", import.meta.url).pathname;
  const model = join(dir, "ddpm.safetensors");
  const c = _cli("convert", ["--from", "diffusers", "--in", fixture, "--out", model]);
  assertEquals(c.code, 0, c.stderr);
  assertTrue(c.stdout.includes("177,427 parameters"), c.stdout);
  const s = _cli("sample", [
    "--checkpoint",
    model,
    "--n",
    "2",
    "--steps",
    "3",
    "--backend",
    "cpu",
    "--out",
    join(dir, "s.png"),
  ]);
  assertEquals(s.code, 0, s.stderr);
  assertEquals(decodePng(Deno.readFileSync(join(dir, "s.png"))).channels, 3);
  const back = _cli("convert", ["--to", "diffusers", "--in", model, "--out", join(dir, "back")]);
  assertEquals(back.code, 0, back.stderr);
  const config = JSON.parse(Deno.readTextFileSync(join(dir, "back", "config.json")));
  assertEquals([config.downsample_padding, config.norm_eps, config.freq_shift], [0, 1e-6, 1]);
  const cases: [string[], string][] = [
    [
      ["--from", "keras", "--in", fixture, "--out", model],
      "--from must be diffusers or improved-diffusion, got keras",
    ],
    [["--from", "diffusers", "--out", model], "--in is required"],
    [["--from", "improved-diffusion", "--in", model, "--out", model], "--image-size is required"],
    [
      ["--from", "diffusers", "--in", "/no/such", "--out", model],
      "Cannot read diffusers folder: /no/such/config.json",
    ],
    [
      ["--from", "diffusers", "--in", fixture, "--out", "x.bin"],
      "--out must end in .safetensors, got x.bin",
    ],
    [
      ["--from", "diffusers", "--to", "diffusers", "--in", fixture, "--out", model],
      "give --from or --to, not both",
    ],
  ];
  for (const [args, msg] of cases) {
    const r = _cli("convert", args);
    assertEquals(r.code, 1, args.join(" "));
    assertTrue(r.stderr.includes(msg), `${args.join(" ")}: ${r.stderr}`);
    assertTrue(!r.stderr.includes("    at "), `no stack trace: ${r.stderr}`);
  }
});

Deno.test("cli: export --float16 halves the file and samples like the float32 weights", async () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "half.safetensors");
  const r = _cli("export", [
    "--checkpoint",
    "checkpoints/mnist.safetensors",
    "--out",
    out,
    "--float16",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertTrue(r.stdout.includes("float16 EMA weights"), r.stdout);
  const w = (await loadCheckpoint(out)).ema;
  const ref = (await loadCheckpoint("checkpoints/mnist.safetensors")).ema;
  assertEquals([...w.keys()], [...ref.keys()]);
  // 4 bytes a parameter against 2; the headers (≈ 30 kB) differ only in offsets' digits
  const params = [...ref.values()].reduce((n, t) => n + t.data.length, 0);
  const full = Deno.statSync("checkpoints/mnist.safetensors").size;
  const half = Deno.statSync(out).size;
  assertTrue(Math.abs(full - half - 2 * params) < 2_000, `${full} → ${half}, ${params} weights`);
  const draw = (checkpoint: string, name: string) => {
    const s = _cli("sample", [
      ...["--checkpoint", checkpoint, "--n", "4", "--steps", "10", "--seed", "3"],
      ...["--out", join(dir, "s.png"), "--npy", join(dir, name), "--backend", "wasm"],
    ]);
    assertEquals(s.code, 0, s.stderr);
    return Deno.readFileSync(join(dir, name)).subarray(128); // the pixels after the .npy header
  };
  const a = draw(out, "a.npy"), b = draw("checkpoints/mnist.safetensors", "b.npy");
  let worst = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    sum += Math.abs(a[i] - b[i]);
  }
  // each weight moves by at most 2^-11 of itself; ten deterministic steps carry that into the
  // pixels (measured: 0.15 of 255 on average, 21 at one edge pixel): the bounds say "the same
  // images", where a wrong conversion redraws them (tens on average)
  assertTrue(sum / a.length < 1 && worst <= 64, `mean ${sum / a.length}, largest ${worst}`);
});

Deno.test("cli: export --sampler records the sampler that sample and eval then use by default", () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "rec.safetensors");
  const bundled = "checkpoints/mnist.safetensors";
  const e = _cli("export", [
    ...["--checkpoint", bundled, "--out", out],
    ...["--sampler", "ddim", "--steps", "3", "--eta", "1"],
  ]);
  assertEquals(e.code, 0, e.stderr);
  assertTrue(e.stdout.includes("sampling with ddim 3 steps η 1"), e.stdout);
  const draw = (checkpoint: string, name: string, ...flags: string[]) => {
    const s = _cli("sample", [
      ...["--checkpoint", checkpoint, "--n", "2", "--seed", "3", ...flags],
      ...["--out", join(dir, "s.png"), "--npy", join(dir, name), "--backend", "wasm"],
    ]);
    assertEquals(s.code, 0, s.stderr);
    return { stdout: s.stdout, pixels: Deno.readFileSync(join(dir, name)) };
  };
  const byDefault = draw(out, "a.npy");
  assertTrue(byDefault.stdout.includes("ddim (η 1) with 3 steps"), byDefault.stdout);
  const spelled = draw(bundled, "b.npy", "--sampler", "ddim", "--steps", "3", "--eta", "1");
  assertEquals(byDefault.pixels, spelled.pixels);
  // η given on the command line wins over the recommended one: other images
  const eta0 = draw(out, "c.npy", "--eta", "0");
  assertTrue(eta0.stdout.includes("ddim with 3 steps"), eta0.stdout);
  assertEquals(eta0.pixels, draw(bundled, "d.npy", "--steps", "3").pixels);
  assertTrue(
    eta0.pixels.some((v, i) => v !== byDefault.pixels[i]),
    "η 0 and η 1 draw different images",
  );
  const ev = _cli("eval", [
    ...["--checkpoint", out, "--n", "2", "--bpd-images", "1", "--strata", "1"],
    ...["--out", join(dir, "eval"), "--backend", "wasm"],
  ]);
  assertEquals(ev.code, 0, ev.stderr);
  const sampling = JSON.parse(Deno.readTextFileSync(join(dir, "eval", "eval.json"))).sampling;
  assertEquals([sampling.sampler, sampling.steps, sampling.eta], ["ddim", 3, 1]);
  const bad: [string[], string][] = [
    [["--eta", "1"], "--steps and --eta go with --sampler"],
    [["--sampler", "dpm++", "--eta", "1"], "--eta is DDIM's η: it needs --sampler ddim"],
    [["--sampler", "euler"], "--sampler must be ddpm, ddim or dpm++, got euler"],
  ];
  for (const [flags, msg] of bad) {
    const r = _cli("export", [
      "--checkpoint",
      bundled,
      "--out",
      join(dir, "x.safetensors"),
      ...flags,
    ]);
    assertEquals(r.code, 1, flags.join(" "));
    assertTrue(r.stderr.includes(msg), `${flags.join(" ")}: ${r.stderr}`);
  }
});

Deno.test("cli: export --self-check records the self-check that sample and eval then apply", () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "checked.safetensors");
  const e = _cli("export", [
    ...["--checkpoint", CONDITIONAL_MNIST, "--out", out, "--float16"],
    ...["--sampler", "ddim", "--steps", "3", "--self-check", "350,450", "--self-check-rounds", "1"],
  ]);
  assertEquals(e.code, 0, e.stderr);
  assertTrue(e.stdout.includes("self-checked at t ∈ {350, 450} (up to 1 draws again)"), e.stdout);
  const draw = (name: string, ...flags: string[]) => {
    const s = _cli("sample", [
      ...["--checkpoint", out, "--n", "4", "--seed", "2", "--workers", "2", ...flags],
      ...["--out", join(dir, "s.png"), "--npy", join(dir, name), "--backend", "wasm"],
    ]);
    assertEquals(s.code, 0, s.stderr);
    return { stdout: s.stdout, pixels: Deno.readFileSync(join(dir, name)) };
  };
  const checked = draw("a.npy");
  assertTrue(/self-check: \d+ draws? again for 4 images/.test(checked.stdout), checked.stdout);
  const off = draw("b.npy", "--self-check", "none");
  assertTrue(!off.stdout.includes("self-check"), off.stdout);
  // where no row was drawn again the two agree; where one was, they differ
  const redrawn = Number(/self-check: (\d+) draw/.exec(checked.stdout)![1]);
  assertEquals(checked.pixels.some((v, i) => v !== off.pixels[i]), redrawn > 0);
  const ev = (name: string, ...flags: string[]) => {
    const r = _cli("eval", [
      ...["--checkpoint", out, "--n", "4", "--bpd-images", "1", "--strata", "1", "--sweep", "none"],
      ...["--out", join(dir, name), "--backend", "wasm", ...flags],
    ]);
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(Deno.readTextFileSync(join(dir, name, "eval.json"))).sampling;
  };
  const withCheck = ev("eval-a");
  assertEquals([withCheck.selfCheck.timesteps, withCheck.selfCheck.rounds], [[350, 450], 1]);
  assertTrue(withCheck.selfCheck.redrawn >= 0 && withCheck.selfCheck.stillOther >= 0, "tally");
  assertEquals(ev("eval-b", "--self-check", "none").selfCheck, undefined);
  const bad: [string, string[], string][] = [
    [
      "export",
      ["--checkpoint", CONDITIONAL_MNIST, "--self-check-rounds", "2"],
      "--self-check-rounds and --self-check-margin go with --self-check",
    ],
    [
      "export",
      ["--checkpoint", CONDITIONAL_MNIST, "--self-check", "5,5"],
      "--self-check must be none or distinct timesteps T1,T2,… (each < T = 1000), got 5,5",
    ],
    [
      "export",
      ["--checkpoint", UNCONDITIONAL_MNIST, "--self-check", "5"],
      "--self-check needs a class-conditional checkpoint",
    ],
    [
      "export",
      ["--checkpoint", CONDITIONAL_MNIST, "--self-check", "5", "--self-check-margin", "1"],
      "--self-check-margin must be a number in [0, 1), got 1",
    ],
    ["sample", ["--checkpoint", out, "--self-check", "yes"], "--self-check must be none, got yes"],
  ];
  for (const [script, flags, msg] of bad) {
    const r = _cli(script, [
      ...flags,
      "--out",
      join(dir, script === "export" ? "x.safetensors" : "x.png"),
    ]);
    assertEquals(r.code, 1, flags.join(" "));
    assertTrue(r.stderr.includes(msg), `${flags.join(" ")}: ${r.stderr}`);
  }
});

Deno.test("cli: export --autoguide carries a guide network that sample uses", async () => {
  const dir = Deno.makeTempDirSync();
  const guide = "checkpoints/wip/mnist-conditional-stage13.safetensors";
  const exportWith = (name: string, ...args: string[]) => {
    const r = _cli("export", [
      "--checkpoint",
      CONDITIONAL_MNIST,
      "--out",
      join(dir, name),
      ...args,
    ]);
    assertEquals(r.code, 0, r.stderr);
    return r;
  };
  const draw = (checkpoint: string, name: string, says = "", guidance = "1") => {
    const r = _cli("sample", [
      ...["--checkpoint", checkpoint, "--class", "3", "--guidance", guidance],
      ...["--n", "2", "--steps", "2", "--out", join(dir, "s.png"), "--npy", join(dir, name)],
      ...["--backend", "wasm"],
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertTrue(r.stdout.includes(says), r.stdout);
    return Deno.readFileSync(join(dir, name));
  };
  const ex = exportWith("auto0.safetensors", "--autoguide", guide, "--autoguide-weight", "0");
  assertTrue(ex.stdout.includes(`autoguided by ${guide} at weight 0`), ex.stdout);
  // weight 0 is the guide alone, bit for bit; weight 2.5 neither network
  const guided0 = draw(join(dir, "auto0.safetensors"), "a.npy");
  assertEquals(guided0, draw(guide, "b.npy"), "autoguidance weight 0 samples as the guide");
  exportWith("auto.safetensors", "--autoguide", guide, "--autoguide-weight", "2.5");
  const auto = draw(join(dir, "auto.safetensors"), "c.npy", "auto.safetensors (autoguidance 2.5)");
  const plain = draw(CONDITIONAL_MNIST, "d.npy");
  assertTrue(auto.some((v, i) => v !== plain[i]), "weight 2.5 differs from the model alone");
  assertTrue(auto.some((v, i) => v !== guided0[i]), "weight 2.5 differs from the guide alone");
  // a re-export keeps the guide and a separate unconditional network
  exportWith("pair.safetensors", "--autoguide", guide, "--autoguide-weight", "2.5");
  const again = _cli("export", [
    ...["--checkpoint", join(dir, "pair.safetensors"), "--out", join(dir, "again.safetensors")],
    ...["--unconditional", "bundled"],
  ]);
  assertEquals(again.code, 0, again.stderr);
  const kept = await loadCheckpoint(join(dir, "again.safetensors"));
  assertEquals(kept.config.autoguidance?.weight, 2.5);
  assertTrue(kept.guide !== undefined && kept.unconditional !== undefined, "both networks kept");
  // --autoguide-unconditional W0 autoguides ε(x, ∅) by the guide's null class: at W0 = 0 that null
  // class alone, so guidance 0 samples as the guide does at guidance 0, bit for bit
  const nullEx = exportWith(
    "null0.safetensors",
    ...["--autoguide", guide, "--autoguide-weight", "2.5", "--unconditional", "bundled"],
    ...["--autoguide-unconditional", "0"],
  );
  assertTrue(nullEx.stdout.includes("ε(x, ∅) autoguided at weight 0"), nullEx.stdout);
  assertEquals(
    draw(join(dir, "null0.safetensors"), "e.npy", "(autoguidance 2.5, ∅ 0)", "0"),
    draw(guide, "f.npy", "", "0"),
    "ε(x, ∅) autoguided at weight 0 samples as the guide's null class",
  );
  // bad guides: one clear error each
  const fail = (...args: string[]) =>
    _cli("export", [
      ...["--checkpoint", CONDITIONAL_MNIST, "--out", join(dir, "x.safetensors"), ...args],
    ]);
  const noWeight = fail("--autoguide", guide);
  assertEquals(noWeight.code, 1);
  assertTrue(
    noWeight.stderr.includes("--autoguide and --autoguide-weight go together"),
    noWeight.stderr,
  );
  const unconditionalGuide = fail(
    ...["--autoguide", "checkpoints/mnist.safetensors", "--autoguide-weight", "2"],
  );
  assertEquals(unconditionalGuide.code, 1);
  assertTrue(
    unconditionalGuide.stderr.includes("--autoguide: the guide must take the model's 10 classes"),
    unconditionalGuide.stderr,
  );
  const noGuide = fail("--autoguide-unconditional", "1.5");
  assertTrue(
    noGuide.stderr.includes("--autoguide-unconditional needs a guide network"),
    noGuide.stderr,
  );
  const noUnconditional = fail(
    ...["--autoguide", guide, "--autoguide-weight", "2", "--autoguide-unconditional", "1.5"],
  );
  assertTrue(
    noUnconditional.stderr.includes(
      "--autoguide-unconditional: an unconditionalWeight autoguides a separate unconditional " +
        "network, and there is none",
    ),
    noUnconditional.stderr,
  );
  const badWeight = fail("--autoguide", guide, "--autoguide-weight", "lots");
  assertTrue(
    badWeight.stderr.includes('--autoguide-weight must be a finite number, got "lots"'),
    badWeight.stderr,
  );
});
