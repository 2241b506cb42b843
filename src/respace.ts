import type { Schedule } from "./schedule.ts";
import { _scheduleFromBetas } from "./_schedule_tables.ts";

/**
 * A respaced schedule that keeps only some of the original timesteps (improved-diffusion's
 * `space_timesteps` / `SpacedDiffusion`). The kept steps keep their ᾱ exactly; the new
 * betas are β'_i = 1 - ᾱ_{k_i} / ᾱ_{k_{i-1}} (with ᾱ_{k_{-1}} = 1), and `timestepMap` sends
 * each new index back to the original one, which is what the model is called with.
 *
 * `spacing` is one of:
 * - `"ddimN"`: N steps with an integer stride, 0, stride, 2·stride, … (as DDIM does);
 * - `"N"` or `"N1,N2,…"`: the schedule is cut into equal sections and N_i steps are taken
 *   evenly from section i (`"250"` keeps 250 evenly spaced steps);
 * - `"linspaceN"`: round(linspace(0, T − 1, N)) (diffusers' `timestep_spacing="linspace"`);
 * - `"trailingN"`: round(T − k·T/N) − 1 for k < N, so T − 1 is kept (diffusers' "trailing");
 * - `"logsnrN"`: N steps uniform in λ = log(√ᾱ/√(1 − ᾱ)) from t = T − 1 to t = 0, each the
 *   nearest timestep (Lu et al.'s choice for DPM-Solver; diffusers' `use_lu_lambdas`);
 * - `"karrasN"`: N steps with σ = √((1 − ᾱ)/ᾱ) spaced as Karras et al. 2022 (ρ = 7) from
 *   σ(T − 1) to σ(0), each the nearest timestep in log σ (diffusers' `use_karras_sigmas`);
 * - an explicit list of original timesteps.
 *
 * Where a nearest timestep was already taken (λ and σ move fastest near t = 0), the next free
 * one is used, so N distinct steps are always kept.
 *
 * @param s The schedule to respace.
 * @param spacing `"ddimN"`, `"N"`, `"N1,N2,…"` or a list of timesteps.
 * @returns The respaced schedule, with T = the number of kept steps.
 * @throws {RangeError} If the spacing cannot be made (no integer stride, more steps than
 *   a section has, a timestep out of range, or an empty list).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule, respace } from "@ddpm/core";
 * const s = makeSchedule({ kind: "linear", T: 1000 });
 * const fast = respace(s, "ddim50");
 * assert.deepEqual([fast.T, fast.timestepMap[1]], [50, 20]);
 * assert.equal(fast.alphasCumprod[1], s.alphasCumprod[20]); // ᾱ kept exactly
 * ```
 */
export function respace(s: Schedule, spacing: string | ArrayLike<number>): Schedule {
  const kept = _spaceTimesteps(s.T, spacing, s.alphasCumprod);
  const abar = new Float64Array(kept.length);
  const betas = new Float64Array(kept.length);
  const map = new Int32Array(kept.length);
  let last = 1;
  kept.forEach((k, i) => {
    abar[i] = s.alphasCumprod[k];
    betas[i] = 1 - abar[i] / last; // β'_i = 1 - ᾱ_{k_i} / ᾱ_{k_{i-1}}
    last = abar[i];
    map[i] = s.timestepMap[k];
  });
  return _scheduleFromBetas(betas, "respaced", abar, map);
}

/** The sorted original timesteps kept by a spacing. */
function _spaceTimesteps(
  T: number,
  spacing: string | ArrayLike<number>,
  alphasCumprod?: Float64Array,
): number[] {
  const fail = (why: string) =>
    new RangeError(`Cannot respace: ${why}, got ${JSON.stringify(spacing)}`);
  if (typeof spacing !== "string") {
    if (!spacing || typeof spacing !== "object" || !("length" in spacing)) {
      throw fail("spacing must be a string or a list of timesteps");
    }
    const steps = [...new Set(Array.from(spacing))].sort((a, b) => a - b);
    if (steps.length === 0) throw fail("the list of timesteps must not be empty");
    for (const k of steps) {
      if (!Number.isInteger(k) || k < 0 || k >= T) {
        throw fail(`every timestep must be an integer in [0, ${T - 1}]`);
      }
    }
    return steps;
  }
  const named = /^(linspace|trailing|logsnr|karras)(.*)$/.exec(spacing);
  if (named) {
    const [, kind, rest] = named;
    const n = Number(rest);
    if (rest === "" || !Number.isInteger(n) || n < 1 || n > T) {
      throw fail(`"${kind}N" needs an integer N in [1, ${T}]`);
    }
    if (kind === "linspace") {
      return Array.from(
        { length: n },
        (_, i) => _roundHalfEven(n === 1 ? 0 : i * (T - 1) / (n - 1)),
      );
    }
    if (kind === "trailing") {
      return Array.from({ length: n }, (_, k) => _roundHalfEven(T - k * T / n) - 1).reverse();
    }
    if (!alphasCumprod) throw fail(`"${kind}N" needs the schedule`);
    // a monotone coordinate of t and its targets, from t = 0 to T − 1
    const abar = alphasCumprod;
    const coord = kind === "logsnr"
      ? (t: number) => -0.5 * (Math.log(abar[t]) - Math.log1p(-abar[t])) // −λ, increasing in t
      : (t: number) => 0.5 * (Math.log1p(-abar[t]) - Math.log(abar[t])); // log σ, increasing
    const [lo, hi] = [coord(0), coord(T - 1)];
    const targets = Array.from({ length: n }, (_, i) => {
      const u = n === 1 ? 1 : i / (n - 1);
      if (kind === "logsnr") return lo + u * (hi - lo);
      // Karras: σ_i^(1/ρ) linear from σ_min to σ_max, ρ = 7
      const rho = 7, [smin, smax] = [Math.exp(lo), Math.exp(hi)];
      return Math.log((smin ** (1 / rho) + u * (smax ** (1 / rho) - smin ** (1 / rho))) ** rho);
    });
    return _nearestDistinct(targets, coord, T);
  }
  if (spacing.startsWith("ddim")) {
    const n = Number(spacing.slice(4));
    if (!Number.isInteger(n) || n < 1) throw fail('"ddimN" needs an integer N >= 1');
    for (let stride = 1; stride <= T; stride++) {
      if (Math.ceil(T / stride) === n) {
        return Array.from({ length: n }, (_, i) => i * stride);
      }
    }
    throw fail(`no integer stride gives exactly ${n} of ${T} steps`);
  }
  const counts = spacing.split(",").map((c) => Number(c.trim()));
  if (counts.some((c) => !Number.isInteger(c) || c < 1)) {
    throw fail('spacing must be "ddimN", "N" or "N1,N2,..." with integers >= 1');
  }
  const sizePer = Math.floor(T / counts.length);
  const extra = T % counts.length;
  const out: number[] = [];
  let start = 0;
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw fail(`section ${i} has ${size} steps, fewer than ${count}`);
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0;
    for (let j = 0; j < count; j++) {
      out.push(start + _roundHalfEven(cur));
      cur += stride;
    }
    start += size;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Python's round(): halves go to the even neighbour. */
function _roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * For increasing targets of an increasing coordinate of t, the nearest timestep of each, moved
 * to the next free one where the nearest was taken (and kept below T by the steps still to come).
 */
function _nearestDistinct(targets: number[], coord: (t: number) => number, T: number): number[] {
  const out: number[] = [];
  targets.forEach((target, i) => {
    // binary search: the first t with coord(t) >= target
    let a = 0, b = T - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (coord(mid) < target) a = mid + 1;
      else b = mid;
    }
    let t = a > 0 && target - coord(a - 1) < coord(a) - target ? a - 1 : a;
    const prev = out.length ? out[out.length - 1] : -1;
    t = Math.min(Math.max(t, prev + 1), T - (targets.length - i));
    out.push(t);
  });
  return out;
}
