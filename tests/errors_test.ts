// Bad input gets a clear error naming the action, the argument and its value.
import * as tf from "@tensorflow/tfjs-core";
import {
  ddimSample,
  ddimSampleLoop,
  epsLoss,
  forwardNoise,
  initBackend,
  makeSchedule,
  posterior,
  pSample,
  pSampleLoop,
  respace,
} from "../mod.ts";
import { backendTest } from "./_helpers.ts";
import { assertRejects, assertThrows } from "./_assert.ts";

const s = makeSchedule({ kind: "linear", T: 1000 });
const zeroModel = (x: tf.Tensor) => tf.zerosLike(x);

backendTest("t out of range, non-integer t, and t of the wrong length are rejected", () => {
  const x0 = tf.zeros([2, 3]), noise = tf.zeros([2, 3]);
  assertThrows(
    () => forwardNoise(s, { x0, t: 1000, noise }),
    RangeError,
    "Cannot add noise: t must be in [0, 999], got 1000",
  );
  assertThrows(() => forwardNoise(s, { x0, t: -1, noise }), RangeError, "got -1");
  assertThrows(
    () => forwardNoise(s, { x0, t: 2.5, noise }),
    RangeError,
    "Cannot add noise: t must be an integer, got 2.5",
  );
  assertThrows(
    () => forwardNoise(s, { x0, t: tf.tensor1d([0, 1000], "int32"), noise }),
    RangeError,
    "t must be in [0, 999], got t[1] = 1000",
  );
  assertThrows(
    () => forwardNoise(s, { x0, t: tf.tensor1d([0, 1, 2], "int32"), noise }),
    RangeError,
    "t must have shape [2] (the batch size of x), got [3]",
  );
  assertThrows(
    () => posterior(s, { x0, xt: x0, t: tf.tensor1d([0.5, 1]) }),
    RangeError,
    "t must hold integers, got t[0] = 0.5",
  );
  tf.dispose([x0, noise]);
});

backendTest("shape mismatches between x0, noise and xt are rejected", () => {
  const x0 = tf.zeros([2, 3]);
  assertThrows(
    () => forwardNoise(s, { x0, t: 1, noise: tf.zeros([2, 4]) }),
    RangeError,
    "Cannot add noise: noise must have the shape of x0 [2,3], got [2,4]",
  );
  assertThrows(
    () => posterior(s, { x0, xt: tf.zeros([3, 3]), t: 1 }),
    RangeError,
    "Cannot compute posterior: x0 must have the shape of xt [3,3], got [2,3]",
  );
  assertThrows(
    () => epsLoss(zeroModel, s, { x0, noise: tf.zeros([1, 3]) }),
    RangeError,
    "noise must have the shape of x0 [2,3], got [1,3]",
  );
  assertThrows(
    () => forwardNoise(s, { x0: tf.scalar(1), t: 1, noise: tf.scalar(1) }),
    RangeError,
    "x0 must have a batch dimension [B, ...], got shape []",
  );
  x0.dispose();
});

backendTest("a model returning the wrong shape, or not a tensor, is rejected", async () => {
  const xt = tf.zeros([2, 3]);
  const wrong = (x: tf.Tensor) => tf.zeros([x.shape[0], 4]);
  assertThrows(
    () => pSample(wrong, s, { xt, t: 5, seed: 0 }),
    RangeError,
    "Cannot sample: the model must return a tensor of xt's shape [2,3], got [2,4]",
  );
  assertThrows(
    () => epsLoss(wrong, s, { x0: xt, seed: 0 }),
    RangeError,
    "the model must return a tensor of xt's shape [2,3], got [2,4]",
  );
  await assertRejects(
    () => pSampleLoop(wrong, s, { shape: [2, 3], seed: 0 }),
    RangeError,
    "the model must return a tensor of xt's shape [2,3], got [2,4]",
  );
  assertThrows(
    // @ts-expect-error: not a tensor
    () => pSample(() => 3, s, { xt, t: 5, seed: 0 }),
    TypeError,
    "the model must return a tensor, got number",
  );
  xt.dispose();
});

backendTest(
  "a model returning NaN or Infinity stops the samplers with a clear error",
  async (b) => {
    const nan = (x: tf.Tensor) => tf.fill(x.shape, NaN);
    // NaN only at model timestep 40
    const nanAt40 = (x: tf.Tensor, t: tf.Tensor1D) =>
      tf.tidy(() => {
        const at40 = tf.reshape(tf.equal(t, 40), [-1, 1]);
        return tf.where(tf.broadcastTo(at40, x.shape), tf.fill(x.shape, NaN), tf.zerosLike(x));
      });
    await assertRejects(
      () => pSampleLoop(nan, s, { shape: [2, 3], seed: 0 }),
      RangeError,
      "Cannot sample: the model's output at t = 999 has non-finite values",
    );
    // NaN at one step only: caught by the periodic check.
    await assertRejects(
      () =>
        ddimSampleLoop(nanAt40, respace(s, "ddim100"), {
          shape: [2, 3],
          seed: 0,
          checkFiniteEvery: 1,
        }),
      RangeError,
      "Cannot sample with DDIM: the model's output at t = 4 has non-finite values",
    );
    if (b !== "webgpu") {
      // Single steps check synchronously where the backend can read synchronously.
      const xt = tf.zeros([2, 3]);
      assertThrows(
        () => pSample(nan, s, { xt, t: 3, seed: 0 }),
        RangeError,
        "Cannot sample: the model's output has non-finite values",
      );
      xt.dispose();
    }
  },
);

Deno.test("bad η, seeds, shapes, spacings, variance kinds and backends are rejected", async () => {
  const xt = tf.zeros([2, 3]);
  assertThrows(
    () => ddimSample(zeroModel, s, { xt, t: 5, eta: -0.1 }),
    RangeError,
    "Cannot take a DDIM step: eta must be a finite number >= 0, got -0.1",
  );
  await assertRejects(
    () => ddimSampleLoop(zeroModel, s, { shape: [2, 3], eta: NaN }),
    RangeError,
    "eta must be a finite number >= 0, got NaN",
  );
  assertThrows(
    () => pSample(zeroModel, s, { xt, t: 5, seed: 1.5 }),
    RangeError,
    "Cannot sample: seed must be an integer, got 1.5",
  );
  await assertRejects(
    () => pSampleLoop(zeroModel, s, { shape: [2, 0] }),
    RangeError,
    "shape must be [B, ...] of positive integers, got [2,0]",
  );
  assertThrows(
    // @ts-expect-error: not a variance kind
    () => pSample(zeroModel, s, { xt, t: 5, seed: 1, variance: "large" }),
    RangeError,
    'variance must be "fixedSmall", "fixedLarge", "learnedRange" or "learned", got "large"',
  );
  assertThrows(
    // @ts-expect-error: not a prediction kind
    () => epsLoss(zeroModel, s, { x0: xt, prediction: "score" }),
    RangeError,
    'prediction must be "eps", "x0" or "v", got "score"',
  );
  assertThrows(
    () => epsLoss(zeroModel, s, { x0: xt, minSnrGamma: 0 }),
    RangeError,
    "minSnrGamma must be a finite number > 0, got 0",
  );
  assertThrows(
    () => respace(s, "ddim999"),
    RangeError,
    "no integer stride gives exactly 999 of 1000 steps",
  );
  assertThrows(() => respace(s, "10,x"), RangeError, 'spacing must be "ddimN", "N" or "N1,N2,..."');
  assertThrows(
    () => respace(s, [0, 1000]),
    RangeError,
    "every timestep must be an integer in [0, 999]",
  );
  assertThrows(() => respace(s, []), RangeError, "the list of timesteps must not be empty");
  assertThrows(
    () => respace(makeSchedule({ kind: "linear", T: 30 }), "20,20"),
    RangeError,
    "section 0 has 15 steps, fewer than 20",
  );
  await assertRejects(
    // @ts-expect-error: not a backend
    () => initBackend("tpu"),
    RangeError,
    'choice must be "auto", "webgpu", "wasm" or "cpu", got "tpu"',
  );
  assertThrows(
    // @ts-expect-error: not a schedule
    () => forwardNoise({}, { x0: xt, t: 0, noise: xt }),
    TypeError,
    "Cannot add noise: s must be a Schedule from makeSchedule",
  );
  xt.dispose();
});
