// Sharded sampling: the loops' `rows` option, which lets workers or processes each sample part
// of one seeded batch (deno task sample --workers N).
import * as tf from "@tensorflow/tfjs-core";
import { ddimSampleLoop, makeSchedule, pSampleLoop, respace } from "../mod.ts";
import { backendTest, read } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";

backendTest(
  "sampling loops: shards drawn with `rows` and put together equal the whole batch",
  async () => {
    // a per-example model (each row's output depends on that row only), so that only the noise
    // ties the shards to the whole batch; DDPM and DDIM with η = 1 draw noise at every step
    const s = respace(makeSchedule({ kind: "linear", T: 100 }), "10");
    const model = (x: tf.Tensor) => tf.mul(tf.sin(x), 0.5);
    const [of, D] = [7, 3];
    const cuts = [[0, 3], [3, 4], [4, 7]];
    for (const kind of ["ddpm", "ddim"] as const) {
      const run = (shape: number[], rows?: { start: number; of: number }) =>
        kind === "ddpm"
          ? pSampleLoop(model, s, { shape, seed: 5, rows })
          : ddimSampleLoop(model, s, { shape, seed: 5, eta: 1, rows });
      const whole = await read(await run([of, D]));
      const parts: number[] = [];
      for (const [a, b] of cuts) parts.push(...await read(await run([b - a, D], { start: a, of })));
      // the same float32 operations on the same numbers, row by row
      assertEquals(Array.from(whole), parts, `${kind}: shards = whole batch`);
      // and not the same as sampling the shard with its own batch's noise
      const alone = await read(await run([3, D]));
      assertTrue(alone.some((v, i) => v !== parts[9 + i]), `${kind}: rows changes the noise`);
    }
    await assertRejects(
      () => pSampleLoop(model, s, { shape: [3, D], seed: 1, rows: { start: 5, of: 7 } }),
      RangeError,
      "start + 3 <= of",
    );
  },
);
