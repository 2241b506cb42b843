// Internal: the step's clipping, Adam and EMA as four fused programs per parameter (webgpu),
// the same arithmetic as _clipByGlobalNorm's scaling, _adamStep and _emaUpdate.
import * as tf from "@tensorflow/tfjs-core";
import type { Variable } from "../types.ts";
import { _ADAM, _adamBiasCorrections, type _AdamState } from "../_nn/adam.ts";
import { _adamEmaKernel } from "../_fusion.ts";

/**
 * For every parameter p with gradient g: ĝ = scale·g; Adam's step `step` (1-based) at learning
 * rate lr (_ADAM's β1, β2 and ε, as _adamStep); then ema ← d·ema + (1 − d)·p.
 */
export function _fusedAdamEma(
  params: ReadonlyMap<string, Variable>,
  grads: Map<string, tf.Tensor>,
  adam: _AdamState,
  ema: ReadonlyMap<string, Variable>,
  scale: number,
  step: number,
  lr: number,
  d: number,
  beta1: number = _ADAM.beta1,
  beta2: number = _ADAM.beta2,
  eps: number = _ADAM.eps,
): void {
  const { bc1, bc2 } = _adamBiasCorrections(step, beta1, beta2);
  tf.tidy(() => {
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      const m = adam.m.get(name)!, v = adam.v.get(name)!, e = ema.get(name)!;
      m.assign(_adamEmaKernel(0, g, m, undefined, [scale, beta1, 1 - beta1]));
      v.assign(_adamEmaKernel(1, g, v, undefined, [scale, beta2, 1 - beta2]));
      p.assign(_adamEmaKernel(2, p, m, v, [lr / bc1, bc2, eps]));
      e.assign(_adamEmaKernel(3, e, p, undefined, [d, 1 - d]));
    }
  });
}
