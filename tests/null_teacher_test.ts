// A teacher for the "no class" branch (`nullTeacher`): epsLoss's `target` against a float64
// reference; the batch's target is ε except the NULL_CLASS rows, which are the teacher's ε at
// their x_t; a student whose null branch is the teacher has zero loss on them; a run with a
// teacher resumes bit for bit through data-parallel workers and needs its teacher to resume;
// bad teachers are one clear error each.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { join } from "node:path";
import { createUNet, epsLoss, loadCheckpoint, makeSchedule, NULL_CLASS } from "../mod.ts";
import { train } from "../fs.ts";
import { assertClose, assertSameCheckpoint, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { labelledStripes, stripes, TINY, tinyTrainOptions } from "./_tiny.ts";
import { _nullTeacherTarget } from "../src/train/_null_teacher.ts";
import { _shardGradients, _stepDraws } from "../src/train/_step.ts";

const COND = { ...TINY, numClasses: 3 };

Deno.test("epsLoss: target replaces ε as the regression target (float64 reference)", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 1000 });
  const model = (xt: tf.Tensor) => tf.mul(xt, 0.5);
  // float32: x_t, the model, the difference and the square each round once (≤ 4 ulp of
  // (|target| + |out|)² per element), and the mean of ≤ 48 terms adds ≤ 48 ulp: 2^-17 of the
  // mean of (|target| + |out|)² covers both
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      (B, D, seed) => {
        const n = B * D;
        const x0 = tf.randomUniform([B, D], -1, 1, "float32", seed);
        const noise = tf.randomNormal([B, D], 0, 1, "float32", seed + 1);
        const target = tf.randomNormal([B, D], 0, 1, "float32", seed + 2);
        const t = Int32Array.from({ length: B }, (_, i) => (seed + 337 * i) % 1000);
        const ts = tf.tensor1d(t, "int32");
        const got = epsLoss(model, s, { x0, noise, t: ts, target }).dataSync()[0];
        const [x, e, g] = [x0.dataSync(), noise.dataSync(), target.dataSync()];
        let ref = 0, scale = 0;
        for (let i = 0; i < n; i++) {
          const ab = s.alphasCumprod[t[Math.floor(i / D)]];
          const out = 0.5 * (Math.sqrt(ab) * x[i] + Math.sqrt(1 - ab) * e[i]);
          ref += (g[i] - out) ** 2 / n;
          scale += (Math.abs(g[i]) + Math.abs(out)) ** 2 / n;
        }
        tf.dispose([x0, noise, target, ts]);
        assertClose([got], [ref], `B ${B}, D ${D}`, { atol: 0, rtol: 2 ** -17, scale: [scale] });
      },
    ),
    { seed: 7, numRuns: 60 },
  );
  assertThrows(
    () => epsLoss(model, s, { x0: tf.zeros([2, 3]), seed: 0, target: tf.zeros([2, 4]) }),
    RangeError,
    "Cannot compute loss: target must have the shape of x0 [2,3], got [2,4]",
  );
});

Deno.test("null teacher: the NULL_CLASS rows' target is the teacher's ε at their x_t", async () => {
  await useBackend("cpu");
  const s = makeSchedule({ kind: "linear", T: 1000 });
  const teacher = createUNet({ ...TINY, dropout: 0 }, { seed: 3 });
  // a fresh U-Net's output convolution is zero: perturb every parameter so ε depends on x_t
  let k = 0;
  for (const p of teacher.params.values()) {
    p.assign(tf.tidy(() => tf.add(p, tf.randomNormal(p.shape, 0, 0.2, "float32", k++))));
  }
  const x0 = tf.tensor(stripes(5).images, [5, 8, 8, 1]);
  const y = Int32Array.from([0, NULL_CLASS, 2, NULL_CLASS, 1]);
  const seed = 11;
  const target = _nullTeacherTarget(teacher, s, x0, seed, y, { kind: "simple" })!;
  const { t, eps } = _stepDraws(s, 5, [8, 8, 1], seed, { kind: "simple" });
  const [got, e, x] = [target.dataSync(), eps.dataSync(), x0.dataSync()];
  const D = 64;
  for (const i of [0, 2, 4]) {
    assertEquals(got.subarray(i * D, (i + 1) * D), e.subarray(i * D, (i + 1) * D));
  }
  for (const i of [1, 3]) {
    // x_t in float64, then the teacher on it alone: float32 rounding of x_t (≤ 1 ulp) moves ε by
    // a few ulp through the network; 1e-5 absolute on ε of order 1 allows for that
    const ab = s.alphasCumprod[t[i]];
    const xt = Float32Array.from(
      { length: D },
      (_, p) => Math.sqrt(ab) * x[i * D + p] + Math.sqrt(1 - ab) * e[i * D + p],
    );
    const ref = tf.tidy(() =>
      teacher(tf.tensor(xt, [1, 8, 8, 1]), tf.tensor1d([t[i]], "int32")).dataSync()
    );
    assertClose(got.subarray(i * D, (i + 1) * D), ref, `row ${i}`, { atol: 1e-5, rtol: 1e-5 });
    assertTrue(ref.some((v, p) => Math.abs(v - e[i * D + p]) > 0.01), "the teacher is not ε");
  }
  assertEquals(
    _nullTeacherTarget(teacher, s, x0, seed, new Int32Array([0, 1, 2, 0, 1]), { kind: "simple" }),
    undefined,
  );
  // a student whose null branch is the teacher (the null row of its class embedding zero, the
  // rest the teacher's weights, no dropout) has zero loss on the NULL_CLASS rows
  const student = createUNet({ ...COND, dropout: 0 }, { seed: 9 });
  for (const [name, v] of teacher.params) student.params.get(name)!.assign(v);
  const allNull = new Int32Array(5).fill(NULL_CLASS);
  const teach = _nullTeacherTarget(teacher, s, x0, seed, allNull, { kind: "simple" })!;
  const taught = _shardGradients(student, s, x0, seed, undefined, allNull, undefined, teach);
  const plain = _shardGradients(student, s, x0, seed, undefined, allNull);
  const [lt, lp] = [taught.loss.dataSync()[0], plain.loss.dataSync()[0]];
  assertTrue(lt < 1e-10, `the student's loss on the teacher's target is ${lt}`);
  assertTrue(lp > 1e-2, `the loss on ε is ${lp}`);
  tf.dispose([
    x0,
    target,
    eps,
    teach,
    taught.loss,
    plain.loss,
    ...taught.grads.values(),
    ...plain.grads.values(),
  ]);
  teacher.dispose();
  student.dispose();
});

Deno.test({
  name: "train: a nullTeacher run resumes bit for bit with 2 workers and needs its teacher again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const [src, a, b, c, d] = await Promise.all(
      Array.from({ length: 5 }, () => Deno.makeTempDir()),
    );
    await train(tinyTrainOptions(src, 2));
    const teacher = join(src, "checkpoint.safetensors");
    const opts = {
      data: labelledStripes(),
      unet: COND,
      classDropout: 0.5,
      initFrom: teacher,
      nullTeacher: teacher,
    };
    const whole = await train(tinyTrainOptions(a, 6, { ...opts, workers: 2 }));
    await train(tinyTrainOptions(b, 3, { ...opts, workers: 2 }));
    const resumed = await train(tinyTrainOptions(b, 6, { ...opts, workers: 2, resume: true }));
    assertEquals(resumed.losses, whole.losses.slice(3));
    await assertSameCheckpoint(
      join(a, "checkpoint.safetensors"),
      join(b, "checkpoint.safetensors"),
    );
    const ck = await loadCheckpoint(join(a, "checkpoint.safetensors"));
    assertEquals((ck.config.train as { nullTeacher?: string }).nullTeacher, teacher);
    // one thread gives the same losses up to float rounding (the workers split the target)
    const one = await train(tinyTrainOptions(c, 6, opts));
    assertClose(one.losses, whole.losses, "1 vs 2 workers", { atol: 1e-6, rtol: 1e-4 });
    // without the teacher the losses differ: the target is ε
    const { nullTeacher: _, ...untaught } = opts;
    const plain = await train(tinyTrainOptions(d, 6, untaught));
    assertTrue(plain.losses.some((l, i) => Math.abs(l - one.losses[i]) > 1e-4), "teacher used");
    await assertRejects(
      () => train(tinyTrainOptions(b, 9, { ...untaught, workers: 2, resume: true })),
      RangeError,
      "nullTeacher",
    );
  },
});

Deno.test({
  name: "train: bad null teachers are one clear error each",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const [src, wide, dir] = await Promise.all(Array.from({ length: 3 }, () => Deno.makeTempDir()));
    await train(tinyTrainOptions(src, 1));
    await train(tinyTrainOptions(wide, 1, {
      data: { images: new Float32Array(4 * 16 * 16), shape: [4, 16, 16, 1], source: "blank" },
      unet: { ...TINY, imageSize: 16 },
    }));
    const teacher = join(src, "checkpoint.safetensors");
    const cases: [Parameters<typeof tinyTrainOptions>[2], string][] = [
      [{ nullTeacher: teacher }, 'nullTeacher teaches the "no class" branch'],
      [
        { unet: COND, data: labelledStripes(), nullTeacher: join(wide, "checkpoint.safetensors") },
        "takes 16×16×1 images, the run 8×8×1",
      ],
      [
        {
          unet: COND,
          data: labelledStripes(),
          nullTeacher: teacher,
          schedule: { kind: "cosine", T: 1000 },
        },
        "was trained on schedule linear T = 1000, the run uses cosine T = 1000",
      ],
    ];
    for (const [extra, msg] of cases) {
      await assertRejects(
        () => train(tinyTrainOptions(dir, 1, { overwrite: true, ...extra })),
        RangeError,
        msg,
      );
    }
  },
});
