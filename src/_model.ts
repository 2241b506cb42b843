// Internal: calling the model with checks (and with class labels and classifier-free guidance),
// and reading its output as ε, x0 or v.
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Prediction } from "./types.ts";
import { _checkFinite, _checkModel } from "./_checks.ts";
import type { Tensor, Tensor1D } from "./types.ts";
import { NULL_CLASS } from "./guidance.ts";
import { _int32FromHost, _readSync } from "./_timesteps.ts";
import type { _Conditioning } from "./_conditioning.ts";
import { _guideEps } from "./_guidance.ts";

/**
 * Calls model(xt, t[, y]) and checks that it returned a finite tensor of xt's shape (with
 * `channels` = 2, of twice its channels: a learned variance's prediction then v). With labels and
 * a guidance scale w ∉ {0, 1}, both branches run in one batched call (x, t, y) ++ (x, t, ∅) and
 * ε̃ = ε_u + w·(ε_c − ε_u), on the prediction's channels (a learned variance's v is the
 * conditional branch's, as GLIDE); w = 1 calls the model with y alone, w = 0 with ∅ alone.
 */
export function _callModel(
  what: string,
  model: EpsModel,
  xt: Tensor,
  t: Tensor1D,
  checkFinite: boolean,
  cond?: _Conditioning,
  channels: 1 | 2 = 1,
): Tensor {
  _checkModel(what, "model", model);
  const B = xt.shape[0];
  const C = xt.shape[xt.rank - 1];
  const shape = [...xt.shape.slice(0, -1), channels * C];
  const of = channels === 1
    ? "xt's shape"
    : "xt's shape with twice its channels (a learned variance)";
  let out: Tensor;
  // guidance in an interval: w at the rows whose t lies in it, 1 (the conditional model) elsewhere
  let w: number | Tensor = cond?.w ?? 1;
  if (cond?.interval && w !== 1) {
    const [lo, hi] = cond.interval;
    const tv = _readSync(what, "t", t);
    const inside = Array.from(tv, (v) => v >= lo && v <= hi);
    if (!inside.some(Boolean)) w = 1;
    else if (!inside.every(Boolean)) {
      const perRow = Float32Array.from(inside, (b) => b ? cond.w : 1);
      w = tf.reshape(tf.tensor1d(perRow), [B, ...new Array(xt.rank - 1).fill(1)]);
    }
  }
  if (cond?.classes === undefined) {
    out = _checkOutput(what, model(xt, t), shape, of);
  } else if (w === 1 || w === 0) {
    const y = w === 1 ? cond.classes : new Int32Array(B).fill(NULL_CLASS);
    out = _checkOutput(what, model(xt, t, _int32FromHost(y)), shape, of);
  } else {
    const y = new Int32Array(2 * B).fill(NULL_CLASS);
    y.set(cond.classes);
    // t twice from host values (the model may read them; webgpu cannot read a GPU concat)
    const tv = _readSync(what, "t", t);
    const tt = Int32Array.from({ length: 2 * B }, (_, i) => tv[i % B]);
    const both = _checkOutput(
      what,
      model(tf.concat([xt, xt]), _int32FromHost(tt), _int32FromHost(y)),
      [2 * B, ...shape.slice(1)],
      "the guided batch's shape (both branches)",
    );
    const [outCond, outUncond] = tf.split(both, 2);
    out = _guideEps(outCond, outUncond, w, channels);
  }
  if (w instanceof tf.Tensor) w.dispose();
  if (checkFinite) _checkFinite(what, "the model's output", out);
  return out;
}

function _checkOutput(what: string, out: unknown, shape: number[], of = "xt's shape"): Tensor {
  if (!(out instanceof tf.Tensor)) {
    throw new TypeError(`Cannot ${what}: the model must return a tensor, got ${typeof out}`);
  }
  if (!tf.util.arraysEqual(out.shape, shape)) {
    throw new RangeError(
      `Cannot ${what}: the model must return a tensor of ${of} [${shape}], got [${out.shape}]`,
    );
  }
  return out;
}

/** Throws unless p names a prediction kind. */
export function _checkPrediction(what: string, p: unknown): Prediction {
  if (p === undefined) return "eps";
  if (p !== "eps" && p !== "x0" && p !== "v") {
    throw new RangeError(
      `Cannot ${what}: prediction must be "eps", "x0" or "v", got ${JSON.stringify(p)}`,
    );
  }
  return p;
}
