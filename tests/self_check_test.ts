// The self-check of conditional sampling: which rows are drawn again and with what seed, the
// recommended self-check through a checkpoint (round trip, bad ones), and sampling with it: the
// pipeline, one shard and two shards give the same images, and no tensor is left behind.
import * as tf from "@tensorflow/tfjs-core";
import {
  createUNet,
  encodeCheckpoint,
  getWeights,
  loadCheckpoint,
  loadPipeline,
  type SelfCheck,
  type SelfCheckTally,
} from "../mod.ts";
import { _guessedOther, _redrawSeed, _selfChecked } from "../src/self_check.ts";
import { _loadSampler, _runShard, type _ShardJob } from "../src/_sample_shard.ts";
import { read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { TINY } from "./_tiny.ts";
import { evaluate } from "../fs.ts";

Deno.test("self-check: rows guessed as another class are drawn again, up to `rounds` times", async () => {
  await useBackend("cpu");
  // rows 0–3 asked for classes 0, 1, none, 1 (rows 2–5 of a batch of 8)
  const classes = [9, 9, 0, 1, -1, 1, 9, 9];
  const x = tf.tensor2d([[0, 0], [1, 1], [2, 2], [3, 3]]);
  const calls: string[] = [];
  const before = tf.memory().numTensors;
  const { samples, tally } = await _selfChecked(
    x,
    { start: 2, of: 8, classes, seed: 5 },
    { timesteps: [1], rounds: 3 },
    (x, rows) => {
      calls.push(`classify ${x.shape[0]} at ${rows.start}/${rows.of}`);
      // errors of classes 0 and 1: the whole part first, every row guessed 0; then row 3
      // accepted, row 5 never
      const guess0 = [0.1, 0.5], guess1 = [0.5, 0.1];
      return Promise.resolve(
        Float32Array.from(
          x.shape[0] === 4
            ? [0, 1, 2, 3].flatMap(() => guess0)
            : rows.start === 3
            ? guess1
            : guess0,
        ),
      );
    },
    (row, seed) => {
      calls.push(`redraw ${row} seed ${seed}`);
      return Promise.resolve(tf.fill([1, 2], 100 * row + (seed - 5) / 2 ** 32));
    },
  );
  const s1 = _redrawSeed(5, 1), s2 = _redrawSeed(5, 2), s3 = _redrawSeed(5, 3);
  assertEquals(calls, [
    "classify 4 at 2/8",
    `redraw 3 seed ${s1}`,
    "classify 1 at 3/8",
    `redraw 5 seed ${s1}`,
    "classify 1 at 5/8",
    `redraw 5 seed ${s2}`,
    "classify 1 at 5/8",
    `redraw 5 seed ${s3}`,
    "classify 1 at 5/8",
  ]);
  assertEquals(tally, { redrawn: 4, stillOther: 1 });
  // row 0 kept (guessed as asked), row 2 kept (no class), row 1 from round 1, row 3 from round 3
  assertEquals(Array.from(await read(samples)), [0, 0, 301, 301, 2, 2, 503, 503]);
  assertTrue(x.isDisposed, "the input is disposed");
  samples.dispose();
  assertEquals(tf.memory().numTensors, before - 1); // x gone, samples freed
  assertEquals(_redrawSeed(5, 2) - _redrawSeed(5, 1), 2 ** 32);
});

Deno.test("self-check: a row is drawn again only where another class fits better by the margin", () => {
  // errors of classes 0–2 for one row asked for class 1: 0.4 against the best other's 0.3
  const errors = Float32Array.of(0.3, 0.4, 0.9);
  // 0.4 − 0.3 = 0.1: more than 0 · 0.4 and 0.2 · 0.4 = 0.08, not more than 0.25 · 0.4 = 0.1
  assertEquals([0, 0.2, 0.25, 0.5].map((m) => _guessedOther(errors, 3, 0, 1, m)), [
    true,
    true,
    false,
    false,
  ]);
  assertEquals(_guessedOther(errors, 3, 0, 0, 0), false); // class 0 errs least
  // the second of two rows
  assertEquals(_guessedOther(Float32Array.of(0, 1, 1, 0), 2, 1, 0, 0), true);
});

/** A conditional TINY network (3 classes) with random weights, and its checkpoint's bytes. */
async function conditionalCheckpoint(selfCheck?: SelfCheck): Promise<Uint8Array> {
  const unet = createUNet({ ...TINY, numClasses: 3, dropout: 0 }, { seed: 2 });
  let k = 0;
  for (const p of unet.params.values()) {
    p.assign(tf.tidy(() => tf.add(p, tf.randomNormal(p.shape, 0, 0.3, "float32", k++))));
  }
  const ema = await getWeights(unet.params);
  unet.dispose();
  return encodeCheckpoint({
    config: {
      unet: { ...TINY, numClasses: 3, dropout: 0 },
      schedule: { kind: "linear", T: 100 },
      classes: ["a", "b", "c"],
      guidanceScale: 2,
      sampler: { name: "ddim", steps: 4, eta: 1 },
      ...(selfCheck ? { selfCheck } : {}),
    },
    ema,
  });
}

Deno.test("self-check: recorded in a checkpoint, refused where malformed or on an unconditional network", async () => {
  await useBackend("cpu");
  const check = { timesteps: [20, 50], rounds: 2, margin: 0.05 };
  const back = await loadCheckpoint(await conditionalCheckpoint(check));
  assertEquals(back.config.selfCheck, check);
  const bad: [unknown, string][] = [
    [{ timesteps: [100], rounds: 1 }, "timesteps must be distinct integers in [0, 99]"],
    [{ timesteps: [5, 5], rounds: 1 }, "timesteps must be distinct integers"],
    [{ timesteps: [5], rounds: 0 }, "rounds must be a positive integer"],
    [{ timesteps: [5], rounds: 1, margin: 1 }, "margin must be a number in [0, 1)"],
    [{ timesteps: [5], rounds: 1, extra: 1 }, "has unknown fields extra"],
  ];
  for (const [selfCheck, msg] of bad) {
    await assertRejects(
      async () => loadCheckpoint(await conditionalCheckpoint(selfCheck as SelfCheck)),
      Error,
      `metadata.config.selfCheck ${msg}`,
    );
  }
  const plain = createUNet({ ...TINY, dropout: 0 });
  const ema = await getWeights(plain.params);
  plain.dispose();
  await assertRejects(
    () =>
      loadCheckpoint(encodeCheckpoint({
        config: { unet: TINY, schedule: { kind: "linear", T: 100 }, selfCheck: check },
        ema,
      })),
    Error,
    "metadata.config.selfCheck needs a class-conditional network",
  );
});

Deno.test("self-check: the pipeline, one shard and two shards draw the same images", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cond.safetensors`;
  // the random network guesses its own samples' classes poorly: rows are drawn again
  await Deno.writeFile(path, await conditionalCheckpoint({ timesteps: [30, 60], rounds: 2 }));
  const classes = [0, 1, 2, 0, 1, 2];
  const pipe = await loadPipeline(path);
  let told: SelfCheckTally | undefined;
  const viaPipeline = await read(
    await pipe.sample({ n: 6, seed: 3, classes, onSelfCheck: (t) => (told = t) }),
  );
  // the first self-check made the class network; from then on nothing is left behind
  const before = tf.memory().numTensors;
  const unchecked = await read(await pipe.sample({ n: 6, seed: 3, classes, selfCheck: false }));
  assertEquals(await read(await pipe.sample({ n: 6, seed: 3, classes })), viaPipeline);
  assertEquals(tf.memory().numTensors, before, "no tensor left behind");
  pipe.dispose();

  const { unet, s, sampler, steps, eta, checker, config } = await _loadSampler(path, {});
  const job = (start: number, count: number): _ShardJob => ({
    checkpoint: path,
    sampler,
    steps,
    eta,
    seed: 3,
    start,
    count,
    of: 6,
    snapAt: [],
    show: 0,
    classes,
    guidance: config.guidanceScale,
    selfCheck: config.selfCheck,
  });
  const whole = await _runShard(unet, s, job(0, 6), () => {}, checker);
  const parts = [await _runShard(unet, s, job(0, 2), () => {}, checker)];
  parts.push(await _runShard(unet, s, job(2, 4), () => {}, checker));
  assertTrue(whole.tally!.redrawn > 0, `rows were drawn again: ${JSON.stringify(whole.tally)}`);
  assertEquals(
    parts.reduce((a, p) => a + p.tally!.redrawn, 0),
    whole.tally!.redrawn,
    "the shards draw the same rows again",
  );
  assertEquals(told, whole.tally, "the pipeline tells its tally");
  const wholeData = await read(whole.samples);
  assertEquals(Array.from(wholeData), Array.from(viaPipeline), "pipeline = one shard");
  assertEquals(
    [...await read(parts[0].samples), ...await read(parts[1].samples)],
    Array.from(wholeData),
    "two shards = one",
  );
  assertTrue(
    wholeData.some((v, i) => v !== unchecked[i]),
    "the self-check changed the redrawn rows",
  );
  tf.dispose([whole.samples, ...parts.map((p) => p.samples)]);
  unet.dispose();
  checker!.net.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("self-check: evaluate in this thread (workers: 0) draws again what its workers do", async () => {
  await useBackend("wasm");
  const dir = await Deno.makeTempDir();
  const path = `${dir}/checked.safetensors`;
  const ck = await loadCheckpoint(
    new URL("../checkpoints/wip/mnist-conditional.safetensors", import.meta.url),
  );
  // 3 DDIM steps draw blurs the class network often guesses as another digit: rows are redrawn
  ck.config.selfCheck = { timesteps: [350, 450], rounds: 1 };
  await Deno.writeFile(path, encodeCheckpoint({ config: ck.config, ema: ck.ema }));
  const options = {
    checkpoint: path,
    n: 6,
    steps: 3,
    seed: 1,
    bpdImages: 1,
    strata: 1,
    sweep: [],
    progress: false,
    onNote: () => {},
  };
  const run = (workers: number, selfCheck = true) => evaluate({ ...options, workers, selfCheck });
  const inThread = await run(0);
  const inWorkers = await run(2);
  const tally = inThread.sampling.selfCheck!;
  assertTrue(tally.redrawn > 0, `rows were drawn again: ${JSON.stringify(tally)}`);
  assertEquals(tally, inWorkers.sampling.selfCheck, "the same rows drawn again");
  // the same images: every score of them agrees to the last bit
  assertEquals(inThread.quality!.generated, inWorkers.quality!.generated);
  const unchecked = await run(0, false);
  assertEquals(unchecked.sampling.selfCheck, undefined);
  assertTrue(
    unchecked.quality!.generated.fid !== inThread.quality!.generated.fid,
    "the redrawn rows changed the scores",
  );
  await Deno.remove(dir, { recursive: true });
});
