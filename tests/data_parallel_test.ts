// Data-parallel training (train({ workers }), deno task train --workers N): the batch's t, ε and
// dropout masks are the same whatever the split, so the shards' weighted gradients sum to the
// whole batch's; the worker pool gives the one-thread gradients; a resumed run with workers is
// reproduced bit for bit; no tensors leak; bad worker counts get clear errors.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { join } from "node:path";
import { createUNet, loadCheckpoint, makeSchedule } from "../mod.ts";
import { train } from "../fs.ts";
import { _dropout } from "../src/_nn/layers.ts";
import { _shardGradients } from "../src/train/_step.ts";
import { _gradientPool } from "../src/train/_gradient_pool.ts";
import { _shardCuts } from "../src/_shards.ts";
import { TINY, tinyTrainOptions } from "./_tiny.ts";
import { BACKENDS, backendTest, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";

const _schedule = { kind: "linear" as const, T: 1000 };

/** A tensor's values, keeping the tensor (read() disposes it). */
const _values = async (x: tf.Tensor) => await x.data() as Float32Array;

/**
 * Gradients computed in shards may differ from the whole batch's by float32 rounding only: the
 * weight gradients sum B·H·W products in another order. Bound: 1e-5 (float32's closed-form
 * tolerance in this library) of the largest gradient entry of that parameter, plus 1e-8 for
 * parameters whose gradient is ~0 (zero-initialized output convolutions). Measured: ≤ 8e-7.
 */
async function _assertSameGradients(
  got: Map<string, tf.Tensor>,
  want: Map<string, tf.Tensor>,
  what: string,
): Promise<void> {
  assertEquals([...got.keys()], [...want.keys()], `${what}: parameter names`);
  for (const [name, g] of want) {
    const [a, b] = [await _values(got.get(name)!), await _values(g)];
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < b.length; i++) {
      const tol = 1e-5 * scale + 1e-8;
      if (!(Math.abs(a[i] - b[i]) <= tol)) {
        throw new Error(`${what}: ${name}[${i}] = ${a[i]}, whole batch ${b[i]} (tol ${tol})`);
      }
    }
  }
}

/** A batch of B smooth 8×8 pictures in [-1, 1]. */
function _images(B: number): tf.Tensor4D {
  return tf.tidy(() =>
    tf.sin(tf.add(tf.mul(tf.range(0, B * 64), 0.37), 0.5)).reshape([B, 8, 8, 1]) as tf.Tensor4D
  );
}

backendTest(
  "_dropout: the masks of shards drawn with rows are the rows of the whole batch's",
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0.05, max: 0.9, noNaN: true }),
        async (of, H, C, seedN, rate) => {
          const seed = `${seedN}:3`;
          const x = tf.add(tf.randomUniform([of, H, H, C], -1, 1, "float32", seedN), 2);
          const whole = await read(tf.dropout(x, rate, undefined, seed));
          // rows {0, of} is tf.dropout itself, exactly
          assertEquals(
            Array.from(await read(_dropout(x, rate, seed, { start: 0, of }))),
            Array.from(whole),
          );
          const cut = Math.floor(of / 2);
          const parts: number[] = [];
          for (const [a, b] of [[0, cut], [cut, of]]) {
            if (a === b) continue;
            const xs = tf.slice(x, a, b - a);
            parts.push(...await read(_dropout(xs, rate, seed, { start: a, of })));
          }
          assertEquals(parts, Array.from(whole), `shards of ${of} cut at ${cut}`);
          // each element dropped or scaled by 1 / (1 - rate) (x ∈ [1, 3], so never 0 itself)
          const xv = await read(x);
          whole.forEach((v, i) => {
            const kept = Math.abs(v - xv[i] / (1 - rate)) <= 1e-6 * Math.abs(v);
            assertTrue(v === 0 || kept, `element ${i}: ${v} from ${xv[i]} at rate ${rate}`);
          });
          tf.dispose(x);
        },
      ),
      { numRuns: 15 },
    );
  },
);

for (const backend of BACKENDS.filter((b) => b !== "webgpu")) {
  Deno.test({
    name: `_shardGradients: shards weighted by their share sum to the whole batch's [${backend}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await useBackend(backend);
      const net = createUNet(TINY, { seed: 2 });
      const s = makeSchedule(_schedule);
      const B = 5, x0 = _images(B);
      const whole = _shardGradients(net, s, x0, 11);
      // rows {0, B} draws t, ε and masks itself: the same numbers as epsLoss's, exactly
      const same = _shardGradients(net, s, x0, 11, { start: 0, of: B });
      assertEquals(await _values(same.loss), await _values(whole.loss), "loss with rows {0, B}");
      for (const [name, g] of whole.grads) {
        assertEquals(
          await _values(same.grads.get(name)!),
          await _values(g),
          `∇${name} with rows {0, B}`,
        );
      }
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: B - 1 }), async (cut) => {
          const sum = new Map<string, tf.Tensor>();
          let loss = 0;
          for (const [a, b] of [[0, cut], [cut, B]]) {
            const xs = tf.slice(x0, a, b - a);
            const part = _shardGradients(net, s, xs, 11, { start: a, of: B });
            const share = (b - a) / B;
            loss += (await read(part.loss))[0] * share;
            for (const [name, g] of part.grads) {
              const prev = sum.get(name);
              sum.set(name, prev ? tf.add(prev, tf.mul(g, share)) : tf.mul(g, share));
              prev?.dispose();
            }
            tf.dispose([xs, part.loss, ...part.grads.values()]);
          }
          const wl = (await _values(whole.loss))[0];
          assertTrue(Math.abs(loss - wl) <= 1e-5 * wl, `loss ${loss} vs ${wl} (cut ${cut})`);
          await _assertSameGradients(sum, whole.grads, `cut at ${cut}`);
          tf.dispose([...sum.values()]);
        }),
        { numRuns: 4 },
      );
      tf.dispose([x0, whole.loss, same.loss, ...whole.grads.values(), ...same.grads.values()]);
      net.dispose();
    },
  });

  Deno.test({
    name:
      `_gradientPool: 2 and 3 threads give the one-thread gradients, no tensors left [${backend}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await useBackend(backend);
      const net = createUNet(TINY, { seed: 4 });
      const s = makeSchedule(_schedule);
      const x0 = _images(7);
      const whole = _shardGradients(net, s, x0, 3);
      for (const workers of [2, 3]) {
        const pool = await _gradientPool({ unet: TINY, schedule: _schedule, backend }, workers);
        try {
          const before = tf.memory().numTensors;
          for (let k = 0; k < 2; k++) {
            const got = await pool.gradients(net, s, x0, 3);
            assertEquals(
              tf.memory().numTensors,
              before + 1 + got.grads.size,
              "loss and grads only",
            );
            const [gl, wl] = [(await _values(got.loss))[0], (await _values(whole.loss))[0]];
            assertTrue(Math.abs(gl - wl) <= 1e-5 * wl, `${workers} threads: loss ${gl} vs ${wl}`);
            await _assertSameGradients(got.grads, whole.grads, `${workers} threads`);
            tf.dispose([got.loss, ...got.grads.values()]);
          }
          assertEquals(tf.memory().numTensors, before, "tensor count flat across steps");
          const small = _images(workers - 1);
          await assertRejects(
            () => pool.gradients(net, s, small, 3),
            RangeError,
            `the batch (${workers - 1}) must hold at least one image per worker (${workers})`,
          );
          small.dispose();
        } finally {
          pool.close();
        }
      }
      assertEquals(_shardCuts(7, 3), [0, 2, 5, 7]);
      tf.dispose([x0, whole.loss, ...whole.grads.values()]);
      net.dispose();
    },
  });
}

const _trainOpts = (outDir: string, steps: number, workers: number, resume = false) =>
  tinyTrainOptions(outDir, steps, { workers, resume });

Deno.test({
  name: "train: with 2 workers, the one-thread losses; resumed, bit for bit; clear errors [wasm]",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
    const before = tf.memory().numTensors;
    const one = await train(_trainOpts(dirs[0], 6, 1));
    const two = await train(_trainOpts(dirs[1], 6, 2));
    assertEquals(tf.memory().numTensors, before, "train with workers leaves no tensors behind");
    // float32 rounding only (see _assertSameGradients); it grows a little through 6 Adam steps
    two.losses.forEach((l, i) => {
      const r = Math.abs(l - one.losses[i]) / one.losses[i];
      assertTrue(r <= 1e-4, `step ${i + 1}: ${l} vs ${one.losses[i]} (relative ${r})`);
    });
    await train(_trainOpts(dirs[2], 3, 2));
    const resumed = await train(_trainOpts(dirs[2], 6, 2, true));
    assertEquals(resumed.losses, two.losses.slice(3), "resumed with 2 workers: steps 4–6");
    const [ca, cb] = await Promise.all(
      [dirs[1], dirs[2]].map((d) => loadCheckpoint(join(d, "checkpoint.safetensors"))),
    );
    for (const [name, w] of ca.ema) assertEquals(cb.ema.get(name)!.data, w.data, `ema.${name}`);
    assertEquals(ca.config.train?.workers, 2, "the worker count is in the checkpoint");

    const dir = await Deno.makeTempDir();
    await assertRejects(
      () => train({ ..._trainOpts(dir, 1, 5) }),
      RangeError,
      "Cannot train: workers (5) must not exceed the batch size (4)",
    );
    await assertRejects(
      () => train({ ..._trainOpts(dir, 1, 0) }),
      RangeError,
      "Cannot train: workers must be an integer >= 1, got 0",
    );
    if (BACKENDS.includes("webgpu")) {
      await useBackend("webgpu");
      await assertRejects(
        () => train({ ..._trainOpts(dir, 1, 2) }),
        RangeError,
        "workers > 1 needs the wasm or cpu backend (this is webgpu",
      );
    }
  },
});
