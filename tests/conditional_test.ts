// Class-conditional models and classifier-free guidance: the guidance formula against a float64
// reference, w = 1 and w = 0 against the conditional and unconditional model exactly, the null
// class, class dropout, labels through data-parallel training and resume, and the exact oracle
// of a two-class Gaussian mixture (its conditional and unconditional ε are closed-form).
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { join } from "node:path";
import {
  classifierFreeGuidance,
  createUNet,
  ddimSampleLoop,
  epsLoss,
  type EpsModel,
  loadCheckpoint,
  makeSchedule,
  NULL_CLASS,
  pMeanVariance,
  pSampleLoop,
  respace,
  sampleLoop,
  SAMPLER_NAMES,
  samplingSchedule,
  type Schedule,
} from "../mod.ts";
import { train } from "../fs.ts";
import { assertClose, assertSameCheckpoint, backendTest, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { labelledStripes, stripes, TINY, tinyTrainOptions } from "./_tiny.ts";
import { _batchLabels } from "../src/_batches.ts";

const COND = { ...TINY, numClasses: 3 };

/**
 * A conditional TINY U-Net with every parameter perturbed: a fresh one's class embedding and
 * output convolution are zero, so its ε would not depend on the labels (or on anything).
 */
function condUNet(seed = 1) {
  const unet = createUNet(COND, { seed });
  let k = 0;
  for (const p of unet.params.values()) {
    p.assign(tf.tidy(() => tf.add(p, tf.randomNormal(p.shape, 0, 0.2, "float32", seed + k++))));
  }
  return unet;
}

Deno.test("classifierFreeGuidance: ε_u + w(ε_c − ε_u) against a float64 reference", () => {
  // float32: three roundings (sub, mul, add) of operands up to (1 + 2|w|)·max|ε|, so the error
  // is at most ~3 ulp of that scale; 4 ulp (2^-22) of it is the tolerance.
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 2, maxLength: 16 }),
      fc.double({ min: -2, max: 10, noNaN: true }),
      fc.integer({ min: 1, max: 1000 }),
      (values, w, shift) => {
        const n = values.length;
        const c = Float32Array.from(values);
        const u = Float32Array.from(values, (v, i) => Math.fround(v * 0.7 - (i % shift) / 100));
        const got = classifierFreeGuidance(tf.tensor1d(c), tf.tensor1d(u), w).dataSync();
        const ref = Array.from({ length: n }, (_, i) => u[i] + w * (c[i] - u[i]));
        const scale = Array.from(
          { length: n },
          (_, i) => (1 + 2 * Math.abs(w)) * Math.max(Math.abs(c[i]), Math.abs(u[i])),
        );
        assertClose(got, ref, `w = ${w}`, { atol: 1e-30, rtol: 2 ** -22, scale });
      },
    ),
    { seed: 19, numRuns: 200 },
  );
  assertThrows(
    () => classifierFreeGuidance(tf.zeros([2]), tf.zeros([3]), 1),
    RangeError,
    "Cannot apply guidance: epsUncond must have the shape of epsCond [2], got [3]",
  );
  assertThrows(
    () => classifierFreeGuidance(tf.zeros([2]), tf.zeros([2]), NaN),
    RangeError,
    "guidanceScale must be a finite number, got NaN",
  );
});

backendTest(
  "U-Net: numClasses adds (K + 1)·4ch parameters; the null class starts as the unconditional net",
  async (backend) => {
    const plain = createUNet(TINY, { seed: 3 }), cond = createUNet(COND, { seed: 3 });
    assertEquals(cond.numParams - plain.numParams, (3 + 1) * 4 * TINY.ch);
    assertEquals(createUNet({ ...TINY, numClasses: 0 }).config.numClasses, undefined);
    // class rows N(0, 0.5²), the null row zero
    const emb = await read(tf.clone(cond.params.get("label_emb.w")!));
    const rms = Math.sqrt(emb.subarray(0, 3 * 32).reduce((a, v) => a + v * v, 0) / (3 * 32));
    assertTrue(Math.abs(rms - 0.5) < 0.1, `class rows' rms ${rms} (96 draws of N(0, 0.25))`);
    assertEquals(emb.subarray(3 * 32), new Float32Array(32), "the null row is zero");
    // the same perturbation of the shared weights (a fresh output conv is zero)
    let k = 0;
    for (const [name, p] of plain.params) {
      const noise = tf.randomNormal(p.shape, 0, 0.2, "float32", k++);
      p.assign(tf.add(p, noise));
      cond.params.get(name)!.assign(tf.add(cond.params.get(name)!, noise));
      noise.dispose();
    }
    // without labels (the null class) a new conditional network computes the unconditional one
    const x = tf.randomNormal([4, 8, 8, 1], 0, 1, "float32", 2);
    const t = tf.tensor1d([0, 10, 500, 999], "int32");
    const ref = await read(plain(x, t));
    assertTrue(ref.some((v) => Math.abs(v) > 1e-3), "the output is not trivially zero");
    // cpu and wasm: the same ops, bit for bit; webgpu: the unconditional network's timestep
    // branch is one fused program, the conditional one's the composition (float32 rounding)
    const tol = backend === "webgpu" ? { atol: 1e-5, rtol: 1e-5 } : { atol: 0, rtol: 0 };
    const nulls = await read(cond(x, t, tf.tensor1d([-1, -1, -1, NULL_CLASS], "int32")));
    assertClose(nulls, ref, "the null class", tol);
    assertClose(await read(cond(x, t)), ref, "no labels = the null class", tol);
    const labelled = await read(cond(x, t, tf.tensor1d([0, 1, 2, 0], "int32")));
    assertTrue(labelled.some((v, i) => Math.abs(v - ref[i]) > 1e-4), "class rows change ε");
    plain.dispose();
    cond.dispose();
  },
);

backendTest(
  "U-Net: no labels is the null class; labels change ε; bad labels are clear errors",
  async () => {
    const unet = condUNet();
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 4);
    const t = tf.tensor1d([5, 50, 400], "int32");
    const none = await read(unet(x, t));
    const nulls = await read(unet(x, t, tf.tensor1d([-1, -1, -1], "int32")));
    assertEquals(nulls, none);
    const labelled = await read(unet(x, t, tf.tensor1d([0, 1, 2], "int32")));
    assertTrue(labelled.some((v, i) => Math.abs(v - none[i]) > 1e-4), "labels change ε");
    assertThrows(
      () => unet(x, t, tf.tensor1d([0, 3, 1], "int32")),
      RangeError,
      "Cannot run U-Net: y must hold classes in [0, 2] or NULL_CLASS (-1), got y[1] = 3",
    );
    assertThrows(
      () => unet(x, t, tf.tensor1d([0, 1], "int32")),
      RangeError,
      "Cannot run U-Net: y must be an int32 tensor [3], got int32 [2]",
    );
    const plain = createUNet(TINY);
    assertThrows(
      () => plain(x, t, tf.tensor1d([0, 1, 2], "int32")),
      RangeError,
      "y (class labels) was given, but this U-Net is unconditional",
    );
    unet.dispose();
    plain.dispose();
  },
);

backendTest(
  "guidance: w = 1 is the conditional model and w = 0 the unconditional one, exactly",
  async () => {
    const unet = condUNet();
    const base = makeSchedule({ kind: "linear", T: 1000 });
    const s = respace(base, "ddim5");
    const y = [2, 0, 1, 1];
    const shape = [4, 8, 8, 1];
    const cond: EpsModel = (x, t) => unet(x, t, tf.tensor1d(y, "int32"));
    const uncond: EpsModel = (x, t) => unet(x, t);
    const run = (model: EpsModel, extra = {}) =>
      ddimSampleLoop(model, s, { shape, seed: 9, ...extra }).then(read);
    assertEquals(await run(unet, { classes: y, guidanceScale: 1 }), await run(cond));
    assertEquals(await run(unet, { classes: y }), await run(cond), "w defaults to 1");
    assertEquals(await run(unet, { classes: y, guidanceScale: 0 }), await run(uncond));
    unet.dispose();
  },
);

backendTest(
  "guidance: both branches in one call equal the formula on two separate calls",
  async () => {
    const unet = condUNet();
    const s = makeSchedule({ kind: "linear", T: 1000 });
    const xt = tf.randomNormal([4, 8, 8, 1], 0, 1, "float32", 6);
    const y = tf.tensor1d([0, 1, 2, NULL_CLASS], "int32");
    const w = 3;
    // pMeanVariance's eps is ε̂ recomputed from the clipped x̂0: no clipping here, so it is ε̃
    const got = await read(
      pMeanVariance(unet, s, {
        xt,
        t: 300,
        classes: y,
        guidanceScale: w,
        clipDenoised: false,
      }).eps,
    );
    const tt = tf.tensor1d(new Int32Array(4).fill(300), "int32"); // host values (webgpu reads them)
    const ref = await read(classifierFreeGuidance(unet(xt, tt, y), unet(xt, tt), w));
    // the batched call runs 8 rows instead of 4 (GroupNorm and the convolutions per row);
    // ε̂ goes through x̂0 and back: a few float32 ulps of the O(1) values
    assertClose(got, ref, "guided ε", { atol: 2e-5, rtol: 1e-4 });
    unet.dispose();
  },
);

Deno.test("guidance: bad classes or scale are one clear error each", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 100 });
  const model: EpsModel = (x) => tf.zerosLike(x);
  await assertRejects(
    () => pSampleLoop(model, s, { shape: [2, 2], guidanceScale: 3 }),
    RangeError,
    "Cannot sample: guidanceScale 3 needs classes",
  );
  await assertRejects(
    () => pSampleLoop(model, s, { shape: [2, 2], classes: [0, 1, 2] }),
    RangeError,
    "Cannot sample: classes must hold one label per example (2), got 3",
  );
  await assertRejects(
    () => pSampleLoop(model, s, { shape: [2, 2], classes: [0, -2] }),
    RangeError,
    "classes must hold integers >= 0 (or NULL_CLASS = -1), got classes[1] = -2",
  );
  await assertRejects(
    () => pSampleLoop(model, s, { shape: [2, 2], classes: [0, 1], guidanceScale: Infinity }),
    RangeError,
    "guidanceScale must be a finite number, got Infinity",
  );
  assertThrows(
    () => epsLoss(model, s, { x0: tf.zeros([2, 2]), classes: [0.5, 1] }),
    RangeError,
    "Cannot compute loss: classes must hold integers",
  );
});

Deno.test("guidance interval: w inside [lo, hi], the conditional model elsewhere, every sampler", async () => {
  await useBackend("cpu");
  // an elementwise model (exact in float32) whose branches differ: ε(x, y) = x/2 + y/10 + t/1000,
  // ε(x, ∅) = x/3 + t/1000 (t read on the host, as a U-Net reads it)
  const calls: number[] = [];
  const model: EpsModel = (x, t, y) => {
    calls.push(x.shape[0]);
    const tv = t.dataSync();
    const yv = y?.dataSync() ?? new Int32Array(x.shape[0]).fill(NULL_CLASS);
    const per = (f: (i: number) => number) =>
      tf.reshape(tf.tensor1d(Float32Array.from({ length: x.shape[0] }, (_, i) => f(i))), [-1, 1]);
    return tf.tidy(() =>
      tf.add(
        tf.mul(x, per((i) => (yv[i] === NULL_CLASS ? 1 / 3 : 1 / 2))),
        per((i) => (yv[i] === NULL_CLASS ? 0 : yv[i] / 10) + tv[i] / 1000),
      )
    );
  };
  // the reference: the same model, its null rows answered by the conditional branch outside
  // [lo, hi], so that there ε̃ = ε_c + w·0 = ε_c exactly
  const reference = (lo: number, hi: number): EpsModel => (x, t, y) => {
    const tv = t.dataSync();
    if (!y || (tv[0] >= lo && tv[0] <= hi)) return model(x, t, y);
    const B = x.shape[0] / 2;
    const [half] = tf.split(x, 2);
    const e = model(
      half,
      tf.tensor1d(tv.slice(0, B), "int32"),
      tf.tensor1d(y.dataSync().slice(0, B), "int32"),
    );
    return tf.concat([e, e]);
  };
  const base = makeSchedule({ kind: "linear", T: 1000 });
  const classes = [2, 0, 1];
  for (const sampler of SAMPLER_NAMES) {
    const s = samplingSchedule(base, sampler, 10);
    const run = (m: EpsModel, extra = {}) =>
      sampleLoop(m, s, { sampler, shape: [3, 4], seed: 5, classes, guidanceScale: 3, ...extra })
        .then(read);
    // an interval holding every step is plain guidance; one holding none, the conditional model
    assertEquals(await run(model, { guidanceInterval: [0, 999] }), await run(model), sampler);
    assertEquals(
      await run(model, { guidanceInterval: [2000, 3000] }),
      await run(model, { guidanceScale: 1 }),
      sampler,
    );
    calls.length = 0;
    const got = await run(model, { guidanceInterval: [200, 600] });
    // outside the interval one call of the 3 rows, inside one of 6 (both branches)
    assertEquals(calls.filter((b) => b === 3).length + calls.filter((b) => b === 6).length, 10);
    assertTrue(calls.includes(3) && calls.includes(6), `batch sizes ${calls}`);
    assertEquals(got, await run(reference(200, 600)), `${sampler}: [200, 600]`);
  }
  // rows at different timesteps: each row's own scale
  const xt = tf.tensor2d([[1, 2], [3, 4]]);
  const y = tf.tensor1d([1, 2], "int32");
  const eps = await read(
    pMeanVariance(model, base, {
      xt,
      t: tf.tensor1d([100, 500], "int32"),
      classes: y,
      guidanceScale: 3,
      guidanceInterval: [200, 999],
      clipDenoised: false,
    }).eps,
  );
  const tt = tf.tensor1d([100, 500], "int32");
  const c = await read(model(xt, tt, y)), u = await read(model(xt, tt));
  const want = [c[0], c[1], u[2] + 3 * (c[2] - u[2]), u[3] + 3 * (c[3] - u[3])];
  // ε̂ is recomputed from x̂0 (no clipping): a few float32 ulps of O(1) values
  assertClose(eps, Float32Array.from(want), "row 0 at w = 1, row 1 at w = 3", {
    atol: 1e-5,
    rtol: 1e-5,
  });
  await assertRejects(
    () => pSampleLoop(model, base, { shape: [2, 2], classes: [0, 1], guidanceInterval: [5, 1] }),
    RangeError,
    "guidanceInterval must be [lo, hi], integer timesteps with 0 <= lo <= hi, got [5,1]",
  );
  await assertRejects(
    () => pSampleLoop(model, base, { shape: [2, 2], guidanceInterval: [1, 5] }),
    RangeError,
    "Cannot sample: guidanceInterval needs classes",
  );
});

Deno.test("guidance: with rows, the whole batch's classes give the shard's", async () => {
  await useBackend("cpu");
  const unet = condUNet();
  const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "ddim3");
  const classes = [0, 1, 2, 0, 1];
  const opts = { seed: 4, classes, guidanceScale: 2 };
  const whole = await read(await ddimSampleLoop(unet, s, { shape: [5, 8, 8, 1], ...opts }));
  const part = await read(
    await ddimSampleLoop(unet, s, { shape: [2, 8, 8, 1], rows: { start: 3, of: 5 }, ...opts }),
  );
  assertClose(part, whole.subarray(3 * 64), "rows 3–4", { atol: 1e-5, rtol: 1e-5 });
  unet.dispose();
});

Deno.test("class dropout: a share p of the labels becomes NULL_CLASS, fixed by (seed, step)", () => {
  const labels = Int32Array.from({ length: 100 }, (_, i) => i % 10);
  const idx = Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 100);
  for (const p of [0, 0.1, 0.3]) {
    let dropped = 0, n = 0;
    for (let step = 0; step < 300; step++) {
      const y = _batchLabels(labels, idx, p, 5, step);
      y.forEach((v, i) => {
        n++;
        if (v === NULL_CLASS) dropped++;
        else assertEquals(v, labels[idx[i]]);
      });
    }
    // binomial share of n = 9,600 draws: 4.5 standard errors
    const se = Math.sqrt(p * (1 - p) / n);
    assertTrue(Math.abs(dropped / n - p) <= 4.5 * se, `p = ${p}: dropped ${dropped / n}`);
  }
  assertEquals(_batchLabels(labels, idx, 0.3, 5, 7), _batchLabels(labels, idx, 0.3, 5, 7));
});

Deno.test({
  name: "train: a conditional run with 2 workers resumes bit for bit and records its classes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const opts = { data: labelledStripes(), unet: COND, workers: 2, classDropout: 0.25 };
    const whole = await train(tinyTrainOptions(a, 6, opts));
    await train(tinyTrainOptions(b, 3, opts));
    const resumed = await train(tinyTrainOptions(b, 6, { ...opts, resume: true }));
    assertEquals(resumed.losses, whole.losses.slice(3));
    await assertSameCheckpoint(
      join(a, "checkpoint.safetensors"),
      join(b, "checkpoint.safetensors"),
    );
    const ca = await loadCheckpoint(join(a, "checkpoint.safetensors"));
    assertEquals(ca.config.classes, ["a", "b", "c"]);
    assertEquals(ca.config.unet.numClasses, 3);
    assertEquals((ca.config.train as { classDropout: number }).classDropout, 0.25);
    // the null row of the class embedding learned something: it started at zero
    assertTrue(ca.params!.get("label_emb.w")!.data.subarray(3 * 32).some((v) => v !== 0), "moved");
  },
});

Deno.test({
  name: "train: labels — missing, wrong length, out of range — are clear errors",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const cases: [Partial<Parameters<typeof tinyTrainOptions>[2]>, string][] = [
      [{ data: stripes() }, "needs labels (an Int32Array, or data.labels)"],
      [{ labels: new Int32Array(5) }, "labels must hold one label per image (12), got 5"],
      [
        { labels: new Int32Array(12).fill(3) },
        "labels must be in [0, 2] (numClasses 3), got labels[0] = 3",
      ],
      [{ data: labelledStripes(), classDropout: 1 }, "classDropout must be in [0, 1), got 1"],
    ];
    for (const [extra, msg] of cases) {
      await assertRejects(
        () => train(tinyTrainOptions(dir, 1, { unet: COND, ...extra })),
        RangeError,
        msg,
      );
    }
  },
});

Deno.test({
  name: "train: initFrom starts from a checkpoint's EMA weights; new parameters keep their init",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const [a, b] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    await train(tinyTrainOptions(a, 2));
    const src = await loadCheckpoint(join(a, "checkpoint.safetensors"));
    let seen = false;
    await train(tinyTrainOptions(b, 1, {
      unet: COND,
      data: labelledStripes(),
      initFrom: join(a, "checkpoint.safetensors"),
      lr: 1e-30, // (almost) no update: the first step's loss is the source model's
      onStep: () => (seen = true),
    }));
    assertTrue(seen, "a step ran");
    const got = await loadCheckpoint(join(b, "checkpoint.safetensors"));
    for (const [name, w] of src.ema) {
      assertClose(got.params!.get(name)!.data, w.data, name, { atol: 1e-20, rtol: 1e-6 });
    }
    await assertRejects(
      () =>
        train(tinyTrainOptions(b, 1, {
          overwrite: true,
          unet: { ...TINY, ch: 12, groups: 4 },
          initFrom: join(a, "checkpoint.safetensors"),
        })),
      RangeError,
      "initFrom",
    );
  },
});

// ---------------------------------------------------------------------------------------------
// The exact oracle of a two-class Gaussian mixture. Class c: x0 ~ N(m_c, s_c²) per dimension,
// classes equally likely. ε(x, c) = √(1-ᾱ)(x_t − √ᾱ m_c)/v_c with v_c = ᾱ s_c² + 1 − ᾱ, and
// the unconditional ε(x, ∅) = Σ_c π_c(x_t) ε(x, c), π_c ∝ N(x_t; √ᾱ m_c, v_c) the posterior.

const MIX = [{ m: [0.3, -0.2], s: [0.5, 0.25] }, { m: [-0.4, 0.5], s: [0.3, 0.4] }];

function mixtureOracle(base: Schedule): EpsModel {
  const abarTable = tf.tensor1d(Float32Array.from(base.alphasCumprod));
  return (xt, t, y) =>
    tf.tidy(() => {
      const abar = tf.reshape(tf.gather(abarTable, t), [-1, 1]);
      const parts = MIX.map(({ m, s }) => {
        const mean = tf.mul(tf.sqrt(abar), tf.tensor2d([m]));
        const v = tf.add(tf.mul(abar, tf.tensor2d([s.map((x) => x * x)])), tf.sub(1, abar));
        const eps = tf.div(tf.mul(tf.sqrt(tf.sub(1, abar)), tf.sub(xt, mean)), v);
        // log N(x_t; mean, v), summed over the two dimensions
        const logp = tf.sum(
          tf.neg(tf.add(tf.div(tf.square(tf.sub(xt, mean)), tf.mul(2, v)), tf.mul(0.5, tf.log(v)))),
          1,
          true,
        );
        return { eps, logp };
      });
      const pi0 = tf.sigmoid(tf.sub(parts[0].logp, parts[1].logp)); // [B, 1]
      const uncond = tf.add(tf.mul(pi0, parts[0].eps), tf.mul(tf.sub(1, pi0), parts[1].eps));
      if (!y) return uncond;
      const col = tf.reshape(y, [-1, 1]);
      return tf.where(
        tf.equal(col, 0),
        tf.mul(parts[0].eps, tf.onesLike(xt)),
        tf.where(tf.equal(col, 1), tf.mul(parts[1].eps, tf.onesLike(xt)), uncond),
      );
    });
}

// cpu and wasm (1000 steps of B = 4000 on llvmpipe would take minutes; the guidance arithmetic
// is the same tfjs ops on every backend, and webgpu runs the U-Net guidance tests above)
for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(
    `exact mixture oracle: conditional DDPM samples reproduce each class's moments; w = 0 the mixture's [${backend}]`,
    async () => {
      await useBackend(backend);
      const B = 4000;
      const s = makeSchedule({ kind: "linear", T: 1000 });
      const classes = Array.from({ length: B }, (_, i) => i % 2);
      const x = await read(
        await pSampleLoop(mixtureOracle(s), s, {
          shape: [B, 2],
          seed: 21,
          classes,
          clipDenoised: false,
        }),
      );
      // 4.5 standard errors (fixed seed) plus the sampler's bias budget 0.02, as tests/oracle_test.ts
      for (const c of [0, 1]) {
        const n = B / 2;
        for (let d = 0; d < 2; d++) {
          const vals = classes.flatMap((k, i) => (k === c ? [x[2 * i + d]] : []));
          const mean = vals.reduce((a, b) => a + b, 0) / n;
          const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
          const { m, s: sd } = MIX[c];
          const tolM = 4.5 * sd[d] / Math.sqrt(n) + 0.02;
          const tolV = 4.5 * sd[d] ** 2 * Math.sqrt(2 / (n - 1)) + 0.02 * sd[d] ** 2;
          assertTrue(Math.abs(mean - m[d]) <= tolM, `class ${c} mean[${d}] ${mean} vs ${m[d]}`);
          assertTrue(
            Math.abs(variance - sd[d] ** 2) <= tolV,
            `class ${c} variance[${d}] ${variance} vs ${sd[d] ** 2}`,
          );
        }
      }
      // guidance 0: the unconditional model, whose samples follow the mixture
      const u = await read(
        await pSampleLoop(mixtureOracle(s), s, {
          shape: [B, 2],
          seed: 22,
          classes,
          guidanceScale: 0,
          clipDenoised: false,
        }),
      );
      for (let d = 0; d < 2; d++) {
        const m = (MIX[0].m[d] + MIX[1].m[d]) / 2;
        const variance = (MIX[0].s[d] ** 2 + MIX[1].s[d] ** 2) / 2 +
          ((MIX[0].m[d] - MIX[1].m[d]) / 2) ** 2;
        let mean = 0;
        for (let i = 0; i < B; i++) mean += u[2 * i + d] / B;
        const tol = 4.5 * Math.sqrt(variance / B) + 0.02;
        assertTrue(Math.abs(mean - m) <= tol, `mixture mean[${d}] ${mean} vs ${m} ± ${tol}`);
        let v = 0;
        for (let i = 0; i < B; i++) v += (u[2 * i + d] - mean) ** 2 / (B - 1);
        // variance of a mixture's sample variance: (μ4 − σ⁴)/n; bounded here by 3σ⁴ (the
        // mixture's kurtosis is below a Gaussian's ×1.5), so SE ≤ σ²·√(2/n)·1.5
        const tolV = 4.5 * 1.5 * variance * Math.sqrt(2 / B) + 0.02 * variance;
        assertTrue(Math.abs(v - variance) <= tolV, `mixture variance[${d}] ${v} vs ${variance}`);
      }
    },
  );
}
