// Internal: Adam (Kingma & Ba 2015) in PyTorch's form, with moments held as tfjs variables.
import * as tf from "@tensorflow/tfjs-core";
import type { Variable } from "../types.ts";

/** Adam's per-parameter moments m (first) and v (second), by parameter name. */
export interface _AdamState {
  m: Map<string, Variable>;
  v: Map<string, Variable>;
}

/** Zero moments for every parameter. */
export function _adamInit(params: ReadonlyMap<string, Variable>): _AdamState {
  const m = new Map<string, Variable>(), v = new Map<string, Variable>();
  const zeroVar = (p: Variable) => {
    const z = tf.zerosLike(p);
    const out = tf.variable(z, false);
    z.dispose();
    return out;
  };
  for (const [name, p] of params) {
    m.set(name, zeroVar(p));
    v.set(name, zeroVar(p));
  }
  return { m, v };
}

/** Adam's defaults, PyTorch's: β1, β2 and ε. */
export const _ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/** The bias corrections at step `step` (1-based): 1 − β1^step and √(1 − β2^step). */
export function _adamBiasCorrections(
  step: number,
  beta1: number,
  beta2: number,
): { bc1: number; bc2: number } {
  return { bc1: 1 - beta1 ** step, bc2: Math.sqrt(1 - beta2 ** step) };
}

/**
 * One Adam step number `step` (1-based) with learning rate lr:
 *   m ← β1 m + (1 - β1) g;   v ← β2 v + (1 - β2) g²
 *   p ← p - lr / (1 - β1^step) · m / (√v / √(1 - β2^step) + ε)
 */
export function _adamStep(
  params: ReadonlyMap<string, Variable>,
  grads: Map<string, tf.Tensor>,
  state: _AdamState,
  step: number,
  lr: number,
  beta1: number = _ADAM.beta1,
  beta2: number = _ADAM.beta2,
  eps: number = _ADAM.eps,
): void {
  const { bc1, bc2 } = _adamBiasCorrections(step, beta1, beta2);
  tf.tidy(() => {
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      const m = state.m.get(name)!, v = state.v.get(name)!;
      m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
      v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
      const denom = tf.add(tf.div(tf.sqrt(v), bc2), eps);
      p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / bc1)));
    }
  });
}
