// No leaks: the live tensor count stays flat across 100-step loops on every backend.
import * as tf from "@tensorflow/tfjs-core";
import {
  ddimSampleLoop,
  epsLoss,
  makeSchedule,
  pSample,
  pSampleLoop,
  pSampleLoopProgressive,
  respace,
  vlbBound,
} from "../mod.ts";
import { backendTest } from "./_helpers.ts";
import { assertEquals } from "./_assert.ts";

const s = makeSchedule({ kind: "cosine", T: 100 });
const model = (x: tf.Tensor, t: tf.Tensor1D) =>
  tf.tidy(() => tf.mul(tf.tanh(x), tf.reshape(tf.cast(t, "float32"), [-1, 1])));

backendTest("no leak: pSample 100 times", () => {
  let x = tf.randomNormal([8, 2]);
  const before = tf.memory().numTensors;
  for (let t = 99; t >= 0; t--) {
    const next = pSample(model, s, { xt: x, t, seed: t });
    x.dispose();
    x = next;
  }
  assertEquals(tf.memory().numTensors, before);
  x.dispose();
});

backendTest("no leak: pSampleLoop, its progressive form, and DDIM over 100 steps", async () => {
  const before = tf.memory().numTensors;
  const a = await pSampleLoop(model, s, { shape: [8, 2], seed: 1 });
  assertEquals(tf.memory().numTensors, before + 1, "pSampleLoop keeps only its result");
  a.dispose();
  let steps = 0;
  for await (
    const { sample, predX0 } of pSampleLoopProgressive(model, s, { shape: [8, 2], seed: 2 })
  ) {
    tf.dispose([sample, predX0]);
    steps++;
  }
  assertEquals(steps, 100);
  assertEquals(tf.memory().numTensors, before, "progressive loop");
  // Stopping a progressive loop early (break) frees its state too.
  for await (
    const { sample, predX0 } of pSampleLoopProgressive(model, s, { shape: [8, 2], seed: 2 })
  ) {
    tf.dispose([sample, predX0]);
    break;
  }
  assertEquals(tf.memory().numTensors, before, "progressive loop stopped early");
  const d = await ddimSampleLoop(model, respace(s, "ddim20"), { shape: [8, 2], seed: 3, eta: 0.5 });
  d.dispose();
  assertEquals(tf.memory().numTensors, before, "ddimSampleLoop");
});

backendTest("no leak: 100 training steps of epsLoss under an optimizer, and vlbBound", async () => {
  const w = tf.variable(tf.randomNormal([2, 2], 0, 0.1, "float32", 1));
  const net = (x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, w);
  const opt = tf.train.adam(1e-3);
  const x0 = tf.randomUniform([16, 2], -1, 1, "float32", 2);
  const step = (i: number) => {
    const cost = opt.minimize(() => epsLoss(net, s, { x0, seed: i }), true);
    cost?.dispose();
  };
  step(0); // the first step creates Adam's slots
  const before = tf.memory().numTensors;
  for (let i = 1; i <= 100; i++) step(i);
  assertEquals(tf.memory().numTensors, before, "training steps");
  await vlbBound(net, s, { x0, seed: 0 });
  assertEquals(tf.memory().numTensors, before, "vlbBound");
  opt.dispose();
  tf.dispose([w, x0]);
});
