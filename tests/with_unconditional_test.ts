// Guidance with a separate unconditional network: the routing of rows (null rows to the
// unconditional model, in any order), guidance 0 and 1 against each network exactly, the
// checkpoint that carries both (round trip, CRC, bad pairs), and no tensors left behind.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { join } from "node:path";
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
  withUnconditional,
} from "../mod.ts";
import { assertClose, backendTest, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { TINY } from "./_tiny.ts";

const COND = { ...TINY, numClasses: 3 };

/** Elementwise models whose rows say which model made them: exact in float32. */
const condToy: EpsModel = (x, t, y) =>
  tf.tidy(() => tf.add(tf.mul(x, 2), tf.reshape(tf.add(tf.mul(t, 10), y!), [-1, 1])));
const uncondToy: EpsModel = (x, t) =>
  tf.tidy(() => tf.sub(tf.neg(x), tf.reshape(tf.mul(t, 10), [-1, 1])));

Deno.test("withUnconditional: each row goes to its network, in any order of labels", async () => {
  await useBackend("cpu");
  const model = withUnconditional(condToy, uncondToy);
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 1, maxLength: 12 }),
      (labels) => {
        const B = labels.length;
        const x = Float32Array.from({ length: 3 * B }, (_, i) => (i * 7) % 11 - 5);
        const tv = Int32Array.from({ length: B }, (_, i) => (i * 37) % 1000);
        const got = tf.tidy(() =>
          model(tf.tensor2d(x, [B, 3]), tf.tensor1d(tv, "int32"), tf.tensor1d(labels, "int32"))
            .dataSync()
        );
        // the reference, row by row in float64 (the values are small integers: exact in float32)
        for (let i = 0; i < B; i++) {
          for (let j = 0; j < 3; j++) {
            const v = x[3 * i + j];
            const want = labels[i] === NULL_CLASS
              ? -v - 10 * tv[i]
              : 2 * v + 10 * tv[i] + labels[i];
            if (got[3 * i + j] !== want) return false;
          }
        }
        return true;
      },
    ),
    { seed: 19, numRuns: 100 },
  );
  // no labels: the unconditional model
  const x = tf.ones([2, 3]), t = tf.tensor1d([1, 2], "int32");
  assertEquals(Array.from(model(x, t).dataSync()), [-11, -11, -11, -21, -21, -21]);
  tf.dispose([x, t]);
});

Deno.test("withUnconditional: bad models and labels are one clear error each", async () => {
  await useBackend("cpu");
  assertThrows(
    () => withUnconditional(condToy, 3 as unknown as EpsModel),
    TypeError,
    "Cannot pair the models: unconditional must be a function (xt, t, y?) => Tensor, got number",
  );
  const model = withUnconditional(condToy, uncondToy);
  const x = tf.ones([2, 3]), t = tf.tensor1d([1, 2], "int32");
  assertThrows(
    () => model(x, t, tf.tensor1d([0, -1, 1], "int32")),
    RangeError,
    "Cannot call the paired model: y must hold 2 labels (xt's batch), got 3",
  );
  const wide = withUnconditional(condToy, (xt) => tf.zeros([xt.shape[0], 4]));
  assertThrows(
    () => wide(x, t, tf.tensor1d([0, -1], "int32")),
    RangeError,
    "Cannot call the paired model: the conditional model predicts [1,3] and the unconditional one [1,4]",
  );
  tf.dispose([x, t]);
});

/** A conditional TINY U-Net and an unconditional one, their parameters perturbed. */
function twoUNets() {
  const cond = createUNet(COND, { seed: 1 }), uncond = createUNet(TINY, { seed: 2 });
  let k = 0;
  for (const net of [cond, uncond]) {
    for (const p of net.params.values()) {
      p.assign(tf.tidy(() => tf.add(p, tf.randomNormal(p.shape, 0, 0.2, "float32", k++))));
    }
  }
  return { cond, uncond };
}

backendTest(
  "withUnconditional: guidance 0 samples as the unconditional U-Net, 1 as the conditional one",
  async () => {
    const { cond, uncond } = twoUNets();
    const model = withUnconditional(cond, uncond);
    const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "ddim5");
    const y = [2, 0, 1, 1];
    const run = (m: EpsModel, extra = {}) =>
      ddimSampleLoop(m, s, { shape: [4, 8, 8, 1], seed: 9, ...extra }).then(read);
    assertEquals(await run(model, { classes: y, guidanceScale: 0 }), await run(uncond));
    assertEquals(
      await run(model, { classes: y, guidanceScale: 1 }),
      await run((x, t) => cond(x, t, tf.tensor1d(y, "int32"))),
    );
    // w = 3: both networks in one guided call, each on its own rows; against the formula on two
    // separate calls. The guided batch is split into the networks' rows, so each runs the same
    // rows as alone: tolerances are those of a few float32 roundings of O(1) values.
    const xt = tf.randomNormal([4, 8, 8, 1], 0, 1, "float32", 6);
    const tt = tf.tensor1d([300, 300, 300, 300], "int32");
    const both = await read(model(
      tf.concat([xt, xt]),
      tf.tensor1d(new Int32Array(8).fill(300), "int32"),
      tf.tensor1d([...y, NULL_CLASS, NULL_CLASS, NULL_CLASS, NULL_CLASS], "int32"),
    ));
    const c = await read(cond(xt, tt, tf.tensor1d(y, "int32"))), u = await read(uncond(xt, tt));
    assertClose(both.subarray(0, c.length), c, "conditional rows", { atol: 1e-5, rtol: 1e-5 });
    assertClose(both.subarray(c.length), u, "null rows", { atol: 1e-5, rtol: 1e-5 });
    // no tensors left behind by a guided sampling loop
    const before = tf.memory().numTensors;
    (await ddimSampleLoop(model, s, { shape: [4, 8, 8, 1], seed: 1, classes: y, guidanceScale: 3 }))
      .dispose();
    assertEquals(tf.memory().numTensors, before, "tensors after a guided loop");
    cond.dispose();
    uncond.dispose();
  },
);

Deno.test("checkpoint: a separate unconditional network round-trips and answers ε(x, ∅)", async () => {
  await useBackend("cpu");
  const { cond, uncond } = twoUNets();
  const schedule = { kind: "linear" as const, T: 1000 };
  const ema = await getWeights(cond.params), unconditional = await getWeights(uncond.params);
  const config = { unet: COND, schedule, unconditionalUnet: TINY };
  const bytes = encodeCheckpoint({ config, ema, unconditional });
  const back = await loadCheckpoint(bytes);
  assertEquals(back.config.unconditionalUnet, TINY);
  assertEquals(back.unconditional!.get("conv_in.w")!.data, unconditional.get("conv_in.w")!.data);
  const pair = unetFromCheckpoint(back);
  assertEquals(pair.numParams, cond.numParams + uncond.numParams);
  const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 3);
  const t = tf.tensor1d([10, 500, 900], "int32");
  const y = tf.tensor1d([1, NULL_CLASS, 2], "int32");
  const got = await read(pair(x, t, y));
  const want = await read(withUnconditional(cond, uncond)(x, t, y));
  assertEquals(got, want, "the loaded pair is the pair of its networks");
  pair.dispose();
  // a checkpoint without the pair builds the conditional network alone
  const alone = unetFromCheckpoint(
    await loadCheckpoint(encodeCheckpoint({ config: { unet: COND, schedule }, ema })),
  );
  assertEquals(alone.numParams, cond.numParams);
  alone.dispose();

  // one clear error for each bad pair
  const bad = async (ck: Parameters<typeof encodeCheckpoint>[0], message: string) =>
    await assertRejects(() => loadCheckpoint(encodeCheckpoint(ck)), Error, message);
  await bad(
    { config: { unet: COND, schedule }, ema, unconditional },
    "it has unconditional.* weights but no metadata.config.unconditionalUnet",
  );
  await bad(
    { config, ema },
    "metadata.config.unconditionalUnet is set but it has no unconditional.* weights",
  );
  await bad(
    { config: { ...config, unconditionalUnet: COND }, ema, unconditional: ema },
    "the unconditional network must be unconditional and make the conditional one's 8×8×1 images " +
      "with 1 output channels, got 8×8×1, 1 channels, numClasses 3",
  );
  await bad(
    { config: { ...config, unconditionalUnet: { ...TINY, imageSize: 16 } }, ema, unconditional },
    "got 16×16×1, 1 channels, numClasses 0",
  );
  await bad(
    {
      config: { unet: TINY, schedule, unconditionalUnet: TINY },
      ema: unconditional,
      unconditional,
    },
    "a separate unconditional network needs a class-conditional model, got numClasses 0",
  );
  await bad(
    { config: { ...config, unconditionalUnet: { ...TINY, ch: 0 } }, ema, unconditional },
    "metadata.config.unconditionalUnet.ch must be a positive integer, got 0",
  );
  // weights that do not fit the unconditional network's config
  const wrong = await loadCheckpoint(
    encodeCheckpoint({
      config: { ...config, unconditionalUnet: { ...TINY, ch: 16 } },
      ema,
      unconditional,
    }),
  );
  assertThrows(() => unetFromCheckpoint(wrong), RangeError, "Cannot set weights: ");
  // a corrupted unconditional tensor fails the checksum
  const flipped = bytes.slice();
  flipped[flipped.length - 5] ^= 1;
  await assertRejects(() => loadCheckpoint(flipped), Error, "fail their CRC-32C check");
  assertTrue(tf.memory().numTensors > 0, "the networks are still alive here");
  tf.dispose([x, t, y]);
  cond.dispose();
  uncond.dispose();
  // the file on disk too
  const dir = Deno.makeTempDirSync();
  Deno.writeFileSync(join(dir, "pair.safetensors"), bytes);
  assertEquals(
    (await loadCheckpoint(join(dir, "pair.safetensors"))).config.unconditionalUnet,
    TINY,
  );
});
