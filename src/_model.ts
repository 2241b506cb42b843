// Internal: calling the model with checks, and reading its output as ε, x0 or v.
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Prediction } from "./types.ts";
import { _checkFinite } from "./_checks.ts";
import type { Tensor, Tensor1D } from "./types.ts";

/** Calls model(xt, t) and checks that it returned a finite tensor of xt's shape. */
export function _callModel(
  what: string,
  model: EpsModel,
  xt: Tensor,
  t: Tensor1D,
  checkFinite: boolean,
): Tensor {
  if (typeof model !== "function") {
    throw new TypeError(
      `Cannot ${what}: model must be a function (xt, t) => Tensor, got ${typeof model}`,
    );
  }
  const out = model(xt, t);
  if (!(out instanceof tf.Tensor)) {
    throw new TypeError(`Cannot ${what}: the model must return a tensor, got ${typeof out}`);
  }
  if (!tf.util.arraysEqual(out.shape, xt.shape)) {
    throw new RangeError(
      `Cannot ${what}: the model must return a tensor of xt's shape [${xt.shape}], got [${out.shape}]`,
    );
  }
  if (checkFinite) _checkFinite(what, "the model's output", out);
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
