// Internal: Improved DDPM's per-example losses (hybridLoss and the trainer's hybrid and vlb
// losses, whose importance sampler records them).
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { EpsModel, Tensor, Tensor1D } from "./types.ts";
import { _modelTimesteps } from "./_timesteps.ts";
import { _callModel } from "./_model.ts";
import { _qSample } from "./_formulas.ts";
import { _vlbTerm } from "./_vlb_term.ts";

/**
 * Each example's loss [B] (before weights), after the arguments were read: ‖ε − ε_θ‖²/D +
 * λ·T·L_t with ε_θ frozen inside L_t ("hybrid"), or T·L_t ("vlb"). What hybridLoss averages, and
 * what the trainer's importance sampler records.
 */
export function _hybridTerms(
  what: string,
  model: EpsModel,
  s: Schedule,
  x0: Tensor,
  eps: Tensor,
  ts: number | Int32Array,
  o: {
    kind: "hybrid" | "vlb";
    lambda: number;
    variance: "learnedRange" | "learned";
    classes?: Int32Array;
  },
): Tensor1D {
  return tf.tidy(() => {
    const B = x0.shape[0];
    const xt = _qSample(s, x0, eps, ts);
    const out = _callModel(what, model, xt, _modelTimesteps(s, ts, B), false, {
      classes: o.classes,
      w: 1,
    }, 2);
    const [epsOut, v] = tf.split(out, 2, -1);
    // L_t with the mean's part of the output frozen (hybrid) or live (vlb)
    const meanPart = o.kind === "hybrid" ? _stopGradient(epsOut) : epsOut;
    const fixed = tf.concat([meanPart, v], -1);
    const vb = _vlbTerm(what, () => fixed, s, x0, xt, ts, {
      variance: o.variance,
      clipDenoised: false,
      checkFinite: false,
    });
    const vlb = tf.mul(vb, s.T);
    if (o.kind === "vlb") return vlb as Tensor1D;
    // ‖ε − ε_θ‖² / D per example
    const axes = Array.from({ length: x0.rank - 1 }, (_, i) => i + 1);
    const mse = tf.mean(tf.squaredDifference(eps, epsOut), axes);
    return tf.add(mse, tf.mul(vlb, o.lambda)) as Tensor1D;
  });
}

/** x in the forward pass, no gradient through it in the backward pass (PyTorch's detach). */
const _stopGradient: (x: Tensor) => Tensor = tf.customGrad(
  ((x: Tensor) => ({
    value: tf.clone(x),
    gradFunc: (dy: Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<
    typeof tf.customGrad
  >[0],
) as unknown as (x: Tensor) => Tensor;
