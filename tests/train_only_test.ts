// Training a subset of the parameters (`trainOnly`): a conditional model fine-tuned from an
// unconditional one with only its class embedding trained keeps every other weight, its EMA and
// its Adam moments exactly, so with no class dropout its "no class" branch is the start model's
// prediction bit for bit; the run resumes bit for bit through data-parallel workers and must be
// resumed with the same subset; bad subsets are one clear error each.
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { createUNet, loadCheckpoint, NULL_CLASS, setWeights } from "../mod.ts";
import { train } from "../fs.ts";
import { assertSameCheckpoint, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { labelledStripes, TINY, tinyTrainOptions } from "./_tiny.ts";

const COND = { ...TINY, numClasses: 3 };

Deno.test({
  name: "train: trainOnly label_emb keeps every other weight, so the null branch is the start's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const [src, a, b] = await Promise.all(Array.from({ length: 3 }, () => Deno.makeTempDir()));
    await train(tinyTrainOptions(src, 2));
    const start = join(src, "checkpoint.safetensors");
    const opts = {
      data: labelledStripes(),
      unet: COND,
      classDropout: 0,
      initFrom: start,
      trainOnly: ["label_emb"],
      workers: 2,
    };
    const whole = await train(tinyTrainOptions(a, 6, opts));
    const ck = await loadCheckpoint(join(a, "checkpoint.safetensors"));
    const teacher = await loadCheckpoint(start);
    const fresh = createUNet(COND, { seed: 5, T: 1000 });
    const initial = await fresh.params.get("label_emb.w")!.data() as Float32Array;
    fresh.dispose();
    assertEquals((ck.config.train as { trainOnly?: string[] }).trainOnly, ["label_emb"]);
    for (const [name, w] of ck.params!) {
      if (name === "label_emb.w") continue;
      // bit for bit: the start's EMA weights, in the weights and their EMA; no Adam moments
      const want = teacher.ema.get(name)!.data;
      assertEquals(w.data, want, `${name} (weights)`);
      assertEquals(ck.ema.get(name)!.data, want, `${name} (EMA)`);
      assertTrue(ck.adamM!.get(name)!.data.every((v) => v === 0), `${name} has no first moment`);
    }
    // the class rows moved (every one of them), the null row stayed zero
    const emb = ck.params!.get("label_emb.w")!.data, width = emb.length / 4;
    for (let k = 0; k < 3; k++) {
      const moved = emb.subarray(k * width, (k + 1) * width)
        .some((v, i) => v !== initial[k * width + i]);
      assertTrue(moved, `class row ${k} trained`);
    }
    assertTrue(emb.subarray(3 * width).every((v) => v === 0), "the null row stays zero");
    // so ε(x, ∅) of the EMA weights is the start model's ε(x) exactly
    const student = createUNet(COND, { seed: 0, T: 1000 });
    const base = createUNet(TINY, { seed: 0, T: 1000 });
    setWeights(student.params, ck.ema);
    setWeights(base.params, teacher.ema);
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 1);
    const t = tf.tensor1d([5, 400, 999], "int32");
    const y = tf.tensor1d([NULL_CLASS, NULL_CLASS, NULL_CLASS], "int32");
    const got = student(x, t, y), want = base(x, t);
    assertEquals(await got.data(), await want.data(), "ε(x, ∅) = the start model's ε(x)");
    tf.dispose([x, t, y, got, want]);
    student.dispose();
    base.dispose();
    // resume: bit for bit with the same subset, refused with another
    await train(tinyTrainOptions(b, 3, opts));
    const resumed = await train(tinyTrainOptions(b, 6, { ...opts, resume: true }));
    assertEquals(resumed.losses, whole.losses.slice(3));
    await assertSameCheckpoint(
      join(a, "checkpoint.safetensors"),
      join(b, "checkpoint.safetensors"),
    );
    const { trainOnly: _, ...all } = opts;
    await assertRejects(
      () => train(tinyTrainOptions(b, 9, { ...all, resume: true })),
      RangeError,
      '"trainOnly":["label_emb"]',
    );
  },
});

Deno.test({
  name: "train: bad trainOnly subsets are one clear error each",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const cases: [unknown, string][] = [
      [[], "trainOnly must be a non-empty array of parameter-name prefixes, got []"],
      [
        "label_emb",
        'trainOnly must be a non-empty array of parameter-name prefixes, got "label_emb"',
      ],
      [
        ["label_emb"],
        'trainOnly "label_emb" names no parameter of this U-Net (its names start with',
      ],
    ];
    for (const [trainOnly, msg] of cases) {
      await assertRejects(
        () =>
          train(tinyTrainOptions(dir, 1, { overwrite: true, trainOnly: trainOnly as string[] })),
        RangeError,
        msg,
      );
    }
  },
});
