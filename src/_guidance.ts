/** The guidance combination and its scale check, shared by the public function and the samplers. */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

/** ε_u + w·(ε_c − ε_u), without checks (w a number, or per row, broadcast against ε). */
export function _guide(epsCond: Tensor, epsUncond: Tensor, w: number | Tensor): Tensor {
  return tf.tidy(() => tf.add(epsUncond, tf.mul(w, tf.sub(epsCond, epsUncond))));
}

/**
 * The guidance combination of two predictions with `channels` × C channels: with 2 (a learned
 * variance, [ε, v]) only the ε halves are combined and the variance is `epsCond`'s.
 */
export function _guideEps(
  epsCond: Tensor,
  epsUncond: Tensor,
  w: number | Tensor,
  channels: 1 | 2,
): Tensor {
  if (channels === 1) return _guide(epsCond, epsUncond, w);
  return tf.tidy(() => {
    const [e, v] = tf.split(epsCond, 2, -1);
    const [u] = tf.split(epsUncond, 2, -1);
    return tf.concat([_guide(e, u, w), v], -1);
  });
}

/** Whether v is a guidance interval [lo, hi]: integer timesteps with 0 <= lo <= hi. */
export function _isGuidanceInterval(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 &&
    v.every((t) => Number.isInteger(t) && t >= 0) && v[0] <= v[1];
}

/** The interval to guide in: the one given, "all" for every step, else the recommended one. */
export function _intervalFor(
  given: readonly [number, number] | "all" | undefined,
  recommended: [number, number] | undefined,
): readonly [number, number] | undefined {
  return given === "all" ? undefined : given ?? recommended;
}

/** " in t ∈ [lo, hi]" for an interval, "" for every step. */
export function _intervalText(interval: readonly [number, number] | undefined): string {
  return interval ? ` in t ∈ [${interval[0]}, ${interval[1]}]` : "";
}

/** Throws unless w is a finite number. */
export function _checkGuidanceScale(what: string, w: unknown): number {
  if (typeof w !== "number" || !Number.isFinite(w)) {
    throw new RangeError(`Cannot ${what}: guidanceScale must be a finite number, got ${w}`);
  }
  return w;
}
