import { assertEquals, assertThrows } from "./_assert.ts";
import { makeSchedule, type ScheduleKind } from "../mod.ts";
import { refBetas, refSchedule } from "./reference.ts";

const KINDS: ScheduleKind[] = ["linear", "cosine", "quadratic", "sigmoid"];

/** float64 tables against the reference: rounding only, so 1e-12 relative. */
function close(a: number, b: number, rel = 1e-12): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

function checkTable(name: string, got: Float64Array, ref: number[], rel = 1e-12) {
  assertEquals(got.length, ref.length, `${name} length`);
  for (let t = 0; t < ref.length; t++) {
    if (!close(got[t], ref[t], rel)) {
      throw new Error(`${name}[${t}] = ${got[t]}, reference ${ref[t]}`);
    }
  }
}

for (const kind of KINDS) {
  for (const T of [1000, 100, 25]) {
    Deno.test(`schedule ${kind} T=${T}: every table matches its definition (rel 1e-12)`, () => {
      const s = makeSchedule({ kind, T });
      const r = refSchedule(refBetas(kind, T));
      checkTable("betas", s.betas, r.betas);
      checkTable("alphas", s.alphas, r.alphas);
      checkTable("alphasCumprod", s.alphasCumprod, r.abar);
      checkTable("alphasCumprodPrev", s.alphasCumprodPrev, r.abarPrev);
      checkTable("sqrtAlphasCumprod", s.sqrtAlphasCumprod, r.abar.map(Math.sqrt));
      checkTable(
        "sqrtOneMinusAlphasCumprod",
        s.sqrtOneMinusAlphasCumprod,
        r.abar.map((a) => Math.sqrt(1 - a)),
      );
      checkTable(
        "logOneMinusAlphasCumprod",
        s.logOneMinusAlphasCumprod,
        r.abar.map((a) => Math.log(1 - a)),
      );
      checkTable(
        "sqrtRecipAlphasCumprod",
        s.sqrtRecipAlphasCumprod,
        r.abar.map((a) => 1 / Math.sqrt(a)),
      );
      checkTable(
        "sqrtRecipm1AlphasCumprod",
        s.sqrtRecipm1AlphasCumprod,
        r.abar.map((a) => Math.sqrt((1 - a) / a)),
        1e-9, // (1-ᾱ)/ᾱ and 1/ᾱ - 1 differ by rounding of 1/ᾱ ≈ 1 near t = 0
      );
      // β̃_t by Bayes' rule in precision form: 1 / (α_t/β_t + 1/(1 - ᾱ_{t-1})), t ≥ 1
      const postVar = r.betas.map((b, t) =>
        t === 0 ? 0 : 1 / (r.alphas[t] / b + 1 / (1 - r.abarPrev[t]))
      );
      checkTable("posteriorVariance", s.posteriorVariance, postVar, 1e-9);
      checkTable(
        "posteriorLogVarianceClipped",
        s.posteriorLogVarianceClipped.slice(1),
        postVar.slice(1).map(Math.log),
        1e-9,
      );
      assertEquals(s.posteriorLogVarianceClipped[0], s.posteriorLogVarianceClipped[1]);
      checkTable(
        "posteriorMeanCoef1",
        s.posteriorMeanCoef1,
        r.betas.map((b, t) => b * Math.sqrt(r.abarPrev[t]) / (1 - r.abar[t])),
      );
      checkTable(
        "posteriorMeanCoef2",
        s.posteriorMeanCoef2,
        r.alphas.map((a, t) => (1 - r.abarPrev[t]) * Math.sqrt(a) / (1 - r.abar[t])),
      );
      assertEquals(Array.from(s.timestepMap), Array.from({ length: T }, (_, t) => t));
    });
  }
}

Deno.test("schedule linear T=1000 matches the paper's endpoints and ᾱ_T", () => {
  const s = makeSchedule({ kind: "linear", T: 1000 });
  assertEquals(s.betas[0], 1e-4);
  assertEquals(s.betas[999], 0.02);
  // ᾱ_T of the paper's schedule is 4.036e-5 (L_T ≈ 1e-5 bits/dim).
  if (Math.abs(s.alphasCumprod[999] - 4.0358e-5) > 1e-8) {
    throw new Error(`ᾱ_999 = ${s.alphasCumprod[999]}`);
  }
});

Deno.test("schedule cosine clips β at 0.999 and starts near 0", () => {
  const s = makeSchedule({ kind: "cosine", T: 1000 });
  assertEquals(s.betas[999], 0.999);
  if (!(s.betas[0] > 0 && s.betas[0] < 1e-4)) throw new Error(`β_0 = ${s.betas[0]}`);
});

Deno.test("schedule from explicit betas keeps them and names the kind", () => {
  const s = makeSchedule({ betas: [0.1, 0.2, 0.3] });
  assertEquals(s.kind, "explicit");
  assertEquals(Array.from(s.betas), [0.1, 0.2, 0.3]);
  if (Math.abs(s.alphasCumprod[2] - 0.9 * 0.8 * 0.7) > 1e-15) throw new Error("ᾱ");
});

Deno.test("schedule with T = 1 has a finite clipped log variance", () => {
  const s = makeSchedule({ betas: [0.5] });
  assertEquals(s.posteriorLogVarianceClipped[0], Math.log(0.5));
});

Deno.test("schedule rejects bad specs with errors that name the argument and value", () => {
  assertThrows(() => makeSchedule({ betas: [] }), RangeError, "betas must not be empty");
  assertThrows(
    () => makeSchedule({ betas: [0.1, 1] }),
    RangeError,
    "betas must be finite and in (0, 1), got betas[1] = 1",
  );
  assertThrows(() => makeSchedule({ betas: [0.1, 0] }), RangeError, "got betas[1] = 0");
  assertThrows(() => makeSchedule({ betas: [NaN] }), RangeError, "got betas[0] = NaN");
  assertThrows(() => makeSchedule({ betas: [-0.1] }), RangeError, "got betas[0] = -0.1");
  assertThrows(
    () => makeSchedule({ betas: [Infinity] }),
    RangeError,
    "got betas[0] = Infinity",
  );
  assertThrows(
    () => makeSchedule({ kind: "linear", T: 0 }),
    RangeError,
    "T must be an integer >= 1, got 0",
  );
  assertThrows(
    () => makeSchedule({ kind: "linear", T: 2.5 }),
    RangeError,
    "T must be an integer >= 1, got 2.5",
  );
  assertThrows(
    // @ts-expect-error: a kind that does not exist
    () => makeSchedule({ kind: "exponential", T: 10 }),
    RangeError,
    'kind must be one of linear, cosine, quadratic, sigmoid, got "exponential"',
  );
  // scale = 1000/T pushes the linear end above 1 for T ≤ 20
  assertThrows(
    () => makeSchedule({ kind: "linear", T: 10 }),
    RangeError,
    "scales its β range by 1000/T = 100",
  );
});
