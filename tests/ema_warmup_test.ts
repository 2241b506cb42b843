// The EMA's warm-up (`emaWarmup`): on (the default), the decay at step n is
// min(emaDecay, (1 + n)/(10 + n)), so a run's average soon forgets its starting weights; off, it is
// emaDecay from the first step, so a run continued from trained weights (`initFrom`) averages from
// them; a resume under the other rule warns. Checked on the first step of a run against ema = d·start + (1 - d)·θ₁ in float64.
import { join } from "node:path";
import { loadCheckpoint } from "../mod.ts";
import { train } from "../fs.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { tinyTrainOptions } from "./_tiny.ts";

/** Largest |ema - (d·start + (1 - d)·θ)| over every weight, in float64. */
async function emaError(dir: string, start: string, d: number): Promise<number> {
  const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
  const s = await loadCheckpoint(start);
  let worst = 0;
  for (const [name, e] of ck.ema) {
    const p = ck.params!.get(name)!.data, w0 = s.ema.get(name)!.data;
    for (let i = 0; i < e.data.length; i++) {
      worst = Math.max(worst, Math.abs(e.data[i] - (d * w0[i] + (1 - d) * p[i])));
    }
  }
  return worst;
}

Deno.test({
  name: "train: emaWarmup off averages from the starting weights at emaDecay; on, it warms up",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const [src, on, off] = await Promise.all(Array.from({ length: 3 }, () => Deno.makeTempDir()));
    await train(tinyTrainOptions(src, 2));
    const start = join(src, "checkpoint.safetensors");
    const opts = { initFrom: start, emaDecay: 0.9, warmup: 1 };
    await train(tinyTrainOptions(off, 1, { ...opts, emaWarmup: false }));
    await train(tinyTrainOptions(on, 1, opts));
    // float32 weights of magnitude ≤ ~1 after one update in float32: 1e-6 covers its rounding
    const atol = 1e-6;
    const offErr = await emaError(off, start, 0.9);
    assertTrue(offErr < atol, `off: ema = 0.9·start + 0.1·θ₁, max error ${offErr}`);
    const onErr = await emaError(on, start, 2 / 11);
    assertTrue(onErr < atol, `on: ema = (2/11)·start + (9/11)·θ₁, max error ${onErr}`);
    // the two rules differ by far more than the tolerance, so each check tells them apart
    const cross = await emaError(on, start, 0.9);
    assertTrue(cross > 100 * atol, `the warm-up's step 1 is not 0.9 (${cross})`);
    const ck = await loadCheckpoint(join(off, "checkpoint.safetensors"));
    assertEquals((ck.config.train as { emaWarmup?: boolean }).emaWarmup, false, "recorded");
    // a resume under another EMA rule says so (the weights go on, the average changes course)
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warned.push(m);
    try {
      await train(tinyTrainOptions(off, 2, { ...opts, resume: true }));
    } finally {
      console.warn = warn;
    }
    assertTrue(
      warned.some((m) =>
        m.includes("EMA decay 0.9 with its warm-up (it was written with 0.9 without")
      ),
      `a warning, got ${JSON.stringify(warned)}`,
    );
    await assertRejects(
      () =>
        train(
          tinyTrainOptions(off, 2, { emaWarmup: "no" as unknown as boolean, overwrite: true }),
        ),
      TypeError,
      "Cannot train: emaWarmup must be true or false, got no",
    );
  },
});
