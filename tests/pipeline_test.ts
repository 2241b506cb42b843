// loadPipeline: the three-line way to sample a trained model gives exactly what the explicit
// calls give (bundled model; a class-conditional one by class name, with its recommended
// guidance), and bad classes are one clear error.
import * as tf from "@tensorflow/tfjs-core";
import {
  BUNDLED_MNIST_CHECKPOINT,
  createUNet,
  encodeCheckpoint,
  getWeights,
  loadCheckpoint,
  loadPipeline,
  makeSchedule,
  sampleLoop,
  SAMPLERS,
  samplingSchedule,
  setWeights,
} from "../mod.ts";
import { read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects } from "./_assert.ts";
import { TINY } from "./_tiny.ts";

const CONDITIONAL = new URL("../checkpoints/wip/mnist-conditional.safetensors", import.meta.url);

/** The explicit way: load, build, set weights, respace, sample. */
async function explicit(
  source: URL,
  sampler: "ddim" | "dpm++",
  steps: number,
  extra: { classes?: number[]; guidanceScale?: number; eta?: number } = {},
) {
  const ck = await loadCheckpoint(source);
  const unet = createUNet(ck.config.unet);
  setWeights(unet.params, ck.ema);
  const s = samplingSchedule(makeSchedule(ck.config.schedule), sampler, steps);
  const n = extra.classes?.length ?? 1;
  const x = await sampleLoop(unet, s, { sampler, shape: [n, 28, 28, 1], seed: 4, ...extra });
  unet.dispose();
  return read(x);
}

Deno.test("loadPipeline: the bundled model's samples equal the explicit calls' bit for bit", async () => {
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const pipe = await loadPipeline();
  const got = await read(await pipe.sample({ n: 1, sampler: "ddim", steps: 4, seed: 4 }));
  assertEquals(got, await explicit(BUNDLED_MNIST_CHECKPOINT, "ddim", 4));
  // the default sampler: DPM-Solver++ (2M) with 20 calls
  assertEquals(
    await read(await pipe.sample({ n: 1, seed: 4 })),
    await explicit(BUNDLED_MNIST_CHECKPOINT, "dpm++", 20),
  );
  await assertRejects(
    () => pipe.sample({ n: 2, classes: 3 }),
    RangeError,
    "classes and guidanceScale need a class-conditional model",
  );
  await assertRejects(
    () => pipe.sample({ n: 0 }),
    RangeError,
    "n must be a positive integer, got 0",
  );
  pipe.dispose();
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("loadPipeline: a conditional model by class name, at its recommended guidance or one given", async () => {
  await useBackend("wasm");
  const pipe = await loadPipeline(CONDITIONAL);
  const w = pipe.config.guidanceScale ?? 1;
  assertEquals(
    await read(
      await pipe.sample({ n: 3, sampler: "ddim", steps: 3, seed: 4, classes: ["7", 2, null] }),
    ),
    await explicit(CONDITIONAL, "ddim", 3, { classes: [7, 2, -1], guidanceScale: w }),
  );
  assertEquals(
    await read(
      await pipe.sample({
        n: 3,
        sampler: "ddim",
        steps: 3,
        seed: 4,
        classes: "5",
        guidanceScale: 3,
      }),
    ),
    await explicit(CONDITIONAL, "ddim", 3, { classes: [5, 5, 5], guidanceScale: 3 }),
  );
  await assertRejects(
    () => pipe.sample({ n: 1, classes: "sneaker" }),
    RangeError,
    "classes must be among 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 (or their indices), got sneaker",
  );
  pipe.dispose();
});

Deno.test("loadPipeline: the checkpoint's recommended sampler, steps and η are the defaults", async () => {
  await useBackend("wasm");
  const ck = await loadCheckpoint(BUNDLED_MNIST_CHECKPOINT);
  const pipe = await loadPipeline(
    encodeCheckpoint({
      ...ck,
      config: { ...ck.config, sampler: { name: "ddim", steps: 3, eta: 1 } },
    }),
  );
  // nothing given: DDIM with 3 steps at η = 1 (a stochastic chain: a wrong η draws other images)
  assertEquals(
    await read(await pipe.sample({ n: 1, seed: 4 })),
    await explicit(BUNDLED_MNIST_CHECKPOINT, "ddim", 3, { eta: 1 }),
  );
  // the recommended sampler with η given: only the steps come from the checkpoint
  assertEquals(
    await read(await pipe.sample({ n: 1, seed: 4, eta: 0 })),
    await explicit(BUNDLED_MNIST_CHECKPOINT, "ddim", 3, { eta: 0 }),
  );
  // another sampler: none of the recommended settings (dpm++ with its own 20 steps)
  assertEquals(
    await read(await pipe.sample({ n: 1, seed: 4, sampler: "dpm++" })),
    await explicit(BUNDLED_MNIST_CHECKPOINT, "dpm++", 20),
  );
  pipe.dispose();
});

/** A conditional TINY network (3 classes, random weights) as a loaded checkpoint. */
async function tinyConditional() {
  const net = createUNet({ ...TINY, numClasses: 3, dropout: 0 }, { seed: 2 });
  const ema = await getWeights(net.params);
  net.dispose();
  return {
    config: {
      unet: { ...TINY, numClasses: 3, dropout: 0 },
      schedule: { kind: "linear" as const, T: 100 },
    },
    ema,
  };
}

Deno.test("loadPipeline: more than 64 images are sampled in chunks, the same images as one batch", async () => {
  await useBackend("cpu");
  const ckpt = await tinyConditional();
  const pipe = await loadPipeline(ckpt);
  const classes = Array.from({ length: 70 }, (_, i) => i % 3);
  const chunked = await read(
    await pipe.sample({ n: 70, sampler: "ddim", steps: 3, seed: 5, classes, guidanceScale: 2 }),
  );
  const s = samplingSchedule(makeSchedule(ckpt.config.schedule), "ddim", 3);
  const whole = await read(
    await sampleLoop(pipe.unet, s, {
      sampler: "ddim",
      shape: [70, 8, 8, 1],
      seed: 5,
      classes,
      guidanceScale: 2,
    }),
  );
  assertEquals(chunked, whole);
  pipe.dispose();
});

Deno.test("loadPipeline: onFrame sees each step's x_t and x̂0 of the whole batch, as the loop gives them", async () => {
  await useBackend("cpu");
  const ckpt = await tinyConditional();
  const pipe = await loadPipeline(ckpt);
  const classes = Array.from({ length: 70 }, (_, i) => i % 3);
  const opts = { sampler: "ddim" as const, steps: 3, seed: 5, classes, guidanceScale: 2 };
  const frames: { done: number; total: number; sample: Float32Array; predX0: Float32Array }[] = [];
  const before = tf.memory().numTensors;
  // 70 rows: two chunks (64 + 6), joined in each frame
  const x = await pipe.sample({
    ...opts,
    n: 70,
    onFrame: async ({ done, total, sample, predX0 }) =>
      void frames.push({ done, total, sample: await read(sample), predX0: await read(predX0) }),
  });
  const last = await read(x);
  x.dispose();
  assertEquals(tf.memory().numTensors, before, "the frames are disposed");
  const s = samplingSchedule(makeSchedule(ckpt.config.schedule), "ddim", 3);
  let k = 0;
  for await (
    const step of SAMPLERS.ddim.loop(pipe.unet, s, { ...opts, shape: [70, 8, 8, 1] })
  ) {
    assertEquals([frames[k].done, frames[k].total], [k + 1, 3]);
    assertEquals(frames[k].sample, await read(step.sample), `x_t of step ${k + 1}`);
    assertEquals(frames[k].predX0, await read(step.predX0), `x̂0 of step ${k + 1}`);
    tf.dispose([step.sample, step.predX0]);
    k++;
  }
  assertEquals(frames.length, 3);
  assertEquals(frames[2].sample, last, "the last frame is the result");
  pipe.dispose();
});
