import * as tf from "@tensorflow/tfjs-core";
import type { Variable } from "../types.ts";
import type { Weights } from "./checkpoint.ts";

/**
 * Reads named variables (such as `unet.params`) into host arrays, asynchronously (works on
 * every backend, webgpu included).
 *
 * @param vars The variables by name.
 * @returns Their values and shapes, by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { getWeights } from "@ddpm/core";
 * const w = await getWeights(new Map([["a", tf.variable(tf.ones([2]))]]));
 * assert.deepEqual(Array.from(w.get("a")!.data), [1, 1]);
 * ```
 */
export async function getWeights(vars: ReadonlyMap<string, Variable>): Promise<Weights> {
  const out: Weights = new Map();
  for (const [name, v] of vars) {
    out.set(name, { shape: [...v.shape], data: Float32Array.from(await v.data() as Float32Array) });
  }
  return out;
}

/**
 * Assigns host arrays to named variables, checking that every variable gets a value of its
 * shape.
 *
 * @param vars The variables by name (such as `unet.params`).
 * @param weights The values by name.
 * @throws {RangeError} If a variable is missing from weights, or a shape differs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { setWeights } from "@ddpm/core";
 * const vars = new Map([["a", tf.variable(tf.zeros([2]))]]);
 * setWeights(vars, new Map([["a", { shape: [2], data: new Float32Array([3, 4]) }]]));
 * assert.deepEqual(Array.from(vars.get("a")!.dataSync()), [3, 4]);
 * ```
 */
export function setWeights(vars: ReadonlyMap<string, Variable>, weights: Weights): void {
  for (const [name, v] of vars) {
    const w = weights.get(name);
    if (!w) throw new RangeError(`Cannot set weights: ${name} is missing`);
    if (
      !Array.isArray(w.shape) || w.shape.length !== v.shape.length ||
      w.shape.some((d, i) => d !== v.shape[i])
    ) {
      throw new RangeError(
        `Cannot set weights: ${name} must have shape [${v.shape}], got ${
          Array.isArray(w.shape) ? `[${w.shape}]` : JSON.stringify(w.shape)
        }`,
      );
    }
    if (!(w.data instanceof Float32Array) || w.data.length !== v.size) {
      throw new RangeError(
        `Cannot set weights: ${name} must hold ${v.size} float32 values (shape [${v.shape}]), got ${
          w.data instanceof Float32Array ? w.data.length : typeof w.data
        }`,
      );
    }
    if (v.isDisposed) throw new Error(`Cannot set weights: ${name} was disposed`);
  }
  for (const [name, v] of vars) {
    const w = weights.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, "float32")));
  }
}
