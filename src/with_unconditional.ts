/**
 * Classifier-free guidance with a separate unconditional network (Ho & Salimans 2022 train one
 * network for both branches; the two branches may as well be two networks): the rows labelled
 * {@linkcode NULL_CLASS} go to the unconditional model, the others to the conditional one.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Tensor, Tensor1D } from "./types.ts";
import { NULL_CLASS } from "./guidance.ts";
import { _int32FromHost, _readSync } from "./_timesteps.ts";
import { _checkModel } from "./_checks.ts";

/**
 * A conditional ε-model whose unconditional branch ε(x, ∅) is another network: a call
 * `(xt, t, y)` sends the rows with `y[i] = NULL_CLASS` (and a call without `y`) to
 * `unconditional(xt, t)` and the rest to `conditional(xt, t, y)`, and returns the rows in their
 * order. Guidance 0 then samples exactly as `unconditional` does, guidance 1 as `conditional`,
 * and every other scale batches both as usual (each network sees its own rows).
 *
 * @param conditional The class-conditional model `(xt, t, y) => eps`.
 * @param unconditional The unconditional model `(xt, t) => eps` (called without labels).
 * @returns The routed model.
 * @throws {TypeError} If either model is not a function; the returned model throws if the two
 *   predictions differ in shape.
 *
 * @example The null rows go to the unconditional model
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, NULL_CLASS, withUnconditional } from "@ddpm/core";
 * await initBackend("cpu");
 * const model = withUnconditional((x) => tf.onesLike(x), (x) => tf.zerosLike(x));
 * const y = tf.tensor1d([3, NULL_CLASS, 7], "int32");
 * const eps = model(tf.zeros([3, 1]), tf.tensor1d([5, 5, 5], "int32"), y);
 * assert.deepEqual(Array.from(eps.dataSync()), [1, 0, 1]);
 * ```
 */
export function withUnconditional(conditional: EpsModel, unconditional: EpsModel): EpsModel {
  const what = "pair the models";
  _checkModel(what, "conditional", conditional);
  _checkModel(what, "unconditional", unconditional);
  const call = "call the paired model";
  return (xt: Tensor, t: Tensor1D, y?: Tensor1D): Tensor => {
    if (y === undefined) return unconditional(xt, t);
    const labels = _readSync(call, "y", y);
    const B = xt.shape[0];
    if (labels.length !== B) {
      throw new RangeError(
        `Cannot ${call}: y must hold ${B} labels (xt's batch), got ${labels.length}`,
      );
    }
    const cond: number[] = [], none: number[] = [];
    for (let i = 0; i < B; i++) (labels[i] === NULL_CLASS ? none : cond).push(i);
    if (none.length === 0) return conditional(xt, t, y);
    if (cond.length === 0) return unconditional(xt, t);
    // t and y for each network from host values (a model may read them; webgpu cannot read a
    // GPU gather synchronously)
    const tv = _readSync(call, "t", t);
    const pick = (rows: number[], of: ArrayLike<number>) =>
      _int32FromHost(Int32Array.from(rows, (i) => of[i]));
    return tf.tidy(() => {
      const rowsOf = (rows: number[]) => tf.gather(xt, tf.tensor1d(rows, "int32"));
      const epsCond = conditional(rowsOf(cond), pick(cond, tv), pick(cond, labels));
      const epsUncond = unconditional(rowsOf(none), pick(none, tv));
      if (!tf.util.arraysEqual(epsCond.shape.slice(1), epsUncond.shape.slice(1))) {
        throw new RangeError(
          `Cannot ${call}: the conditional model predicts [${epsCond.shape}] and the ` +
            `unconditional one [${epsUncond.shape}]; their rows must have one shape`,
        );
      }
      // row i of the result is row position[i] of [epsCond; epsUncond]
      const position = new Int32Array(B);
      cond.forEach((i, k) => position[i] = k);
      none.forEach((i, k) => position[i] = cond.length + k);
      return tf.gather(tf.concat([epsCond, epsUncond]), tf.tensor1d(position, "int32"));
    });
  };
}
