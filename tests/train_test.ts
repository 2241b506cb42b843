// The trainer: bit-for-bit resume, NaN stops with the last good checkpoint intact, crash-safe
// checkpoint writes, the files it writes, and clear errors for bad options.
import * as tf from "@tensorflow/tfjs-core";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCheckpoint } from "../mod.ts";
import { train, type TrainOptions } from "../fs.ts";
import { stripes, TINY, tinyTrainOptions } from "./_tiny.ts";
import { assertClose, assertSameCheckpoint, backendTest, read, useBackend } from "./_helpers.ts";
import { _clipByGlobalNorm, _flatNorm } from "../src/train/_clip.ts";
import { _uniformGenerator } from "../src/_random.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { _learningRate, type _LrSchedule } from "../src/_lr.ts";
import fc from "fast-check";

const _log = (dir: string) =>
  readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

for (const backend of ["cpu", "wasm", "webgpu"] as const) {
  Deno.test({
    name:
      `train: a run resumed from its step-3 checkpoint reproduces the uninterrupted run bit for bit [${backend}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await useBackend(backend);
      const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
      const before = tf.memory().numTensors;
      const whole = await train(tinyTrainOptions(a, 6));
      assertEquals(tf.memory().numTensors, before, "train leaves no tensors behind");
      await train(tinyTrainOptions(b, 3));
      const resumed = await train(tinyTrainOptions(b, 6, { resume: true }));
      assertEquals(resumed.losses, whole.losses.slice(3), "losses of steps 4–6");
      assertEquals(_log(b).map((r) => r.loss), whole.losses, "the resumed log has every step once");
      const [ca, cb] = [
        await loadCheckpoint(join(a, "checkpoint.safetensors")),
        await loadCheckpoint(join(b, "checkpoint.safetensors")),
      ];
      assertEquals(cb.state!.step, 6);
      // every saved tensor, on every backend (on webgpu conv_in.w used to differ by ~3e-4:
      // tf.addN of ~300 gradient norms returned garbage there, see src/train/_clip.ts)
      for (const group of ["params", "ema", "adamM", "adamV"] as const) {
        for (const [name, w] of ca[group]!) {
          assertEquals(cb[group]!.get(name)!.data, w.data, `${group}.${name}`);
        }
      }
      assertTrue(whole.losses.every(Number.isFinite), "finite losses");
    },
  });
}

Deno.test({
  name:
    "train: an aborted signal stops after the step in progress with its checkpoint; resume is bit for bit",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    await train(tinyTrainOptions(a, 7, { checkpointEvery: 5 }));
    const stop = new AbortController();
    const before = tf.memory().numTensors;
    const stopped = await train(
      tinyTrainOptions(b, 7, {
        checkpointEvery: 5,
        signal: stop.signal,
        onStep: ({ step }) => void (step === 3 && stop.abort()),
      }),
    );
    assertEquals(tf.memory().numTensors, before, "a stopped run leaves no tensors behind");
    assertEquals([stopped.step, stopped.stopped, stopped.losses.length], [3, true, 3]);
    assertEquals((await loadCheckpoint(join(b, "checkpoint.safetensors"))).state!.step, 3);
    assertEquals(_log(b).map((r) => r.step), [1, 2, 3]);
    assertTrue(!existsSync(join(b, "train.lock")), "the lock is released");
    const resumed = await train(tinyTrainOptions(b, 7, { checkpointEvery: 5, resume: true }));
    assertEquals([resumed.resumedFrom, resumed.stopped], [3, undefined]);
    await assertSameCheckpoint(
      join(a, "checkpoint.safetensors"),
      join(b, "checkpoint.safetensors"),
    );
    // aborted at the last step: nothing to stop, the run ends as usual
    const c = await Deno.makeTempDir();
    const last = new AbortController();
    const whole = await train(
      tinyTrainOptions(c, 2, {
        signal: last.signal,
        onStep: ({ step }) => void (step === 2 && last.abort()),
      }),
    );
    assertEquals([whole.step, whole.stopped], [2, undefined]);
  },
});

Deno.test({
  name: "train: a NaN loss stops training with a clear error and keeps the last good checkpoint",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    await train(tinyTrainOptions(dir, 3));
    const good = readFileSync(join(dir, "checkpoint.safetensors"));
    const bad = stripes();
    bad.images.fill(NaN);
    await assertRejects(
      () => train(tinyTrainOptions(dir, 6, { data: bad, resume: true })),
      Error,
      `Training stopped at step 4: the loss is NaN (gradient norm NaN); the last good checkpoint is ${
        join(dir, "checkpoint.safetensors")
      }`,
    );
    assertEquals(readFileSync(join(dir, "checkpoint.safetensors")), good, "checkpoint unchanged");
    assertEquals((await loadCheckpoint(join(dir, "checkpoint.safetensors"))).state!.step, 3);
  },
});

Deno.test({
  name: "train: writes the checkpoint, a JSONL log, sample grids and a loss curve",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const seen: number[] = [];
    await train(
      tinyTrainOptions(dir, 4, {
        sampleEvery: 2,
        sampleCount: 4,
        onStep: (i) => seen.push(i.step),
      }),
    );
    assertEquals(seen, [1, 2, 3, 4]);
    const log = _log(dir);
    assertEquals(log.map((r) => r.step), [1, 2, 3, 4]);
    // warm-up: lr_k = lr · min(1, k / 2)
    assertEquals(log.map((r) => r.lr), [5e-4, 1e-3, 1e-3, 1e-3]);
    assertTrue(log.every((r) => r.gradNorm > 0 && r.seconds > 0), "gradNorm and time logged");
    assertEquals(readdirSync(join(dir, "samples")).sort(), ["step-000002.png", "step-000004.png"]);
    const svg = readFileSync(join(dir, "loss.svg"), "utf8");
    assertTrue(svg.startsWith("<svg") && svg.includes("<path"), "loss.svg has a curve");
    const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
    assertEquals(ck.config.schedule, { kind: "linear", T: 1000 });
    assertEquals(ck.config.train?.batchSize, 4);
    assertEquals(ck.params!.size, ck.ema.size);
  },
});

Deno.test({
  name: "train: a checkpoint write killed at any moment leaves the previous file whole",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // A child process rewrites a 48 MB checkpoint in a loop; we SIGKILL it at several moments
    // and load what is on disk each time: always a whole checkpoint, never a torn one.
    const dir = await Deno.makeTempDir();
    const path = join(dir, "checkpoint.safetensors");
    const script = join(dir, "writer.ts");
    Deno.writeTextFileSync(
      script,
      `import { saveCheckpoint } from ${JSON.stringify(new URL("../fs.ts", import.meta.url).href)};
const config = { unet: ${JSON.stringify(TINY)}, schedule: { kind: "linear", T: 10 } };
for (let k = 0; ; k++) {
  const data = new Float32Array(12_000_000).fill(k);
  saveCheckpoint(${JSON.stringify(path)}, { config, state: { step: k, adamStep: k, seconds: 0 },
    ema: new Map([["w", { shape: [data.length], data }]]) });
  console.log(k);
}`,
    );
    const config = new URL("../deno.json", import.meta.url).pathname;
    for (const delay of [150, 700, 1300]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, script],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // let it finish one whole write, then kill it `delay` ms later, mid-way through another
      for (let i = 0; i < 600 && !existsSync(path); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, delay));
      try {
        child.kill("SIGKILL");
      } catch {
        throw new Error(
          `the writer exited early: ${new TextDecoder().decode((await child.output()).stderr)}`,
        );
      }
      await child.status;
      await child.stderr.cancel();
      const ck = await loadCheckpoint(path);
      const w = ck.ema.get("w")!.data;
      assertTrue(
        w[0] === ck.state!.step && w[w.length - 1] === ck.state!.step,
        "data and state agree",
      );
    }
  },
});

backendTest(
  "gradient clipping over 300 gradients matches float64, and so does the end-to-end norm (webgpu's addN of that many gave 0)",
  async () => {
    const u = _uniformGenerator(4, 0);
    const values = Array.from(
      { length: 300 },
      (_, i) => Float32Array.from({ length: 1 + (i % 7) }, () => 2 * u() - 1),
    );
    let sq = 0;
    for (const v of values) for (const x of v) sq += x * x;
    const norm64 = Math.sqrt(sq);
    const grads = new Map(values.map((v, i) => [`g${i}`, tf.tensor1d(v)]));
    for (const maxNorm of [norm64 / 2, norm64 * 2]) {
      const { clipped, norm } = _clipByGlobalNorm(grads, maxNorm);
      assertClose(await read(norm), [norm64], "norm", { atol: 1e-6, rtol: 1e-5 });
      const scale = Math.min(1, maxNorm / norm64);
      const got = await read(clipped.get("g299")!);
      assertClose(got, Array.from(values[299], (x) => x * scale), "clipped", {
        atol: 1e-6,
        rtol: 1e-5,
      });
      clipped.forEach((g) => g.dispose());
    }
    // the fused optimizer's norm (the gradients end to end) against the same float64 value
    assertClose(await read(_flatNorm(grads)), [norm64], "flat norm", { atol: 1e-6, rtol: 1e-5 });
    grads.forEach((g) => g.dispose());
  },
);

Deno.test("learning rate: warm-up, stable stretch, then a linear or cosine decay to lrFinal", () => {
  // Closed forms in float64: every comparison holds to 1e-12 relative to lr (a few ulps of the
  // arithmetic in _learningRate), far below any learning rate that matters.
  const schedule = fc.record({
    lr: fc.double({ min: 1e-6, max: 1e-2, noNaN: true }),
    final: fc.double({ min: 0, max: 1, noNaN: true }),
    warmup: fc.integer({ min: 1, max: 100 }),
    stable: fc.integer({ min: 0, max: 100 }),
    span: fc.integer({ min: 0, max: 1000 }),
    lrDecay: fc.constantFrom("constant", "linear", "cosine"),
  }).map(({ lr, final, warmup, stable, span, lrDecay }): _LrSchedule => ({
    lr,
    lrFinal: lr * final,
    warmup,
    decayStart: warmup + stable,
    steps: warmup + stable + span,
    lrDecay: lrDecay as _LrSchedule["lrDecay"],
  }));
  fc.assert(
    fc.property(schedule, (s) => {
      const eps = 1e-12 * s.lr;
      const near = (a: number, b: number, what: string) =>
        assertTrue(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b} (${JSON.stringify(s)})`);
      const at = (k: number) => _learningRate(k, s);
      // the warm-up, then lr until the decay starts
      for (let k = 1; k <= s.decayStart; k++) {
        near(at(k), s.lr * Math.min(1, k / s.warmup), `k ${k}`);
      }
      const span = s.steps - s.decayStart;
      for (let k = s.decayStart; k <= s.steps; k++) {
        if (s.lrDecay === "constant") {
          near(at(k), s.lr, `constant, k ${k}`);
          continue;
        }
        // within [lrFinal, lr] and never rising
        assertTrue(at(k) <= s.lr + eps && at(k) >= s.lrFinal - eps, `bounds at ${k}`);
        if (k > s.decayStart) assertTrue(at(k) <= at(k - 1) + eps, `non-increasing at ${k}`);
        const mirror = s.decayStart + s.steps - k;
        if (s.lrDecay === "linear" && k > s.decayStart) {
          // equal decrements of (lr - lrFinal) / span
          near(at(k - 1) - at(k), (s.lr - s.lrFinal) / span, `linear decrement at ${k}`);
        }
        if (s.lrDecay === "cosine" && span > 0) {
          // ½(1 + cos πp) + ½(1 + cos π(1 - p)) = 1: point symmetry about the middle
          near(at(k) + at(mirror), s.lr + s.lrFinal, `cosine symmetry at ${k}`);
        }
      }
      if (s.lrDecay !== "constant" && span > 0) near(at(s.steps), s.lrFinal, "the last step");
      // past the last step (a run extended without --decay-start) it stays at the end value
      near(at(s.steps + 7), at(s.steps), "after the last step");
    }),
    { numRuns: 300 },
  );
});

Deno.test("train: the log's learning rates follow lrDecay (cosine from step 1 to 0 at step 5)", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  await train(
    tinyTrainOptions(dir, 5, { lr: 1e-3, warmup: 1, lrDecay: "cosine", lrFinal: 0 }),
  );
  // p = (k - 1) / 4: ½(1 + cos πp) = 1, (2 + √2) / 4, ½, (2 - √2) / 4, 0
  const want = [1, (2 + Math.SQRT2) / 4, 0.5, (2 - Math.SQRT2) / 4, 0].map((x) => 1e-3 * x);
  assertClose(_log(dir).map((r) => r.lr), want, "lr by step", { atol: 1e-15, rtol: 1e-12 });
  const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
  const t = ck.config.train as Record<string, unknown>;
  assertEquals([t.lrDecay, t.lrFinal, t.decayStart], ["cosine", 0, 1], "stored in the checkpoint");
});

Deno.test("train: bad options get clear errors", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const cases: [Partial<TrainOptions>, string][] = [
    [{ steps: 0 }, "Cannot train: steps must be an integer >= 1, got 0"],
    [{ unet: { ...TINY, imageSize: 16 } }, "the data is 8×8×1 but the U-Net expects 16×16×1"],
    [{ lr: -1 }, "lr must be a finite number > 0, got -1"],
    [{ emaDecay: 1 }, "emaDecay must be in (0, 1), got 1"],
    [
      { lrDecay: "step" as TrainOptions["lrDecay"] },
      'lrDecay must be "constant", "linear" or "cosine", got step',
    ],
    [{ lr: 1e-3, lrFinal: 2e-3 }, "lrFinal must be in [0, lr = 0.001], got 0.002"],
    [{ warmup: 3, decayStart: 2 }, "decayStart must be an integer >= warmup (3), got 2"],
    [{ batchSize: 2.5 }, "batchSize must be an integer >= 1, got 2.5"],
    [{ minSnrGamma: 0 }, "minSnrGamma must be a finite number > 0, got 0"],
    [
      { data: { images: new Float32Array(10), shape: [1, 8, 8, 1], source: "x" } },
      "data.images has 10 values",
    ],
  ];
  for (const [patch, msg] of cases) {
    await assertRejects(() => train({ ...tinyTrainOptions(dir, 2), ...patch }), RangeError, msg);
  }
  await train(tinyTrainOptions(dir, 1));
  await assertRejects(
    () => train(tinyTrainOptions(dir, 2, { resume: true, unet: { ...TINY, ch: 16 } })),
    RangeError,
    "Cannot resume from",
  );
});

Deno.test({
  name:
    "train: minSnrGamma weights L_simple — γ above every SNR_t is the plain loss, a small γ is not; 2 workers match 1; recorded; resume refuses another γ",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const dir = () => Deno.makeTempDir();
    const run = async (steps: number, extra: Partial<TrainOptions> = {}, out?: string) =>
      train(tinyTrainOptions(out ?? await dir(), steps, extra));
    const plain = await run(3);
    // linear β, T = 1000: the largest SNR_t is ᾱ_0/(1 - ᾱ_0) ≈ 1e4, so γ = 1e9 weights every
    // example by exactly 1
    assertEquals((await run(3, { minSnrGamma: 1e9 })).losses, plain.losses);
    const out = await dir();
    const one = await run(3, { minSnrGamma: 0.5 }, out);
    const two = await run(3, { minSnrGamma: 0.5, workers: 2 });
    // the weights (≤ 1, < 1 wherever SNR_t > γ) lower the step-1 loss of the same batch
    assertTrue(one.losses[0] < plain.losses[0], `weighted ${one.losses[0]} < ${plain.losses[0]}`);
    // 2 shards: the same examples, summed in another order (float32 rounding of the mean)
    assertClose(two.losses, one.losses, "2 workers", { atol: 1e-6, rtol: 1e-5 });
    const ck = await loadCheckpoint(join(out, "checkpoint.safetensors"));
    assertEquals((ck.config.train as { minSnrGamma?: number }).minSnrGamma, 0.5);
    await assertRejects(
      () => run(4, { resume: true }, out),
      RangeError,
      '"minSnrGamma":0.5',
    );
    await assertRejects(
      () => run(1, { minSnrGamma: 5, loss: "hybrid", unet: { ...TINY, learnSigma: true } }),
      RangeError,
      'minSnrGamma weights L_simple, but loss is "hybrid"',
    );
  },
});
