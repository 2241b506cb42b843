// Every tensor closed form against the float64 scalar reference, on every backend and for
// every schedule kind. Inputs: B = 48 examples × D = 3 dims, per-example t covering 0 and
// T-1, x0 on [-1, 1], ε ~ N(0, 1), all from a fixed seed.
//
// Tolerances (float32 against float64): |got - ref| ≤ 1e-6 + 1e-5 · scale, where scale is
// the sum of the magnitudes of the terms that make the value (see assertClose). float32's
// unit roundoff is 6e-8; each value here takes ≤ 10 roundings plus the float32 rounding of
// the coefficients, so 1e-5 leaves a 10× margin while still catching any wrong coefficient
// (the smallest, β_0 = 1e-4 at T = 1000, changes results by far more than 1e-5 relative).
import * as tf from "@tensorflow/tfjs-core";
import {
  ddimSample,
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
  priorBpd,
  pSample,
  qMeanVariance,
  type Schedule,
  type ScheduleKind,
  vlbTerm,
} from "../mod.ts";
import { assertClose, backendTest, F32, read } from "./_helpers.ts";
import {
  gridValue,
  refBetas,
  refDiscretizedLogLik,
  refEpsFromX0,
  refForwardNoise,
  refForwardStep,
  refNormalKl,
  refPosterior,
  refSchedule,
  refV,
  refX0FromEps,
} from "./reference.ts";
import { _uniformGenerator } from "../src/_random.ts";

const KINDS: ScheduleKind[] = ["linear", "cosine", "quadratic", "sigmoid"];
const T = 1000, B = 48, D = 3;

/** Fixed inputs: t per example (0 and T-1 included), x0 ∈ [-1, 1], ε and z normal. */
function inputs(seed: number) {
  const u = _uniformGenerator(seed, 99);
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const f32 = (n: number, g: () => number) => Float32Array.from({ length: n }, g);
  const ts = Int32Array.from(
    { length: B },
    (_, i) => i === 0 ? 0 : i === 1 ? T - 1 : Math.floor(u() * T),
  );
  return {
    ts,
    x0: f32(B * D, () => 2 * u() - 1),
    eps: f32(B * D, normal),
    z: f32(B * D, normal),
  };
}

type In = ReturnType<typeof inputs>;
const tOf = (inp: In, i: number) => inp.ts[Math.floor(i / D)];
const tensors = (inp: In) => ({
  t: tf.tensor1d(inp.ts, "int32"),
  x0: tf.tensor2d(inp.x0, [B, D]),
  eps: tf.tensor2d(inp.eps, [B, D]),
  z: tf.tensor2d(inp.z, [B, D]),
});
const map = <R = number>(n: number, f: (i: number) => R): R[] =>
  Array.from({ length: n }, (_, i) => f(i));

for (const kind of KINDS) {
  const s: Schedule = makeSchedule({ kind, T });
  const r = refSchedule(refBetas(kind, T));
  const inp = inputs(kind.length);
  const N = B * D;
  const sa = (t: number) => Math.sqrt(r.abar[t]), s1a = (t: number) => Math.sqrt(1 - r.abar[t]);
  // x_t from the reference, rounded to float32 as the tensor inputs are
  const xtRef = Float32Array.from(
    map(N, (i) => refForwardNoise(r, tOf(inp, i), inp.x0[i], inp.eps[i])),
  );

  backendTest(`forwardNoise matches √ᾱ x0 + √(1-ᾱ) ε (${kind})`, async () => {
    const { t, x0, eps } = tensors(inp);
    const got = await read(forwardNoise(s, { x0, t, noise: eps }));
    assertClose(got, xtRef, "forwardNoise", {
      ...F32,
      scale: map(
        N,
        (i) => Math.abs(sa(tOf(inp, i)) * inp.x0[i]) + Math.abs(s1a(tOf(inp, i)) * inp.eps[i]),
      ),
    });
    tf.dispose([t, x0, eps]);
  });

  backendTest(`forwardStep matches √α x + √β ε (${kind})`, async () => {
    const { t, x0, eps } = tensors(inp);
    const got = await read(forwardStep(s, { xPrev: x0, t, noise: eps }));
    assertClose(
      got,
      map(N, (i) => refForwardStep(r, tOf(inp, i), inp.x0[i], inp.eps[i])),
      "forwardStep",
      {
        ...F32,
        scale: map(N, (i) => Math.abs(inp.x0[i]) + Math.abs(inp.eps[i])),
      },
    );
    tf.dispose([t, x0, eps]);
  });

  backendTest(`qMeanVariance matches N(√ᾱ x0, 1-ᾱ) (${kind})`, async () => {
    const { t, x0 } = tensors(inp);
    const q = qMeanVariance(s, { x0, t });
    assertClose(await read(q.mean), map(N, (i) => sa(tOf(inp, i)) * inp.x0[i]), "mean");
    assertClose(await read(q.variance), map(N, (i) => 1 - r.abar[tOf(inp, i)]), "variance");
    assertClose(
      await read(q.logVariance),
      map(N, (i) => Math.log(1 - r.abar[tOf(inp, i)])),
      "logVariance",
      {
        ...F32,
        scale: map(N, () => 20), // log(1-ᾱ) at ᾱ = 1 - 1e-4: float32 rounding of 1-ᾱ is relative
      },
    );
    tf.dispose([t, x0]);
  });

  backendTest(`posterior matches Bayes' rule in precision form (${kind})`, async () => {
    const { t, x0 } = tensors(inp);
    const xt = tf.tensor2d(xtRef, [B, D]);
    const p = posterior(s, { x0, xt, t });
    const mean = await read(p.mean), variance = await read(p.variance);
    const logVariance = await read(p.logVariance);
    const idx = map(N, (i) => i).filter((i) => tOf(inp, i) > 0); // β̃_0 = 0: Bayes is degenerate
    const refs = idx.map((i) => refPosterior(r, tOf(inp, i), inp.x0[i], xtRef[i]));
    assertClose(idx.map((i) => mean[i]), refs.map((q) => q.mean), "mean", {
      ...F32,
      // |coef1 · x0| + |coef2 · x_t|
      scale: idx.map((i) => {
        const t = tOf(inp, i);
        return Math.abs(s.posteriorMeanCoef1[t] * inp.x0[i]) +
          Math.abs(s.posteriorMeanCoef2[t] * xtRef[i]);
      }),
    });
    assertClose(idx.map((i) => variance[i]), refs.map((q) => q.variance), "variance");
    assertClose(
      idx.map((i) => logVariance[i]),
      refs.map((q) => Math.log(q.variance)),
      "logVariance",
      {
        ...F32,
        scale: refs.map((q) => Math.abs(Math.log(q.variance))),
      },
    );
    tf.dispose([t, x0, xt]);
  });

  backendTest(`ε, x0 and v conversions match their definitions (${kind})`, async () => {
    const { t, x0, eps } = tensors(inp);
    const xt = tf.tensor2d(xtRef, [B, D]);
    const tt = (i: number) => tOf(inp, i);
    const rec = (i: number) => 1 / sa(tt(i));
    // x0 from ε: scale |√(1/ᾱ) x_t| + |√(1/ᾱ-1) ε|, the two terms that cancel
    assertClose(
      await read(predictX0FromEps(s, { xt, t, eps })),
      map(N, (i) => refX0FromEps(r, tt(i), xtRef[i], inp.eps[i])),
      "predictX0FromEps",
      {
        ...F32,
        scale: map(N, (i) => rec(i) * (Math.abs(xtRef[i]) + s1a(tt(i)) * Math.abs(inp.eps[i]))),
      },
    );
    assertClose(
      await read(predictEpsFromX0(s, { xt, t, x0 })),
      map(N, (i) => refEpsFromX0(r, tt(i), xtRef[i], inp.x0[i])),
      "predictEpsFromX0",
      { ...F32, scale: map(N, (i) => (Math.abs(xtRef[i]) + Math.abs(inp.x0[i])) / s1a(tt(i))) },
    );
    const vRef = map(N, (i) => refV(r, tt(i), inp.x0[i], inp.eps[i]));
    assertClose(await read(predictV(s, { x0, eps, t })), vRef, "predictV", {
      ...F32,
      scale: map(N, (i) => Math.abs(inp.x0[i]) + Math.abs(inp.eps[i])),
    });
    const v = tf.tensor2d(Float32Array.from(vRef), [B, D]);
    // From v the reference recovers the original x0 and ε (exact in float64).
    assertClose(await read(predictX0FromV(s, { xt, t, v })), inp.x0, "predictX0FromV", {
      ...F32,
      scale: map(N, (i) => Math.abs(xtRef[i]) + Math.abs(vRef[i])),
    });
    assertClose(await read(predictEpsFromV(s, { xt, t, v })), inp.eps, "predictEpsFromV", {
      ...F32,
      scale: map(N, (i) => Math.abs(xtRef[i]) + Math.abs(vRef[i])),
    });
    tf.dispose([t, x0, eps, xt, v]);
  });

  // A smooth deterministic test model: ε_θ(x, t) = tanh(x) · (1 + t/T) (t = model index)
  const model = (x: tf.Tensor, tm: tf.Tensor1D) =>
    tf.tidy(() =>
      tf.mul(tf.tanh(x), tf.reshape(tf.add(1, tf.div(tf.cast(tm, "float32"), T)), [-1, 1]))
    );
  const refModel = (x: number, t: number) => Math.tanh(x) * (1 + t / T);

  /** Reference p(x_{t-1} | x_t): x̂0 clipped, mean, log σ², and the scale of the mean. */
  const refP = (i: number, variance: "fixedSmall" | "fixedLarge") => {
    const t = tOf(inp, i), x = xtRef[i], e = refModel(x, t);
    const x0Raw = refX0FromEps(r, t, x, e);
    const x0 = Math.min(1, Math.max(-1, x0Raw));
    const c1 = r.betas[t] * Math.sqrt(r.abarPrev[t]) / (1 - r.abar[t]);
    const c2 = (1 - r.abarPrev[t]) * Math.sqrt(r.alphas[t]) / (1 - r.abar[t]);
    const postVar = (k: number) => r.betas[k] * (1 - r.abarPrev[k]) / (1 - r.abar[k]);
    const v = variance === "fixedSmall"
      ? postVar(t === 0 ? 1 : t)
      : (t === 0 ? postVar(1) : r.betas[t]);
    const x0Scale = (Math.abs(x) + s1a(t) * Math.abs(e)) / sa(t);
    return {
      x0,
      x0Scale,
      mean: c1 * x0 + c2 * x,
      meanScale: c1 * x0Scale + c2 * Math.abs(x),
      logVar: Math.log(v),
      eps: e,
    };
  };

  for (const variance of ["fixedSmall", "fixedLarge"] as const) {
    backendTest(`pMeanVariance and pSample match Algorithm 2 (${kind}, ${variance})`, async () => {
      const { t, z } = tensors(inp);
      const xt = tf.tensor2d(xtRef, [B, D]);
      const refs = map(N, (i) => refP(i, variance));
      const p = pMeanVariance(model, s, { xt, t, variance });
      assertClose(await read(p.predX0), refs.map((q) => q.x0), "predX0", {
        ...F32,
        scale: refs.map((q) => q.x0Scale),
      });
      assertClose(await read(p.mean), refs.map((q) => q.mean), "mean", {
        ...F32,
        scale: refs.map((q) => q.meanScale),
      });
      assertClose(await read(p.logVariance), refs.map((q) => q.logVar), "logVariance", {
        ...F32,
        scale: refs.map((q) => Math.abs(q.logVar)),
      });
      tf.dispose([p.variance, p.eps]);
      // x_{t-1} = μ + σ z, z masked at t = 0
      const sample = await read(pSample(model, s, { xt, t, noise: z, variance }));
      const refSample = refs.map((q, i) =>
        q.mean + (tOf(inp, i) === 0 ? 0 : Math.exp(0.5 * q.logVar) * inp.z[i])
      );
      assertClose(sample, refSample, "pSample", {
        ...F32,
        scale: refs.map((q) => q.meanScale + Math.exp(0.5 * q.logVar) * 3),
      });
      tf.dispose([t, z, xt]);
    });
  }

  backendTest(`ddimSample matches eq. 12 at η = 0.5 (${kind})`, async () => {
    const { t, z } = tensors(inp);
    const xt = tf.tensor2d(xtRef, [B, D]);
    const eta = 0.5;
    const got = await read(ddimSample(model, s, { xt, t, eta, noise: z }));
    const ref: number[] = [], scale: number[] = [];
    for (let i = 0; i < N; i++) {
      const tt = tOf(inp, i), q = refP(i, "fixedSmall");
      const ab = r.abar[tt], abPrev = r.abarPrev[tt];
      const epsHat = refEpsFromX0(r, tt, xtRef[i], q.x0);
      const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
      const c = Math.sqrt(1 - abPrev - sigma * sigma);
      ref.push(Math.sqrt(abPrev) * q.x0 + c * epsHat + (tt === 0 ? 0 : sigma * inp.z[i]));
      scale.push(q.x0Scale + c * (Math.abs(xtRef[i]) + q.x0Scale) / s1a(tt) + 3 * sigma);
    }
    assertClose(got, ref, "ddimSample", { ...F32, scale });
    tf.dispose([t, z, xt]);
  });

  backendTest(`epsLoss is the mean of (ε - ε_θ(x_t, t))² (${kind})`, async () => {
    const { t, x0, eps } = tensors(inp);
    const got = await read(epsLoss(model, s, { x0, t, noise: eps }));
    let sum = 0;
    for (let i = 0; i < N; i++) sum += (inp.eps[i] - refModel(xtRef[i], tOf(inp, i))) ** 2;
    assertClose(got, [sum / N], "epsLoss");
    tf.dispose([t, x0, eps]);
  });

  backendTest(`vlbTerm and priorBpd match the KL and decoder terms (${kind})`, async () => {
    const { t } = tensors(inp);
    // x0 on the 8-bit grid, as the decoder requires
    const x0g = Float32Array.from(inp.x0, (v) => gridValue(Math.round((v + 1) * 127.5)));
    const xtg = Float32Array.from(
      map(N, (i) => refForwardNoise(r, tOf(inp, i), x0g[i], inp.eps[i])),
    );
    const x0 = tf.tensor2d(x0g, [B, D]), xt = tf.tensor2d(xtg, [B, D]);
    const got = await read(vlbTerm(model, s, { x0, xt, t, variance: "fixedLarge" }));
    const ref: number[] = [], tol: number[] = [];
    for (let b = 0; b < B; b++) {
      const tt = inp.ts[b];
      let acc = 0, accTol = 0;
      for (let d = 0; d < D; d++) {
        const i = b * D + d, x = xtg[i], e = refModel(x, tt);
        const x0hat = Math.min(1, Math.max(-1, refX0FromEps(r, tt, x, e)));
        const c1 = r.betas[tt] * Math.sqrt(r.abarPrev[tt]) / (1 - r.abar[tt]);
        const c2 = (1 - r.abarPrev[tt]) * Math.sqrt(r.alphas[tt]) / (1 - r.abar[tt]);
        const pv = (k: number) => r.betas[k] * (1 - r.abarPrev[k]) / (1 - r.abar[k]);
        const mean = c1 * x0hat + c2 * x, logVar = Math.log(tt === 0 ? pv(1) : r.betas[tt]);
        // float32 error of a mean: δ = 1e-6 · (the magnitudes that make it)
        const delta = 1e-6 *
          (c1 * (Math.abs(x) + s1a(tt) * Math.abs(e)) / sa(tt) + c2 * Math.abs(x));
        if (tt === 0) {
          const ll = refDiscretizedLogLik(x0g[i], mean, 0.5 * logVar);
          acc += -ll;
          // d log p / d mean ≤ pdf-width ratio: bound by δ / σ · 2 / p-scale
          accTol += delta / Math.exp(0.5 * logVar) * 4 + 1e-5 * Math.abs(ll);
        } else {
          const qm = c1 * x0g[i] + c2 * x, qlv = Math.log(pv(tt));
          const kl = refNormalKl(qm, qlv, mean, logVar);
          acc += kl;
          const dm = Math.abs(qm - mean), v2 = Math.exp(logVar);
          accTol += (2 * dm * delta + delta * delta) / v2 +
            1e-5 * (1 + Math.abs(qlv - logVar) + kl);
        }
      }
      ref.push(acc / D / Math.LN2);
      tol.push(accTol / D / Math.LN2);
    }
    assertClose(got, ref, "vlbTerm", { atol: 1e-6, rtol: 1, scale: tol });
    // L_T = KL(N(√ᾱ_T x0, 1-ᾱ_T) ‖ N(0, 1))
    const prior = await read(priorBpd(s, { x0 }));
    const aT = r.abar[T - 1];
    const priorRef = map(B, (b) => {
      let acc = 0;
      for (let d = 0; d < D; d++) {
        acc += refNormalKl(Math.sqrt(aT) * x0g[b * D + d], Math.log(1 - aT), 0, 0);
      }
      return acc / D / Math.LN2;
    });
    assertClose(prior, priorRef, "priorBpd", { atol: 1e-6, rtol: 1e-4 });
    tf.dispose([t, x0, xt]);
  });
}

backendTest("normalKl matches ½(log σ₂²/σ₁² + (σ₁² + (μ₁-μ₂)²)/σ₂² - 1)", async () => {
  const u = _uniformGenerator(5, 1);
  const n = 200;
  const m1 = map(n, () => 4 * u() - 2), m2 = map(n, () => 4 * u() - 2);
  const l1 = map(n, () => 8 * u() - 6), l2 = map(n, () => 8 * u() - 6);
  const got = await read(normalKl({
    mean1: tf.tensor1d(m1),
    logVar1: tf.tensor1d(l1),
    mean2: tf.tensor1d(m2),
    logVar2: tf.tensor1d(l2),
  }));
  const ref = map(n, (i) => refNormalKl(m1[i], l1[i], m2[i], l2[i]));
  // scale: the magnitudes of the four terms, with exp's argument error |l1 - l2|·2⁻²⁴
  const scale = map(
    n,
    (i) =>
      Math.abs(l2[i] - l1[i]) + 1 + Math.exp(l1[i] - l2[i]) * (1 + Math.abs(l1[i] - l2[i])) +
      (m1[i] - m2[i]) ** 2 * Math.exp(-l2[i]) * (1 + Math.abs(l2[i])),
  );
  assertClose(got, ref, "normalKl", { ...F32, scale });
  tf.engine().disposeVariables();
});

backendTest("discretizedGaussianLogLikelihood matches the reference in probability", async () => {
  // Compared as probabilities p = exp(log p): float32 CDF values carry absolute error of a
  // few ulps of 1 (≈ 1.2e-7 each), so p is accurate to ≈ 1e-6 absolute; its log is not
  // (in the tails p ~ 1e-12 and the log's relative error explodes), so logs are compared
  // only where p > 1e-3.
  const u = _uniformGenerator(6, 1);
  const n = 512;
  const ks = map(n, (i) => i < 4 ? [0, 255, 1, 254][i] : Math.floor(u() * 256));
  const x = ks.map(gridValue);
  const means = x.map((v) => v + (u() - 0.5) * 0.6);
  const logScales = map(n, () => -4 + 4 * u());
  const got = await read(discretizedGaussianLogLikelihood({
    x: tf.tensor1d(x),
    means: tf.tensor1d(means),
    logScales: tf.tensor1d(logScales),
  }));
  const ref = map(n, (i) => refDiscretizedLogLik(x[i], means[i], logScales[i]));
  assertClose(Array.from(got, Math.exp), ref.map(Math.exp), "probability", {
    atol: 2e-6,
    rtol: 1e-5,
  });
  const big = map(n, (i) => i).filter((i) => Math.exp(ref[i]) > 1e-3);
  assertClose(big.map((i) => got[i]), big.map((i) => ref[i]), "log-probability", {
    atol: 2e-6 / 1e-3,
    rtol: 1e-5,
  });
});
