// fast-check properties, each named after the identity it checks, on every backend.
// Inputs are random schedules (every kind, random T), timesteps and values; the tensor
// functions' float32 results are checked against the identity evaluated in float64.
//
// Runs use a fixed seed (DDPM_FC_SEED overrides it to explore) so that CI is repeatable;
// fast-check prints the seed and the shrunk counterexample of any failure.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import {
  discretizedGaussianLogLikelihood,
  epsLoss,
  forwardNoise,
  forwardStep,
  makeSchedule,
  normalKl,
  pMeanVariance,
  posterior,
  predictEpsFromV,
  predictEpsFromX0,
  predictV,
  predictX0FromEps,
  predictX0FromV,
  respace,
  type Schedule,
  type ScheduleKind,
} from "../mod.ts";
import { backendTest, read } from "./_helpers.ts";
import { assertTrue } from "./_assert.ts";
import { gridValue, refBetas, refLogNormal, refSchedule } from "./reference.ts";

const SEED = Number(Deno.env.get("DDPM_FC_SEED") ?? 42);
const runs = (backend: string, n: number) => ({
  seed: SEED,
  numRuns: backend === "webgpu" ? Math.ceil(n / 4) : n,
});

/** A random schedule spec: any kind, T large enough for the kind's β range (T > 20). */
const specArb = (maxT: number) =>
  fc.record({
    kind: fc.constantFrom<ScheduleKind>("linear", "cosine", "quadratic", "sigmoid"),
    T: fc.integer({ min: 21, max: maxT }),
  });

/** A schedule spec with a timestep in it; `makeSchedule(spec)` inside the property. */
const scheduleAndT = (maxT: number, minT = 0) =>
  specArb(maxT).chain((spec) =>
    fc.record({ spec: fc.constant(spec), t: fc.integer({ min: minT, max: spec.T - 1 }) })
  );

const val = fc.double({ min: -1, max: 1, noNaN: true });
const normal = fc.double({ min: -4, max: 4, noNaN: true });
const f32 = Math.fround;

function within(got: number, ref: number, tol: number, what: string) {
  assertTrue(Math.abs(got - ref) <= tol, `${what}: got ${got}, expected ${ref} ± ${tol}`);
}

backendTest("composing t forward steps q(x_t|x_{t-1}) gives the marginal q(x_t|x0)", async (b) => {
  await fc.assert(
    fc.asyncProperty(scheduleAndT(80), val, async ({ spec, t }, x0v) => {
      const s = makeSchedule(spec);
      // Mean: the chain with zero noise, from x0.
      let x: tf.Tensor = tf.tensor2d([[f32(x0v)]]);
      const zero = tf.zeros([1, 1]);
      // Variance: row k of a [t+1, 1] batch gets unit noise at step k only; x_t is linear
      // in the noises, so Var(x_t) = Σ_k (coefficient of ε_k)² = Σ_k x_t[k]².
      let v: tf.Tensor = tf.zeros([t + 1, 1]);
      for (let k = 0; k <= t; k++) {
        const u = new Float32Array(t + 1);
        u[k] = 1;
        const unit = tf.tensor2d(u, [t + 1, 1]);
        const nx = forwardStep(s, { xPrev: x, t: k, noise: zero });
        const nv = forwardStep(s, { xPrev: v, t: k, noise: unit });
        tf.dispose([x, v, unit]);
        [x, v] = [nx, nv];
      }
      const mean = (await read(x))[0];
      const variance = (await read(tf.sum(tf.square(v))))[0];
      v.dispose();
      zero.dispose();
      // Closed form: forwardNoise with ε = 0 gives √ᾱ_t x0, and with x0 = 0, ε = 1, √(1-ᾱ_t).
      const m = (await read(forwardNoise(s, {
        x0: tf.tensor2d([[f32(x0v)]]),
        t,
        noise: tf.zeros([1, 1]),
      })))[0];
      const sd = (await read(forwardNoise(s, {
        x0: tf.zeros([1, 1]),
        t,
        noise: tf.ones([1, 1]),
      })))[0];
      // float32: each step adds ≤ 3 roundings (relative 6e-8 each) to a value ≤ 1
      const tol = 1e-6 + 2e-7 * (t + 1);
      within(mean, m, tol, "mean √ᾱ_t x0");
      within(mean, Math.sqrt(s.alphasCumprod[t]) * f32(x0v), tol, "mean vs float64");
      within(variance, sd * sd, tol, "variance 1 - ᾱ_t");
      within(variance, 1 - s.alphasCumprod[t], tol, "variance vs float64");
    }),
    runs(b, 40),
  );
});

backendTest(
  "the posterior equals Bayes' rule q(x_t|x_{t-1}) q(x_{t-1}|x0) / q(x_t|x0)",
  async (b) => {
    await fc.assert(
      fc.asyncProperty(
        scheduleAndT(1000, 1),
        val,
        normal,
        fc.double({ min: -3, max: 3, noNaN: true }),
        async ({ spec, t }, x0v, epsv, k) => {
          const s = makeSchedule(spec);
          const x0 = f32(x0v);
          const xt = f32(
            Math.sqrt(s.alphasCumprod[t]) * x0 + Math.sqrt(1 - s.alphasCumprod[t]) * epsv,
          );
          const p = posterior(s, { x0: tf.tensor2d([[x0]]), xt: tf.tensor2d([[xt]]), t });
          const mean = (await read(p.mean))[0], variance = (await read(p.variance))[0];
          const logVar = (await read(p.logVariance))[0];
          within(
            logVar,
            Math.log(variance),
            1e-5 * (1 + Math.abs(logVar)),
            "logVariance = log variance",
          );
          // Evaluate at x_{t-1} = μ̃ + k σ̃ (float64), where both sides are O(1).
          const sd = Math.sqrt(s.posteriorVariance[t]);
          const xPrev = s.posteriorMeanCoef1[t] * x0 + s.posteriorMeanCoef2[t] * xt + k * sd;
          const bayes = refLogNormal(xt, Math.sqrt(s.alphas[t]) * xPrev, s.betas[t]) +
            refLogNormal(
              xPrev,
              Math.sqrt(s.alphasCumprodPrev[t]) * x0,
              1 - s.alphasCumprodPrev[t],
            ) -
            refLogNormal(xt, Math.sqrt(s.alphasCumprod[t]) * x0, 1 - s.alphasCumprod[t]);
          const got = refLogNormal(xPrev, mean, variance);
          // float32 mean error δ ≈ 1e-6 (|coef1 x0| + |coef2 x_t|) moves the log density by
          // ≈ |k| δ / σ̃; the variance's relative error 1e-6 moves it by ≈ (1 + k²) 1e-6.
          const delta = 1e-6 *
            (Math.abs(s.posteriorMeanCoef1[t] * x0) + Math.abs(s.posteriorMeanCoef2[t] * xt));
          const tol = 1e-6 + (Math.abs(k) + 1) * delta / sd + (1 + k * k) * 2e-6 +
            1e-9 * Math.abs(bayes);
          within(got, bayes, tol, `log density at t=${t}`);
        },
      ),
      runs(b, 100),
    );
  },
);

backendTest(
  "both forms of μ̃ agree: x0 form and ε form (1/√α_t)(x_t - β_t/√(1-ᾱ_t) ε)",
  async (b) => {
    await fc.assert(
      fc.asyncProperty(scheduleAndT(1000), val, normal, async ({ spec, t }, x0v, epsv) => {
        const s = makeSchedule(spec);
        const x0 = f32(x0v), eps = f32(epsv);
        const xt = f32(
          Math.sqrt(s.alphasCumprod[t]) * x0 + Math.sqrt(1 - s.alphasCumprod[t]) * eps,
        );
        const xtT = tf.tensor2d([[xt]]);
        const x0Form = (await read(posterior(s, { x0: tf.tensor2d([[x0]]), xt: xtT, t }).mean))[0];
        // ε form through the reverse process with an exact ε-oracle and no clipping
        const epsT = tf.tensor2d([[eps]]);
        const p = pMeanVariance(() => tf.clone(epsT), s, { xt: xtT, t, clipDenoised: false });
        const epsForm = (await read(p.mean))[0];
        tf.dispose([p.variance, p.logVariance, p.predX0, p.eps, xtT, epsT]);
        const ref = (xt - s.betas[t] / Math.sqrt(1 - s.alphasCumprod[t]) * eps) /
          Math.sqrt(s.alphas[t]);
        // ε form cancels √(1/ᾱ) x_t against √(1/ᾱ-1) ε inside x̂0: error ∝ their magnitude
        const scale = s.posteriorMeanCoef1[t] * s.sqrtRecipAlphasCumprod[t] *
            (Math.abs(xt) + Math.sqrt(1 - s.alphasCumprod[t]) * Math.abs(eps)) +
          s.posteriorMeanCoef2[t] * Math.abs(xt) + Math.abs(ref);
        const tol = 1e-6 + 1e-5 * scale;
        within(x0Form, ref, tol, "x0 form vs float64 ε form");
        within(epsForm, ref, tol, "ε form vs float64 ε form");
      }),
      runs(b, 100),
    );
  },
);

backendTest("ε ↔ x0 ↔ v round trips", async (b) => {
  await fc.assert(
    fc.asyncProperty(scheduleAndT(1000), val, normal, async ({ spec, t }, x0v, epsv) => {
      const s = makeSchedule(spec);
      const x0 = tf.tensor2d([[f32(x0v)]]), eps = tf.tensor2d([[f32(epsv)]]);
      const xt = forwardNoise(s, { x0, t, noise: eps });
      const ra = s.sqrtRecipAlphasCumprod[t], r1 = 1 / Math.sqrt(1 - s.alphasCumprod[t]);
      const xtv = (await xt.data())[0];
      // tolerances: 1e-5 relative to the magnitudes each inverse amplifies
      const tolX0 = 1e-6 + 1e-5 * ra * (Math.abs(xtv) + Math.abs(epsv));
      const tolEps = 1e-6 + 1e-5 * r1 * (Math.abs(xtv) + Math.abs(x0v));
      // ε → x0 → ε
      const x0a = predictX0FromEps(s, { xt, t, eps });
      within((await x0a.data())[0], f32(x0v), tolX0, "x0 from ε");
      const epsA = (await read(predictEpsFromX0(s, { xt, t, x0: x0a })))[0];
      // x0a's own error reaches ε through ε's x0 coefficient √ᾱ/√(1-ᾱ)
      const tolBack = tolEps + Math.sqrt(s.alphasCumprod[t]) * r1 * tolX0;
      within(epsA, f32(epsv), tolBack, "ε from x0 from ε");
      // (x0, ε) → v → x0 and ε
      const v = predictV(s, { x0, eps, t });
      const tolV = 1e-6 + 1e-5 * (Math.abs(xtv) + Math.abs((await v.data())[0]));
      within((await read(predictX0FromV(s, { xt, t, v })))[0], f32(x0v), tolV, "x0 from v");
      within((await read(predictEpsFromV(s, { xt, t, v })))[0], f32(epsv), tolV, "ε from v");
      tf.dispose([x0, eps, xt, x0a, v]);
    }),
    runs(b, 100),
  );
});

backendTest(
  "min-SNR-γ: the ε, x0 and v losses are each min(SNR_t, γ) · (x0 - x̂0)²",
  async (b) => {
    // One prediction x̂0, written as the ε, x0 and v the model would output for it at the
    // same x_t: whatever the parameterization, min-SNR-γ (Hang et al. 2023) weights the
    // squared x0 error by min(SNR_t, γ). Checked against that form in float64, which
    // shares no code with the per-parameterization weights in epsLoss.
    const example = (T: number) =>
      fc.record({ t: fc.integer({ min: 0, max: T - 1 }), x0: val, eps: normal, x0Hat: val });
    const arb = specArb(1000).chain((spec) =>
      fc.record({
        spec: fc.constant(spec),
        gamma: fc.double({ min: 0.05, max: 20, noNaN: true }),
        ex: fc.array(example(spec.T), { minLength: 1, maxLength: 4 }),
      })
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ spec, gamma, ex }) => {
        const s = makeSchedule(spec);
        const r = refSchedule(refBetas(spec.kind, spec.T));
        const B = ex.length;
        const x0 = tf.tensor2d(ex.map((e) => f32(e.x0)), [B, 1]);
        const eps = tf.tensor2d(ex.map((e) => f32(e.eps)), [B, 1]);
        const t = tf.tensor1d(ex.map((e) => e.t), "int32");
        let ref = 0, tol = 0;
        const outs = { eps: [] as number[], x0: [] as number[], v: [] as number[] };
        for (const e of ex) {
          const a = r.abar[e.t], sa = Math.sqrt(a), s1a = Math.sqrt(1 - a);
          const snr = a / (1 - a);
          const xt = sa * f32(e.x0) + s1a * f32(e.eps);
          const epsHat = (xt - sa * e.x0Hat) / s1a;
          outs.eps.push(epsHat);
          outs.x0.push(e.x0Hat);
          outs.v.push(sa * epsHat - s1a * e.x0Hat);
          const w = Math.min(snr, gamma), d = f32(e.x0) - e.x0Hat;
          ref += w * d * d / B;
          // float32: each target and output is exact to ~1e-6 of the magnitudes that make it
          // (δ); the ε error is √SNR times the x0 error and its weight 1/SNR times smaller, so
          // a squared error's rounding, 2|d|δ + δ² in ε units, costs w/SNR · that in the loss
          const big = Math.abs(e.eps) + Math.abs(epsHat) + Math.abs(xt) / s1a + 1;
          const delta = 1e-6 * big;
          const dEps = Math.abs(d) * Math.sqrt(snr);
          tol += (w / snr) * (2 * dEps * delta + delta * delta) / B + 1e-6 * w * d * d / B;
        }
        tol += 1e-10; // float32 underflow of tiny squared errors
        for (const prediction of ["eps", "x0", "v"] as const) {
          const out = tf.tensor2d(outs[prediction].map(f32), [B, 1]);
          const model = () => out.clone();
          const got = (await read(
            epsLoss(model, s, { x0, t, noise: eps, prediction, minSnrGamma: gamma }),
          ))[0];
          within(got, ref, tol, `min-SNR loss, ${prediction}-prediction`);
          out.dispose();
        }
        tf.dispose([x0, eps, t]);
      }),
      runs(b, 60),
    );
  },
);

Deno.test("β̃_t ≤ β_t for every schedule and t (float64 tables)", () => {
  fc.assert(
    fc.property(specArb(1000), (spec) => {
      const s = makeSchedule(spec);
      for (let t = 0; t < s.T; t++) {
        assertTrue(
          s.posteriorVariance[t] <= s.betas[t],
          `β̃_${t} = ${s.posteriorVariance[t]} > β_${t} = ${s.betas[t]}`,
        );
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});

backendTest("KL ≥ 0, and KL = 0 for equal Gaussians", async (b) => {
  const lv = fc.double({ min: -10, max: 3, noNaN: true });
  const m = fc.double({ min: -5, max: 5, noNaN: true });
  await fc.assert(
    fc.asyncProperty(m, lv, m, lv, async (m1, l1, m2, l2) => {
      const T = (x: number) => tf.scalar(x);
      const kl =
        (await read(normalKl({ mean1: T(m1), logVar1: T(l1), mean2: T(m2), logVar2: T(l2) })))[0];
      // float32 rounding of the terms' magnitudes: ½(|Δlog| + 1 + ratio)·1e-6 + exp-arg error
      const scale = 0.5 * (Math.abs(l2 - l1) + 1 + Math.exp(l1 - l2) * (1 + Math.abs(l1 - l2)) +
        (m1 - m2) ** 2 * Math.exp(-l2) * (1 + Math.abs(l2)));
      assertTrue(kl >= -1e-6 * scale, `KL = ${kl} < 0`);
      const same =
        (await read(normalKl({ mean1: T(m1), logVar1: T(l1), mean2: T(m1), logVar2: T(l1) })))[0];
      assertTrue(Math.abs(same) <= 1e-7, `KL(p‖p) = ${same}`);
    }),
    runs(b, 200),
  );
});

backendTest("the discretized likelihood over the 256 bins sums to 1", async (b) => {
  const x = tf.tensor1d(Array.from({ length: 256 }, (_, k) => gridValue(k)));
  await fc.assert(
    fc.asyncProperty(
      fc.double({ min: -1.5, max: 1.5, noNaN: true }),
      fc.double({ min: -7, max: 1, noNaN: true }),
      async (mean, logScale) => {
        const ll = discretizedGaussianLogLikelihood({
          x,
          means: tf.fill([256], mean),
          logScales: tf.fill([256], logScale),
        });
        const total = (await read(tf.sum(tf.exp(ll))))[0];
        ll.dispose();
        // The bins telescope exactly in real arithmetic; float32 leaves each CDF value off
        // by a few ulps of 1 (1.2e-7) and the 1e-12 clamps add ≤ 256e-12: 256 bins × 2
        // ulps ≈ 6e-5 is the worst case, typically far less.
        within(total, 1, 6e-5, `Σ p (mean ${mean}, log σ ${logScale})`);
      },
    ),
    runs(b, 100),
  );
  x.dispose();
});

Deno.test("respacing preserves ᾱ of the kept steps exactly", () => {
  const spacing = (T: number) =>
    fc.oneof(
      fc.integer({ min: 1, max: T }).map((n) => `ddim${n}`),
      fc.integer({ min: 1, max: T }).map((n) => `${n}`),
      fc.array(fc.integer({ min: 1, max: Math.max(1, Math.floor(T / 4)) }), {
        minLength: 1,
        maxLength: 4,
      })
        .map((a) => a.join(",")),
      fc.uniqueArray(fc.integer({ min: 0, max: T - 1 }), { minLength: 1, maxLength: T }),
    );
  fc.assert(
    fc.property(
      specArb(1000).chain((spec) => fc.tuple(fc.constant(spec), spacing(spec.T))),
      ([spec, sp]) => {
        const s = makeSchedule(spec);
        let r: Schedule;
        try {
          r = respace(s, sp);
        } catch (e) {
          // Only "ddimN" with no integer stride may be refused.
          assertTrue(
            typeof sp === "string" && sp.startsWith("ddim") &&
              String(e).includes("no integer stride"),
            `respace(${JSON.stringify(sp)}) threw ${e}`,
          );
          return;
        }
        let prod = 1, tol = 0;
        for (let i = 0; i < r.T; i++) {
          const k = r.timestepMap[i];
          assertTrue(i === 0 || k > r.timestepMap[i - 1], "timestepMap increases");
          assertTrue(r.alphasCumprod[i] === s.alphasCumprod[k], `ᾱ'_${i} = ᾱ_${k}`);
          prod *= 1 - r.betas[i];
          // float64: 1 - β' = ᾱ_k/ᾱ_prev is recovered from β' with relative error
          // 2⁻⁵³ / (1 - β'), plus one rounding per product
          tol += 2.3e-16 * (1 / (1 - r.betas[i]) + 1);
          const rel = Math.abs(prod - s.alphasCumprod[k]) / s.alphasCumprod[k];
          assertTrue(rel <= tol, `∏(1-β') at ${i} is off by ${rel} > ${tol}`);
          assertTrue(r.betas[i] > 0 && r.betas[i] < 1, `β'_${i} = ${r.betas[i]}`);
        }
        if (typeof sp !== "string") assertTrue(r.T === new Set(sp).size, "list length");
        else if (sp.startsWith("ddim")) assertTrue(r.T === Number(sp.slice(4)), "ddim count");
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});
