// Internal: one training step — L_simple on a batch, gradients, global-norm clipping, Adam and
// the EMA update — shared by train() and the training benchmark (bench/train_bench.ts).
import * as tf from "@tensorflow/tfjs-core";
import { epsLoss } from "../eps_loss.ts";
import type { Schedule } from "../schedule.ts";
import type { UNet } from "../unet/unet.ts";
import { type _AdamState, _adamStep } from "./adam.ts";
import { _clipByGlobalNorm } from "./_clip.ts";
import { _emaDecay, _emaUpdate } from "./_ema.ts";

/** What a step needs: the network, its EMA copy and Adam's moments. */
export interface _StepState {
  net: UNet;
  emaNet: UNet;
  adam: _AdamState;
}

/** Hyper-parameters of one step. */
export interface _StepOptions {
  /** 1-based step number (Adam's bias correction, the EMA warm-up). */
  step: number;
  /** Seed of t, ε and the dropout masks. */
  seed: number;
  /** Learning rate of this step. */
  lr: number;
  gradClip: number;
  emaDecay: number;
}

/**
 * One step on the batch x0 [B, H, W, C]. Returns the loss and the gradient norm before
 * clipping; when either is not finite, nothing is updated (the caller decides what to do).
 */
export async function _trainStep(
  st: _StepState,
  schedule: Schedule,
  x0: tf.Tensor,
  o: _StepOptions,
): Promise<{ loss: number; gradNorm: number }> {
  const vars = [...st.net.params.values()];
  const nameOf = new Map([...st.net.params].map(([name, v]) => [v.name, name]));
  const model = st.net.withDropout(o.seed);
  const { value, grads } = tf.variableGrads(
    () => epsLoss(model, schedule, { x0, seed: o.seed }),
    vars,
  );
  const byName = new Map(Object.entries(grads).map(([v, g]) => [nameOf.get(v)!, g]));
  const { clipped, norm } = _clipByGlobalNorm(byName, o.gradClip);
  const both = tf.stack([value, norm]);
  const [loss, gradNorm] = await both.data();
  tf.dispose([both, value, norm, ...Object.values(grads)]);
  if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
    _adamStep(st.net.params, clipped, st.adam, o.step, o.lr);
    _emaUpdate(st.emaNet.params, st.net.params, _emaDecay(o.emaDecay, o.step));
  }
  clipped.forEach((g) => g.dispose());
  return { loss, gradNorm };
}
