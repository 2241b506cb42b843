// The in-memory training loop of the platform-neutral core: checkpoints come back as objects
// (bytes with encodeCheckpoint), and a run continued from them reproduces the uninterrupted one.
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, encodeCheckpoint, loadCheckpoint, trainLoop } from "../mod.ts";
import { tinyTrainOptions } from "./_tiny.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test({
  name: "trainLoop: in memory, resumed from a checkpoint's bytes, bit for bit; grids to a callback",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    // the trainer tests' options, without the folder
    const { outDir: _, progress: __, ...tiny } = tinyTrainOptions("", 1);
    const opts = { ...tiny, sampleEvery: 6, sampleCount: 2 };
    const before = tf.memory().numTensors;
    const grids: number[][] = [];
    const whole = await trainLoop({
      ...opts,
      steps: 6,
      onSamples: (x, step) => void grids.push([step, ...x.shape]),
    });
    assertEquals(tf.memory().numTensors, before, "no tensors left");
    assertEquals(grids, [[6, 2, 8, 8, 1]]);
    const saved: Uint8Array[] = [];
    await trainLoop({
      ...opts,
      steps: 3,
      onCheckpoint: (ck: Checkpoint) => void saved.push(encodeCheckpoint(ck)),
    });
    assertEquals(saved.length, 1);
    const resumed = await trainLoop({
      ...opts,
      steps: 6,
      resumeFrom: await loadCheckpoint(saved[0]),
    });
    assertEquals(resumed.losses, whole.losses.slice(3));
    assertTrue(resumed.step === 6, "ran to step 6");
  },
});

Deno.test("trainLoop: the sample grid reports each of its DDIM steps (no silent stretch after the last training step)", async () => {
  await useBackend("cpu");
  const { outDir: _o, ...opts } = tinyTrainOptions("", 2);
  const calls: [number, number, number][] = [];
  let grids = 0;
  await trainLoop({
    ...opts,
    sampleEvery: 2,
    sampleCount: 2,
    onSampleProgress: (done, total, step) => calls.push([done, total, step]),
    onSamples: () => {
      grids++;
    },
  });
  assertEquals(grids, 1);
  assertEquals(calls.length, 50);
  assertEquals(calls[0], [1, 50, 2]);
  assertEquals(calls[49], [50, 50, 2]);
});
