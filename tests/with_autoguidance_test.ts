// Autoguidance (Karras et al. 2024): the combination against a float64 reference, weights 1 and 0
// as one network exactly, labels reaching both networks, a learned variance kept, the checkpoint
// that carries a guide (round trip, composition with a separate unconditional network, bad
// guides), and no tensors left behind.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import {
  createUNet,
  ddimSampleLoop,
  encodeCheckpoint,
  type EpsModel,
  getWeights,
  loadCheckpoint,
  makeSchedule,
  NULL_CLASS,
  respace,
  unetFromCheckpoint,
  withAutoguidance,
  withUnconditional,
} from "../mod.ts";
import { assertClose, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { TINY } from "./_tiny.ts";

const COND = { ...TINY, numClasses: 3 };

/** Elementwise models of x, t and the label (∅ read as 5): each call's rows say what it saw. */
const toy = (a: number, b: number): EpsModel => (x, t, y) =>
  tf.tidy(() => {
    const label = y === undefined ? tf.zerosLike(t) : tf.where(
      tf.equal(y, NULL_CLASS),
      tf.fill(y.shape, 5, "int32"),
      y,
    );
    return tf.add(tf.mul(x, a), tf.reshape(tf.add(tf.mul(t, b), label), [-1, 1]));
  });

Deno.test("withAutoguidance: ε_g + w·(ε − ε_g) per row, against a float64 reference", async () => {
  await useBackend("cpu");
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 1, maxLength: 6 }),
      fc.double({ min: -4, max: 6, noNaN: true }),
      fc.double({ min: -2, max: 2, noNaN: true }),
      fc.double({ min: -2, max: 2, noNaN: true }),
      (labels, w, a, b) => {
        const B = labels.length;
        const x = Float32Array.from({ length: 3 * B }, (_, i) => ((i * 7) % 11 - 5) / 4);
        const tv = Int32Array.from({ length: B }, (_, i) => (i * 37) % 10);
        const f32 = Math.fround;
        const A = f32(a), Bf = f32(b);
        const got = tf.tidy(() =>
          withAutoguidance(toy(A, 0.5), toy(Bf, 0.25), w)(
            tf.tensor2d(x, [B, 3]),
            tf.tensor1d(tv, "int32"),
            tf.tensor1d(labels, "int32"),
          ).dataSync()
        );
        for (let i = 0; i < B; i++) {
          const label = labels[i] === NULL_CLASS ? 5 : labels[i];
          for (let j = 0; j < 3; j++) {
            const v = x[3 * i + j];
            const eps = A * v + 0.5 * tv[i] + label, epsG = Bf * v + 0.25 * tv[i] + label;
            const want = epsG + w * (eps - epsG);
            // each network's output is O(10) and rounded to float32 (2^-24 relative), then the
            // difference is scaled by |w| ≤ 6: a few float32 roundings of values up to ~100
            const tol = 1e-5 * (1 + Math.abs(w)) * (1 + Math.abs(eps) + Math.abs(epsG));
            if (!(Math.abs(got[3 * i + j] - want) <= tol)) return false;
          }
        }
        return true;
      },
    ),
    { seed: 19, numRuns: 100 },
  );
  // no labels: both networks unconditional
  const x = tf.ones([1, 2]), t = tf.tensor1d([2], "int32");
  const eps = withAutoguidance(toy(2, 1), toy(1, 1), 3)(x, t); // 3 + 3·(4 − 3)
  assertEquals(Array.from(eps.dataSync()), [6, 6]);
  tf.dispose([x, t, eps]);
});

Deno.test("withAutoguidance: weight 1 is the model and 0 the guide, exactly", async () => {
  await useBackend("cpu");
  const model = toy(2, 1), guide = toy(1, 3);
  assertEquals(withAutoguidance(model, guide, 1), model);
  assertEquals(withAutoguidance(model, guide, 0), guide);
});

Deno.test("withAutoguidance: a learned variance is the model's; bad input is one error each", async () => {
  await useBackend("cpu");
  // 2·C channels: [ε, v]; the model's v is 7, the guide's 100
  const twoChannel = (e: number, v: number): EpsModel => (x) =>
    tf.tidy(() => tf.concat([tf.mul(x, e), tf.fill(x.shape, v)], -1));
  const x = tf.ones([2, 4, 4, 1]), t = tf.tensor1d([1, 2], "int32");
  const out = await read(withAutoguidance(twoChannel(2, 7), twoChannel(1, 100), 3)(x, t));
  for (let i = 0; i < out.length; i += 2) {
    assertEquals([out[i], out[i + 1]], [4, 7], `pixel ${i / 2}: ε 1 + 3·(2 − 1), v the model's`);
  }
  assertThrows(
    () => withAutoguidance(toy(1, 1), "guide" as unknown as EpsModel, 2),
    TypeError,
    "Cannot autoguide the model: guide must be a function (xt, t, y?) => Tensor, got string",
  );
  assertThrows(
    () => withAutoguidance(toy(1, 1), toy(1, 1), NaN),
    RangeError,
    "Cannot autoguide the model: weight must be a finite number, got NaN",
  );
  const wide = withAutoguidance(toy(1, 1), (xt) => tf.zeros([xt.shape[0], 4]), 2);
  assertThrows(
    () => wide(tf.ones([2, 3]), t),
    RangeError,
    "Cannot call the autoguided model: the model predicts [2,3] and the guide [2,4]",
  );
  tf.dispose([x, t]);
});

/** Two conditional TINY U-Nets and an unconditional one, their parameters perturbed. */
function threeUNets() {
  const model = createUNet(COND, { seed: 1 }), guide = createUNet(COND, { seed: 4 });
  const uncond = createUNet(TINY, { seed: 2 });
  let k = 0;
  for (const net of [model, guide, uncond]) {
    for (const p of net.params.values()) {
      p.assign(tf.tidy(() => tf.add(p, tf.randomNormal(p.shape, 0, 0.2, "float32", k++))));
    }
  }
  return { model, guide, uncond };
}

Deno.test("checkpoint: a guide round-trips, with and without a separate unconditional network", async () => {
  await useBackend("cpu");
  const { model, guide, uncond } = threeUNets();
  const schedule = { kind: "linear" as const, T: 1000 };
  const ema = await getWeights(model.params), guideW = await getWeights(guide.params);
  const unconditional = await getWeights(uncond.params);
  const autoguidance = { unet: COND, weight: 2.5 };
  const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 3);
  const t = tf.tensor1d([10, 500, 900], "int32");
  const y = tf.tensor1d([1, NULL_CLASS, 2], "int32");

  const back = await loadCheckpoint(
    encodeCheckpoint({ config: { unet: COND, schedule, autoguidance }, ema, guide: guideW }),
  );
  assertEquals(back.config.autoguidance, autoguidance);
  const auto = unetFromCheckpoint(back);
  assertEquals(auto.numParams, 2 * model.numParams);
  assertEquals(
    await read(auto(x, t, y)),
    await read(withAutoguidance(model, guide, 2.5)(x, t, y)),
    "the loaded model is the autoguided pair of its networks",
  );
  auto.dispose();

  // with a separate unconditional network: labelled rows autoguided, ∅ rows to that network
  const all = unetFromCheckpoint(
    await loadCheckpoint(encodeCheckpoint({
      config: { unet: COND, schedule, autoguidance, unconditionalUnet: TINY },
      ema,
      guide: guideW,
      unconditional,
    })),
  );
  assertEquals(all.numParams, 2 * model.numParams + uncond.numParams);
  const got = await read(all(x, t, y));
  assertEquals(
    got,
    await read(withUnconditional(withAutoguidance(model, guide, 2.5), uncond)(x, t, y)),
  );
  // and the unconditional row is that network's own prediction (one row of 64 pixels)
  const u = await read(uncond(tf.slice(x, [1], [1]), tf.tensor1d([500], "int32")));
  assertClose(got.subarray(64, 128), u, "the ∅ row", { atol: 1e-5, rtol: 1e-5 });
  // guided sampling loops leave no tensors behind
  const s = respace(makeSchedule(schedule), "ddim4");
  const before = tf.memory().numTensors;
  (await ddimSampleLoop(all, s, {
    shape: [3, 8, 8, 1],
    seed: 1,
    classes: [0, 1, 2],
    guidanceScale: 2,
  })).dispose();
  assertEquals(tf.memory().numTensors, before, "tensors after an autoguided, guided loop");
  all.dispose();

  // unconditionalWeight w_∅: the ∅ row is ε_g(x, ∅) + w_∅·(ε_u − ε_g(x, ∅)) (the guide's null
  // class), against a float64 combination of the networks' own outputs; labelled rows as before
  const withNull = async (unconditionalWeight: number) =>
    unetFromCheckpoint(
      await loadCheckpoint(encodeCheckpoint({
        config: {
          unet: COND,
          schedule,
          autoguidance: { ...autoguidance, unconditionalWeight },
          unconditionalUnet: TINY,
        },
        ema,
        guide: guideW,
        unconditional,
      })),
    );
  const nullGuided = await withNull(1.75);
  assertEquals(nullGuided.numParams, 2 * model.numParams + uncond.numParams);
  const ng = await read(nullGuided(x, t, y));
  nullGuided.dispose();
  const x1 = tf.slice(x, [1], [1]), t1 = tf.tensor1d([500], "int32");
  const y1 = tf.tensor1d([NULL_CLASS], "int32");
  const g = await read(guide(x1, t1, y1));
  const want = Array.from(g, (gi, i) => gi + 1.75 * (u[i] - gi));
  // two float32 network outputs of O(1), their difference scaled by 1.75 in float32
  assertClose(ng.subarray(64, 128), want, "the autoguided ∅ row", { atol: 1e-5, rtol: 1e-5 });
  assertEquals(ng.subarray(0, 64), got.subarray(0, 64), "labelled row 0 as without w_∅");
  assertEquals(ng.subarray(128), got.subarray(128), "labelled row 2 as without w_∅");
  // w_∅ 1 is the unconditional network alone, and w_∅ 0 the guide's null class, exactly
  const one = await withNull(1);
  assertEquals(await read(one(x, t, y)), got, "w_∅ 1: as without it");
  one.dispose();
  const zero = await withNull(0);
  assertEquals(await read(zero(x1, t1, y1)), g, "w_∅ 0: the guide's null class");
  zero.dispose();
  tf.dispose([x1, t1, y1]);

  // one clear error for each bad guide
  const bad = async (ck: Parameters<typeof encodeCheckpoint>[0], message: string) =>
    await assertRejects(() => loadCheckpoint(encodeCheckpoint(ck)), Error, message);
  await bad(
    { config: { unet: COND, schedule }, ema, guide: guideW },
    "it has guide.* weights but no metadata.config.autoguidance",
  );
  await bad(
    { config: { unet: COND, schedule, autoguidance }, ema },
    "metadata.config.autoguidance is set but it has no guide.* weights",
  );
  await bad(
    { config: { unet: COND, schedule, autoguidance: { unet: TINY, weight: 2 } }, ema, guide: ema },
    "the guide must take the model's 3 classes and make its 8×8×1 images with 1 output " +
      "channels, got 0 classes, 8×8×1, 1 channels",
  );
  await bad(
    {
      config: { unet: COND, schedule, autoguidance: { unet: COND, weight: "2" as never } },
      ema,
      guide: guideW,
    },
    'metadata.config.autoguidance must be { unet, weight } with a finite weight, got {"unet"',
  );
  await bad(
    {
      config: { unet: COND, schedule, autoguidance: { ...autoguidance, unconditionalWeight: 2 } },
      ema,
      guide: guideW,
    },
    "an unconditionalWeight autoguides a separate unconditional network, and there is none, " +
      "got unconditionalWeight 2",
  );
  await bad(
    {
      config: {
        unet: COND,
        schedule,
        autoguidance: { ...autoguidance, unconditionalWeight: "2" as never },
        unconditionalUnet: TINY,
      },
      ema,
      guide: guideW,
      unconditional,
    },
    'metadata.config.autoguidance.unconditionalWeight must be a finite number, got "2"',
  );
  const wrong = await loadCheckpoint(encodeCheckpoint({
    config: { unet: COND, schedule, autoguidance: { unet: { ...COND, ch: 16 }, weight: 2 } },
    ema,
    guide: guideW,
  }));
  assertThrows(() => unetFromCheckpoint(wrong), RangeError, "Cannot set weights: ");
  tf.dispose([x, t, y]);
  model.dispose();
  guide.dispose();
  uncond.dispose();
});
