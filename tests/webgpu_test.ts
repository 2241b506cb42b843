// WGSL programs against the plain tfjs composition they replace, on webgpu (Mesa's llvmpipe or
// lavapipe on machines without a GPU).
import * as tf from "@tensorflow/tfjs-core";
import { _dense, _groupNorm, _groupNormSilu, _silu } from "../src/_nn/layers.ts";
import { _fusedGroupNormSilu, _fusedTimestepMlp } from "../src/_fusion.ts";
import {
  createUNet,
  ddimSample,
  makeSchedule,
  pMeanVariance,
  pSample,
  respace,
  timestepEmbedding,
  unetPresets,
} from "../mod.ts";
import { assertClose, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";
import { _sinusoidFrequencies } from "../src/unet/_sinusoid.ts";
import { _pSampleStep } from "../src/_p_sample_step.ts";
import { _adamInit, _adamStep } from "../src/_nn/adam.ts";
import { _clipByGlobalNorm, _flatNorm } from "../src/train/_clip.ts";
import { _emaUpdate } from "../src/train/_ema.ts";
import { _fusedAdamEma } from "../src/train/_fused_optimizer.ts";
import { _trainStep } from "../src/train/_step.ts";

/**
 * Runs f and fails on any WebGPU validation error it raised: a program WebGPU rejects never
 * runs, and its output buffer, recycled from tfjs's pool, can hold an earlier result — even the
 * reference's.
 */
async function _valid<T extends tf.Tensor>(what: string, f: () => T): Promise<T> {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.pushErrorScope("validation");
  const out = f();
  await out.data(); // submits the work while the scope is open
  const err = await device.popErrorScope();
  assertEquals(err?.message ?? null, null, `${what}: WebGPU validation: ${err?.message}`);
  return out;
}

Deno.test({
  name: "webgpu: the fused GroupNorm+SiLU program matches tfjs's composition (U-Net shapes)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const shapes = [[2, 3, 4, 8, 4], [4, 28, 28, 32, 8], [3, 7, 7, 64, 8], [2, 8, 8, 128, 32]];
    for (const [B, H, W, C, G] of shapes) {
      // offset and spread so that a wrong mean or variance shows
      const x = tf.tidy(() =>
        tf.add(tf.mul(tf.randomNormal([B, H, W, C], 0, 1, "float32", 1), 3), 1.5)
      );
      const g = tf.randomNormal([C], 1, 0.2, "float32", 2);
      const b = tf.randomNormal([C], 0, 0.2, "float32", 3);
      const got = await read(
        await _valid("GroupNorm+SiLU", () => _fusedGroupNormSilu(x, g, b, G, 1e-5)!),
      );
      const want = await read(_silu(_groupNorm(x, g, b, G)));
      // float32 sums over ≤ 7,000 values in a different order: measured ≤ 1e-6
      assertClose(got, want, `[${B},${H},${W},${C}] G=${G}`, { atol: 1e-5, rtol: 1e-5 });
      // GroupNorm ε 1e-6 (the paper's) on values of spread 1e-3, where ε matters
      const small = tf.mul(x, 1e-3);
      const gotEps = await read(
        await _valid("GroupNorm+SiLU ε", () => _fusedGroupNormSilu(small, g, b, G, 1e-6)!),
      );
      const wantEps = await read(_silu(_groupNorm(small, g, b, G, 1e-6)));
      assertClose(gotEps, wantEps, `ε 1e-6 [${B},${H},${W},${C}]`, { atol: 1e-4, rtol: 1e-4 });
      tf.dispose([x, g, b, small]);
    }
  },
});

Deno.test({
  name: "webgpu: the GroupNorm+SiLU gradient programs match tfjs's gradient of the composition",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const x0 = tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 4);
    const [g1, b0] = [tf.ones([8]), tf.zeros([8])];
    const before = tf.memory().numTensors;
    const y = _groupNormSilu(x0, g1, b0, 4);
    assertEquals(
      tf.memory().numTensors,
      before + 1,
      "outside tf.grad: one output, no intermediates",
    );
    y.dispose();
    tf.dispose([x0, g1, b0]);
    for (const [B, H, W, C, G] of [[2, 3, 4, 8, 4], [4, 28, 28, 32, 8], [3, 7, 7, 64, 8]]) {
      const x = tf.tidy(() =>
        tf.add(tf.mul(tf.randomNormal([B, H, W, C], 0, 1, "float32", 1), 3), 1.5)
      );
      const g = tf.randomNormal([C], 1, 0.3, "float32", 2);
      const b = tf.randomNormal([C], 0, 0.3, "float32", 3);
      const r = tf.randomNormal([B, H, W, C], 0, 1, "float32", 4); // dL/dy
      const loss = (f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
        tf.grads((xv: tf.Tensor, gv: tf.Tensor, bv: tf.Tensor) => tf.sum(tf.mul(f(xv, gv, bv), r)));
      const what = `[${B},${H},${W},${C}] G=${G}`;
      const got = await _valid(what, () => {
        const gr = loss((xv, gv, bv) => _groupNormSilu(xv, gv, bv, G))([x, g, b]);
        return tf.concat(gr.map((v) => tf.reshape(v, [-1])));
      });
      const want = tf.tidy(() => {
        const gr = loss((xv, gv, bv) => _silu(_groupNorm(xv, gv, bv, G)))([x, g, b]);
        return tf.concat(gr.map((v) => tf.reshape(v, [-1])));
      });
      // dx, then dγ and dβ (sums over up to 25,088 terms in another order): measured ≤ 3e-6
      // relative to the largest entry
      const [gv, wv] = [await read(got), await read(want)];
      const peak = wv.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(gv, wv, what, { atol: 1e-5 * peak, rtol: 1e-5 });
      tf.dispose([x, g, b, r]);
    }
  },
});

Deno.test({
  name: "webgpu: pSample's fused step program matches pMeanVariance's composition",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const s = makeSchedule({ kind: "linear", T: 100 });
    const [B, H, W, C] = [4, 5, 3, 2];
    // x_t spread beyond [-1, 1] so that clipping x̂0 matters; one timestep per example, 0 included
    const xt = tf.mul(tf.randomNormal([B, H, W, C], 0, 1, "float32", 5), 2);
    const out = tf.randomNormal([B, H, W, C], 0, 1, "float32", 6);
    const z = tf.randomNormal([B, H, W, C], 0, 1, "float32", 7);
    const model = () => tf.clone(out);
    const t = new Int32Array([0, 1, 50, 99]);
    for (const prediction of ["eps", "v", "x0"] as const) {
      for (const variance of ["fixedSmall", "fixedLarge"] as const) {
        for (const clipDenoised of [true, false]) {
          const opts = { prediction, variance, clipDenoised, checkFinite: false };
          const what = `${prediction} ${variance} clip=${clipDenoised}`;
          const before = tf.memory().numTensors;
          const got = await _valid(
            what,
            () => pSample(model, s, { xt, t: tf.tensor1d(t, "int32"), noise: z, ...opts }),
          );
          assertEquals(tf.memory().numTensors, before + 2, `${what}: only x_{t-1} (and t) remain`);
          const p = pMeanVariance(model, s, { xt, t: tf.tensor1d(t, "int32"), ...opts });
          // the composition: μ̃ + σ z with σ = 0 at t = 0 (mask on the first example)
          const mask = tf.tensor([0, 1, 1, 1], [B, 1, 1, 1]);
          const want = tf.add(p.mean, tf.mul(tf.mul(mask, tf.sqrt(p.variance)), z));
          // ≤ 5 float32 operations on values ≤ ~20 in either order: 1e-5 relative
          assertClose(await read(got), await read(want), what, { atol: 1e-5, rtol: 1e-5 });
          tf.dispose([got, want, mask, p.mean, p.variance, p.logVariance, p.predX0, p.eps]);
        }
      }
    }
    tf.dispose([xt, out, z]);
  },
});

Deno.test({
  name: "webgpu: the sampling loop's x̂0 from the fused step equals pMeanVariance's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const s = makeSchedule({ kind: "cosine", T: 20 });
    const model = (x: tf.Tensor) => tf.mul(x, 0.3);
    const xt = tf.mul(tf.randomNormal([3, 4, 4, 1], 0, 1, "float32", 8), 1.5);
    const z = tf.zerosLike(xt);
    for (const t of [0, 7, 19]) {
      const { sample, predX0 } = _pSampleStep("sample", model, s, xt, t, { noise: z });
      const p = pMeanVariance(model, s, { xt, t, checkFinite: false });
      assertClose(await read(predX0), await read(p.predX0), `x̂0 t=${t}`, {
        atol: 1e-5,
        rtol: 1e-5,
      });
      // z = 0: x_{t-1} is the posterior mean
      assertClose(await read(sample), await read(p.mean), `mean t=${t}`, {
        atol: 1e-5,
        rtol: 1e-5,
      });
      tf.dispose([sample, predX0, p.mean, p.variance, p.logVariance, p.predX0, p.eps]);
    }
    tf.dispose([xt, z]);
  },
});

Deno.test({
  name: "webgpu: ddimSample's fused step matches DDIM's formula on pMeanVariance's x̂0 and ε̂",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    const s = respace(makeSchedule({ kind: "linear", T: 1000 }), "ddim25");
    const [B, H] = [4, 6];
    const xt = tf.mul(tf.randomNormal([B, H, H, 1], 0, 1, "float32", 9), 2);
    const out = tf.randomNormal([B, H, H, 1], 0, 1, "float32", 10);
    const z = tf.randomNormal([B, H, H, 1], 0, 1, "float32", 11);
    const model = () => tf.clone(out);
    const t = new Int32Array([0, 1, 12, 24]);
    for (const eta of [0, 1]) {
      for (const prediction of ["eps", "v"] as const) {
        const got = await _valid(`ddim eta=${eta} ${prediction}`, () =>
          ddimSample(model, s, {
            xt,
            t: tf.tensor1d(t, "int32"),
            eta,
            noise: z,
            prediction,
            checkFinite: false,
          }));
        const p = pMeanVariance(model, s, { xt, t: tf.tensor1d(t, "int32"), prediction });
        // √ᾱ_{t-1} x̂0 + √(1 - ᾱ_{t-1} - σ_t²) ε̂ + σ_t z (σ_0 = 0), in float64 per example
        const [x0v, epsv, zv] = [await read(p.predX0), await read(p.eps), await read(tf.clone(z))];
        const n = H * H, want = new Float64Array(B * n);
        for (let i = 0; i < B; i++) {
          const ab = s.alphasCumprod[t[i]], abPrev = s.alphasCumprodPrev[t[i]];
          const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
          const d = Math.sqrt(Math.max(1 - abPrev - sigma ** 2, 0));
          for (let k = i * n; k < (i + 1) * n; k++) {
            want[k] = Math.sqrt(abPrev) * x0v[k] + d * epsv[k] + (t[i] === 0 ? 0 : sigma * zv[k]);
          }
        }
        // float32 x̂0 and ε̂ recombined in another order: 1e-5 relative to values ≤ ~10
        assertClose(await read(got), want, `eta=${eta} ${prediction}`, { atol: 2e-5, rtol: 1e-5 });
        tf.dispose([got, p.mean, p.variance, p.logVariance, p.predX0, p.eps]);
      }
    }
    tf.dispose([xt, out, z]);
  },
});

Deno.test({
  name:
    "webgpu: the fused timestep-MLP program matches tfjs's composition (mnist and cifar10 widths)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    for (const [B, ch] of [[3, 32], [5, 128]]) {
      const H = 4 * ch;
      const t = tf.tensor1d([0, 1, 999, 500, 37].slice(0, B), "int32");
      // weights of the init's scale (fan-avg) so that both SiLUs see values of order 1
      const w0 = tf.randomNormal([ch, H], 0, Math.sqrt(2 / (ch + H)), "float32", 12);
      const b0 = tf.randomNormal([H], 0, 0.1, "float32", 13);
      const w1 = tf.randomNormal([H, H], 0, Math.sqrt(1 / H), "float32", 14);
      const b1 = tf.randomNormal([H], 0, 0.1, "float32", 15);
      const freqs = _sinusoidFrequencies(ch);
      const got = await read(
        await _valid("timestep MLP", () => _fusedTimestepMlp(t, freqs, [w0, b0, w1, b1], false)!),
      );
      const want = await read(
        _silu(_dense(_silu(_dense(timestepEmbedding(t, ch), w0, b0)), w1, b1)),
      );
      // float32 sums of ≤ 512 products in another order: measured ≤ 1e-6
      assertClose(got, want, `B=${B} ch=${ch}`, { atol: 1e-5, rtol: 1e-5 });
      assertTrue(want.some((v) => Math.abs(v) > 0.1), "non-trivial values");
      // diffusers' and improved-diffusion's embedding: cosines first, frequencies over half
      const variant = { flipSinToCos: true, freqShift: 0 };
      const freqs0 = _sinusoidFrequencies(ch, 0);
      const gotFlip = await read(
        await _valid(
          "timestep MLP, cosines first",
          () => _fusedTimestepMlp(t, freqs0, [w0, b0, w1, b1], true)!,
        ),
      );
      const wantFlip = await read(
        _silu(_dense(_silu(_dense(timestepEmbedding(t, ch, variant), w0, b0)), w1, b1)),
      );
      assertClose(gotFlip, wantFlip, `cosines first B=${B} ch=${ch}`, { atol: 1e-5, rtol: 1e-5 });
      tf.dispose([t, w0, b0, w1, b1]);
    }
  },
});

Deno.test({
  name:
    "fusion: the registered kernels run where the backend has them (webgpu), never elsewhere or where they do not apply",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const unet = () => createUNet({ ...unetPresets.mnist, ch: 8, groups: 4 }, { T: 100 });
    const s = makeSchedule({ kind: "linear", T: 100 });
    const kernelsOf = async (f: () => tf.TensorContainer | Promise<unknown>) =>
      new Set((await tf.profile(f as () => tf.Tensor)).kernelNames);
    for (const backend of ["webgpu", "wasm"] as const) {
      await useBackend(backend);
      const fused = backend === "webgpu";
      const net = unet();
      const x = tf.randomNormal([2, 28, 28, 1], 0, 1, "float32", 1);
      const t = tf.tensor1d([3, 50], "int32");
      // sampling: GroupNorm + SiLU, the timestep MLP and the reverse step as kernels
      const forward = await kernelsOf(() => net(x, t));
      assertEquals(forward.has("DdpmGroupNormSilu"), fused, `${backend}: GroupNorm + SiLU`);
      assertEquals(forward.has("DdpmTimestepMlp"), fused, `${backend}: timestep MLP`);
      const step = await kernelsOf(() => pSample(net, s, { xt: x, t: 50, seed: 1 }));
      assertEquals(step.has("DdpmSampleStep"), fused, `${backend}: reverse step`);
      // not where it does not apply: dynamic thresholding takes the composed path
      const thresholded = await kernelsOf(() =>
        pSample(net, s, { xt: x, t: 50, seed: 1, dynamicThreshold: {} })
      );
      assertEquals(thresholded.has("DdpmSampleStep"), false, `${backend}: thresholded step`);
      // training: the GroupNorm kernel with its gradient kernel; no timestep MLP (no gradient)
      const vars = [...net.params.values()];
      const train = await kernelsOf(() =>
        tf.variableGrads(() => tf.mean(net(x, t)) as tf.Scalar, vars).value
      );
      assertEquals(train.has("DdpmGroupNormSiluGrad"), fused, `${backend}: GroupNorm gradient`);
      assertEquals(train.has("DdpmTimestepMlp"), false, `${backend}: no MLP under tf.grad`);
      // the trainer's step: clipping, Adam and the EMA as the fused optimizer kernel
      const emaNet = unet(), adam = _adamInit(net.params);
      const trained = await kernelsOf(async () => {
        await _trainStep({ net, emaNet, adam }, s, x, {
          step: 1,
          seed: 1,
          lr: 1e-3,
          gradClip: 1,
          emaDecay: 0.999,
        });
      });
      assertEquals(trained.has("DdpmAdamEma"), fused, `${backend}: fused optimizer`);
      emaNet.dispose();
      [...adam.m.values(), ...adam.v.values()].forEach((v) => v.dispose());
      tf.dispose([x, t]);
      net.dispose();
    }
  },
});

Deno.test({
  name:
    "webgpu: the fused optimizer programs (clip scale, Adam, EMA) match tfjs's composition over three steps",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("webgpu");
    // 40 parameters: more than a program's storage bindings, so the norm's concatenation
    // goes in groups, as a U-Net's ~270 do
    const shapes = Array.from({ length: 40 }, (_, i) => [[3, 3, 4, 8], [8], [130, 7], [1]][i % 4]);
    const init = (seed: number) =>
      new Map(shapes.map((sh, i) => [
        `p${i}`,
        tf.variable(tf.randomNormal(sh, 0, 1, "float32", seed + i)),
      ]));
    // two copies of the same parameters, moments and EMA: one updated each way
    const [pA, pB, eA, eB] = [init(1), init(1), init(9), init(9)];
    const [adamA, adamB] = [_adamInit(pA), _adamInit(pB)];
    for (let step = 1; step <= 3; step++) {
      // gradients large enough that clipping at 1 scales them (and Adam's bias corrections move)
      const grads = new Map(shapes.map((sh, i) => [
        `p${i}`,
        tf.randomNormal(sh, 0, 2, "float32", 100 * step + i),
      ]));
      const d = 0.9, lr = 0.01;
      const { clipped, norm } = _clipByGlobalNorm(grads, 1);
      const gradNorm = (await norm.data())[0];
      // the fused path's norm: the gradients end to end (float32 sums of ~12,000 values in
      // another order)
      const flat = _flatNorm(grads);
      assertClose(await read(flat), [gradNorm], `step ${step}: ‖g‖`, { atol: 0, rtol: 1e-6 });
      assertTrue(gradNorm > 1, `step ${step}: the gradients are clipped (‖g‖ = ${gradNorm})`);
      _adamStep(pA, clipped, adamA, step, lr);
      _emaUpdate(eA, pA, d);
      await _valid("optimizer", () => {
        _fusedAdamEma(pB, grads, adamB, eB, Math.fround(1 / gradNorm), step, lr, d);
        return pB.get("p0")!;
      });
      // the same float32 operations in the same order: equal bit for bit on llvmpipe; the
      // tolerance leaves room for a GPU compiler that contracts a·b + c into one fma (one
      // rounding less, a few ulp of values of order 1)
      for (const name of pA.keys()) {
        for (
          const [what, a, b] of [
            ["p", pA, pB],
            ["m", adamA.m, adamB.m],
            ["v", adamA.v, adamB.v],
            ["ema", eA, eB],
          ] as const
        ) {
          assertClose(
            await b.get(name)!.data() as Float32Array,
            await a.get(name)!.data() as Float32Array,
            `step ${step} ${what} ${name}`,
            {
              atol: 1e-6,
              rtol: 1e-5,
            },
          );
        }
      }
      tf.dispose([norm, ...clipped.values(), ...grads.values()]);
    }
    for (const m of [pA, pB, eA, eB, adamA.m, adamA.v, adamB.m, adamB.v]) {
      m.forEach((v) => v.dispose());
    }
  },
});
