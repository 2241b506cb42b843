// Internal: one training step — L_simple (or Improved DDPM's hybrid or vlb loss) on a batch,
// gradients, global-norm clipping, Adam and the EMA update — shared by train() and the training
// benchmark (bench/train_bench.ts). The gradients come from this thread, or from a pool of workers
// each taking a shard of the batch (src/train/_gradient_pool.ts).
import * as tf from "@tensorflow/tfjs-core";
import { epsLoss } from "../eps_loss.ts";
import { _randomInts, _randomNormal } from "../_random.ts";
import type { Schedule } from "../schedule.ts";
import type { UNet } from "../unet/unet.ts";
import { type _AdamState, _adamStep } from "../_nn/adam.ts";
import { _clipByGlobalNorm, _flatNorm, _globalNorm } from "./_clip.ts";
import { _fusedAdamEma } from "./_fused_optimizer.ts";
import { _canFuseOptimizer } from "../_fusion.ts";
import { _emaDecay, _emaUpdate } from "./_ema.ts";
import { _LOSS_NOISE, _LOSS_TIMESTEPS } from "../_streams.ts";
import { _hybridTerms } from "../_hybrid_terms.ts";

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
  /** Whether the EMA decay warms up as min(decay, (1 + step) / (10 + step)) (default true). */
  emaWarmup?: boolean;
  /** The parameters to update (default: all); the others, their EMA and moments stay put. */
  trainable?: ReadonlySet<string>;
}

/**
 * The loss a step minimizes: L_simple (Ho et al.), or Improved DDPM's hybrid or vlb loss (a
 * learnSigma network). For importance-sampled L_vlb, the whole batch's t and weights 1/(T·p_t);
 * otherwise t is drawn from the step's seed.
 */
export interface _LossSpec {
  kind: "simple" | "hybrid" | "vlb";
  /** Min-SNR-γ weighting of L_simple (absent: unweighted). */
  minSnrGamma?: number;
  t?: Int32Array;
  weights?: Float64Array;
}

/**
 * A batch's (or shard's) loss and its gradients by parameter name, and for the hybrid and vlb
 * losses each example's loss before weights; the caller disposes them.
 */
export interface _Gradients {
  loss: tf.Scalar;
  grads: Map<string, tf.Tensor>;
  terms?: tf.Tensor1D;
}

/**
 * Computes the gradients of a whole batch (the step's seed given): in this thread or a pool.
 * target: L_simple's regression target for the whole batch in place of ε (a distillation).
 */
export type _GradientSource = (
  net: UNet,
  schedule: Schedule,
  x0: tf.Tensor,
  seed: number,
  y?: Int32Array,
  loss?: _LossSpec,
  target?: tf.Tensor,
) => Promise<_Gradients>;

/**
 * The t and ε of a step's whole batch of `of` images of shape `image`: the spec's t
 * (importance-sampled) or stream 1 of the seed, ε from stream 2, as epsLoss draws them.
 */
export function _stepDraws(
  schedule: Schedule,
  of: number,
  image: number[],
  seed: number,
  loss: _LossSpec,
): { t: Int32Array; eps: tf.Tensor } {
  const t = loss.t ?? _randomInts(of, schedule.T, seed, _LOSS_TIMESTEPS);
  return { t, eps: _randomNormal([of, ...image], seed, _LOSS_NOISE) };
}

/**
 * The loss (L_simple, or the hybrid or vlb loss) of rows [start, start + B) of the step's batch of
 * `of` images (x0 [B, H, W, C] holds those rows) and its gradients. Its t, ε and dropout masks are
 * those rows of the whole batch's, so the shards' losses, weighted by B / of, sum to the whole
 * batch's loss, and so do their gradients. Without rows: the whole batch. y: the class labels of
 * these rows (conditional networks); target: L_simple's target for these rows in place of ε.
 */
export function _shardGradients(
  net: UNet,
  schedule: Schedule,
  x0: tf.Tensor,
  seed: number,
  rows?: { start: number; of: number },
  y?: Int32Array,
  loss: _LossSpec = { kind: "simple" },
  target?: tf.Tensor,
): _Gradients {
  const vars = [...net.params.values()];
  const nameOf = new Map([...net.params].map(([name, v]) => [v.name, name]));
  const model = net.withDropout(seed, rows);
  const B = x0.shape[0];
  const named = (grads: tf.NamedTensorMap) =>
    new Map(Object.entries(grads).map(([v, g]) => [nameOf.get(v)!, g]));
  // t and ε of these rows of the whole batch (without rows: the whole batch)
  const of = rows?.of ?? B, start = rows?.start ?? 0;
  const draws = _stepDraws(schedule, of, x0.shape.slice(1), seed, loss);
  const t = draws.t.slice(start, start + B);
  const eps = tf.tidy(() => tf.slice(draws.eps, start, B));
  draws.eps.dispose();
  const w = loss.weights &&
    tf.tensor1d(Float32Array.from(loss.weights.subarray(start, start + B)));
  let terms: tf.Tensor1D | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      if (loss.kind === "simple") {
        const ts = tf.tensor1d(t, "int32");
        return epsLoss(model, schedule, {
          x0,
          seed,
          t: ts,
          noise: eps,
          classes: y,
          minSnrGamma: loss.minSnrGamma,
          target,
        });
      }
      const per = _hybridTerms("train", model, schedule, x0, eps, t, {
        kind: loss.kind,
        lambda: 0.001,
        variance: "learnedRange",
        classes: y,
      });
      terms = tf.keep(tf.clone(per));
      return tf.mean(w ? tf.mul(per, w) : per) as tf.Scalar;
    }, vars);
    return { loss: value, grads: named(grads), ...(terms ? { terms } : {}) };
  } finally {
    tf.dispose([eps, ...(w ? [w] : [])]);
  }
}

/** The gradients of the whole batch, computed in this thread. */
export const _localGradients: _GradientSource = (net, schedule, x0, seed, y, loss, target) =>
  Promise.resolve(_shardGradients(net, schedule, x0, seed, undefined, y, loss, target));

/**
 * One step on the batch x0 [B, H, W, C] (target: L_simple's target in place of ε). Returns the
 * loss and the gradient norm before clipping (and for the hybrid and vlb losses each example's
 * loss before weights); when either is not finite, nothing is updated (the caller decides what
 * to do).
 */
export async function _trainStep(
  st: _StepState,
  schedule: Schedule,
  x0: tf.Tensor,
  o: _StepOptions,
  gradients: _GradientSource = _localGradients,
  y?: Int32Array,
  lossSpec?: _LossSpec,
  target?: tf.Tensor,
): Promise<{ loss: number; gradNorm: number; terms?: Float32Array }> {
  const { loss: value, grads, terms: termsTensor } = await gradients(
    st.net,
    schedule,
    x0,
    o.seed,
    y,
    lossSpec,
    target,
  );
  const terms = termsTensor && await termsTensor.data() as Float32Array;
  termsTensor?.dispose();
  // the parameters, EMA and moments to update: all, or those of o.trainable
  let params = st.net.params, ema = st.emaNet.params, adam = st.adam;
  const only = o.trainable;
  if (only) {
    for (const [name, g] of grads) {
      if (!only.has(name)) {
        g.dispose();
        grads.delete(name);
      }
    }
    const keep = <V>(m: ReadonlyMap<string, V>) => new Map([...m].filter(([n]) => only.has(n)));
    params = keep(params);
    ema = keep(ema);
    adam = { m: keep(adam.m), v: keep(adam.v) };
  }
  const fused = _canFuseOptimizer();
  const norm = fused ? _flatNorm(grads) : _globalNorm(grads);
  const both = tf.stack([value, norm]);
  const [loss, gradNorm] = await both.data();
  tf.dispose([both, value]);
  if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
    const decay = _emaDecay(o.emaDecay, o.step, o.emaWarmup);
    if (fused) {
      // min(1, c / ‖g‖) in float32, as _clipByGlobalNorm computes it on the device
      const c = Math.fround(o.gradClip);
      const scale = Math.fround(c / Math.max(gradNorm, c));
      _fusedAdamEma(params, grads, adam, ema, scale, o.step, o.lr, decay);
    } else {
      const { clipped } = _clipByGlobalNorm(grads, o.gradClip, norm);
      _adamStep(params, clipped, adam, o.step, o.lr);
      _emaUpdate(ema, params, decay);
      clipped.forEach((g) => g.dispose());
    }
  }
  tf.dispose([norm, ...grads.values()]);
  return { loss, gradNorm, ...(terms ? { terms } : {}) };
}
