// The bundled checkpoint: it loads, has the mnist preset's shape, and its samples look like
// MNIST digits by simple image statistics that pure noise or an untrained model fail.
import {
  createUNet,
  ddimSampleLoop,
  loadCheckpoint,
  loadMnist,
  makeSchedule,
  respace,
  setWeights,
  unetPresets,
} from "../mod.ts";
import { BUNDLED_CHECKPOINT } from "../src/cli/sample.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

/** Fraction of background pixels (< -0.9), of ink (> 0.5), and the mean of the 3-pixel border. */
function _stats(px: Float32Array, n: number) {
  let bg = 0, ink = 0, border = 0, nBorder = 0;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = px[i * 784 + y * 28 + x];
        if (v < -0.9) bg++;
        if (v > 0.5) ink++;
        if (y < 3 || y >= 25 || x < 3 || x >= 25) (border += v, nBorder++);
      }
    }
  }
  return { bg: bg / (n * 784), ink: ink / (n * 784), border: border / nBorder };
}

Deno.test({
  name: "bundled checkpoint: the mnist preset, and DDIM samples with MNIST's pixel statistics",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("wasm");
    const ck = await loadCheckpoint(BUNDLED_CHECKPOINT);
    assertEquals(ck.config.unet, { ...unetPresets.mnist, outChannels: 1 });
    assertEquals(ck.config.schedule, { kind: "linear", T: 1000 });
    assertEquals(ck.params, undefined, "EMA weights only");
    const unet = createUNet(ck.config.unet);
    setWeights(unet.params, ck.ema);
    const n = 16;
    const x = await ddimSampleLoop(unet, respace(makeSchedule(ck.config.schedule), "ddim20"), {
      shape: [n, 28, 28, 1],
      seed: 123,
    });
    const got = _stats(await x.data() as Float32Array, n);
    x.dispose();
    unet.dispose();
    const real = loadMnist({ split: "test" });
    const ref = _stats(real.images, real.shape[0]);
    // MNIST (test split): ≈ 81% background, ≈ 13% ink, border ≈ -1. Noise, or an untrained
    // model whose x̂0 clips to ±1, gives ≈ 50% of each and a border far from -1.
    assertTrue(Math.abs(got.bg - ref.bg) < 0.12, `background ${got.bg} vs MNIST ${ref.bg}`);
    assertTrue(Math.abs(got.ink - ref.ink) < 0.08, `ink ${got.ink} vs MNIST ${ref.ink}`);
    assertTrue(got.border < -0.95, `border mean ${got.border} (MNIST ${ref.border})`);
  },
});
