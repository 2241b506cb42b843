// The in-memory training loop of the platform-neutral core: checkpoints come back as objects
// (bytes with encodeCheckpoint), and a run continued from them reproduces the uninterrupted one.
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, encodeCheckpoint, loadCheckpoint, trainLoop } from "../mod.ts";
import { stripes, TINY } from "./_tiny.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test({
  name: "trainLoop: in memory, resumed from a checkpoint's bytes, bit for bit; grids to a callback",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const opts = {
      data: stripes(),
      unet: TINY,
      batchSize: 4,
      lr: 1e-3,
      warmup: 2,
      flip: true,
      seed: 5,
      checkpointEvery: 3,
      sampleEvery: 6,
      sampleCount: 2,
    };
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
