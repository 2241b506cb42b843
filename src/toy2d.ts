/**
 * The 2-D toy problems: point clouds (swiss roll, two moons, 8 Gaussians) and a small MLP
 * ε-model that learns them in seconds — the smallest DDPM there is, for examples, the web app's
 * train-in-a-tab page and teaching.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Variable } from "./types.ts";

/** The 2-D data sets of {@linkcode toy2dData}. */
export type Toy2dName = "swissroll" | "moons" | "gaussians";

/** The names {@linkcode toy2dData} takes. */
export const TOY2D_NAMES: readonly Toy2dName[] = ["swissroll", "moons", "gaussians"];

/**
 * n points of a 2-D data set, scaled to about [-1, 1]²: a swiss roll (noise 0.03), two moons
 * (noise 0.04) or 8 Gaussians on a circle of radius 0.8 (σ 0.05). The same seed gives the same
 * points on every platform (a mulberry32 stream).
 *
 * @param name "swissroll", "moons" or "gaussians".
 * @param n The number of points.
 * @param seed The seed (default 0).
 * @returns [x0, y0, x1, y1, …], float32 [n · 2].
 * @throws {RangeError} On an unknown name or a bad n.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toy2dData } from "@ddpm/core";
 * const pts = toy2dData("gaussians", 1000, 1);
 * assert.equal(pts.length, 2000);
 * // every point near the circle of radius 0.8
 * for (let i = 0; i < pts.length; i += 2) assert.ok(Math.abs(Math.hypot(pts[i], pts[i + 1]) - 0.8) < 0.3);
 * assert.deepEqual(toy2dData("gaussians", 1000, 1), pts); // the same seed, the same points
 * ```
 */
export function toy2dData(name: Toy2dName, n: number, seed = 0): Float32Array {
  if (!TOY2D_NAMES.includes(name)) {
    throw new RangeError(
      `Cannot make 2-D data: name must be ${TOY2D_NAMES.join(", ")}, got ${name}`,
    );
  }
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot make 2-D data: n must be a positive integer, got ${n}`);
  }
  const rand = _mulberry32(seed + 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    let x: number, y: number;
    if (name === "swissroll") {
      const t = 1.5 * Math.PI * (1 + 2 * rand());
      [x, y] = [t * Math.cos(t) / 10 + 0.03 * gauss(), t * Math.sin(t) / 10 + 0.03 * gauss()];
    } else if (name === "moons") {
      const a = Math.PI * rand(), upper = rand() < 0.5;
      [x, y] = upper
        ? [Math.cos(a) - 0.5, Math.sin(a) - 0.25]
        : [0.5 - Math.cos(a), 0.25 - Math.sin(a)];
      [x, y] = [x * 0.8 + 0.04 * gauss(), y * 0.8 + 0.04 * gauss()];
    } else {
      const k = Math.floor(8 * rand()), a = k * Math.PI / 4;
      [x, y] = [0.8 * Math.cos(a) + 0.05 * gauss(), 0.8 * Math.sin(a) + 0.05 * gauss()];
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** A small ε-model for 2-D points, its variables, and how to free them. */
export interface ToyMlp {
  /** The ε-model (xt [B, 2], t [B]) → ε [B, 2]. */
  model: EpsModel;
  /** Its trainable variables (for an optimizer). */
  variables: Variable[];
  /** Frees the variables. */
  dispose(): void;
}

/**
 * An MLP ε-model for 2-D points: [sinusoidal(25x), sinusoidal(25y), sinusoidal(1000 t / T)]
 * (8 frequencies each, sin and cos) → 128 → 128 → 128 → 2 with SiLU, He-initialized. The
 * sinusoidal features of the coordinates (as tiny-diffusion uses) let a small MLP learn thin
 * structures quickly.
 *
 * @param T The schedule's T (timesteps are scaled to [0, 1000)).
 * @param seed Seed of the initial weights (default 0).
 * @returns The model and its variables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createToyMlp, initBackend } from "@ddpm/core";
 * await initBackend("cpu");
 * const mlp = createToyMlp(100);
 * const eps = mlp.model(tf.zeros([3, 2]), tf.tensor1d([0, 50, 99], "int32"));
 * assert.deepEqual(eps.shape, [3, 2]);
 * assert.equal(mlp.variables.length, 8);
 * mlp.dispose();
 * ```
 */
export function createToyMlp(T: number, seed = 0): ToyMlp {
  const dims = [16 + 16 + 16, 128, 128, 128, 2];
  const variables: Variable[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    const scale = Math.sqrt(2 / dims[l]); // He initialisation
    variables.push(
      tf.variable(tf.randomNormal([dims[l], dims[l + 1]], 0, scale, "float32", seed + l)),
    );
    variables.push(tf.variable(tf.zeros([dims[l + 1]])));
  }
  const freqs = tf.tensor1d(Array.from({ length: 8 }, (_, i) => Math.exp(-Math.log(1000) * i / 8)));
  const model: EpsModel = (x, t) =>
    tf.tidy(() => {
      // sinusoidal embedding of t/T·1000: [B, 16]
      const arg = tf.mul(tf.reshape(tf.mul(tf.cast(t, "float32"), 1000 / T), [-1, 1]), freqs);
      // sinusoidal features of each coordinate, scaled by 25: [B, 16] each
      const xs = tf.split(tf.mul(x, 25), 2, 1).map((c) => tf.mul(c, freqs));
      let h: tf.Tensor = tf.concat([
        ...xs.flatMap((c) => [tf.sin(c), tf.cos(c)]),
        tf.sin(arg),
        tf.cos(arg),
      ], 1); // [B, 48]
      for (let l = 0; l < variables.length; l += 2) {
        h = tf.add(
          tf.matMul(h as tf.Tensor2D, variables[l] as tf.Variable<tf.Rank.R2>),
          variables[l + 1],
        );
        if (l + 2 < variables.length) h = tf.mul(h, tf.sigmoid(h)); // SiLU
      }
      return h;
    });
  return {
    model,
    variables,
    dispose: () => {
      variables.forEach((v) => v.dispose());
      freqs.dispose();
    },
  };
}

/** mulberry32: a small seeded uniform [0, 1) stream. */
function _mulberry32(seed: number): () => number {
  let r = seed | 0;
  return () => {
    r = (r + 0x6d2b79f5) | 0;
    let t = Math.imul(r ^ (r >>> 15), 1 | r);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
