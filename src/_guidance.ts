/** The guidance combination and its scale check, shared by the public function and the samplers. */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

/** ε_u + w·(ε_c − ε_u), without checks (w a number, or per row, broadcast against ε). */
export function _guide(epsCond: Tensor, epsUncond: Tensor, w: number | Tensor): Tensor {
  return tf.tidy(() => tf.add(epsUncond, tf.mul(w, tf.sub(epsCond, epsUncond))));
}

/** Throws unless w is a finite number. */
export function _checkGuidanceScale(what: string, w: unknown): number {
  if (typeof w !== "number" || !Number.isFinite(w)) {
    throw new RangeError(`Cannot ${what}: guidanceScale must be a finite number, got ${w}`);
  }
  return w;
}
