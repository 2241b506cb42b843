// Internal: seeded randomness generated on the host, so that the same seed gives the same
// numbers on every backend. sfc32 (Chris Doty-Humphrey's Small Fast Counter) seeded by
// splitmix32 of (seed, stream); normals by the Box–Muller transform in float64.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";

function _splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A uniform generator on [0, 1) for (seed, stream); streams are independent sequences. */
export function _uniformGenerator(seed: number, stream = 0): () => number {
  const mix = _splitmix32((seed | 0) ^ Math.imul(stream + 1, 0x27d4eb2d));
  // Fold in the high bits of seeds beyond 32 bits.
  const hi = Math.floor(seed / 4294967296) | 0;
  let a = mix() ^ hi, b = mix(), c = mix(), d = mix();
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // warm up
  return next;
}

/** A fresh random seed, for calls that were given none. */
export function _randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** Standard normal float32 tensor of the given shape from (seed, stream). */
export function _randomNormal(shape: number[], seed: number, stream = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = _uniformGenerator(seed, stream);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box–Muller: r = √(-2 ln u1), θ = 2π u2
    const u1 = 1 - u(); // (0, 1]
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return tf.tensor(out, shape, "float32");
}

/** Uniform integers in [0, high) as a host Int32Array [n] from (seed, stream). */
export function _randomInts(n: number, high: number, seed: number, stream = 0): Int32Array {
  const u = _uniformGenerator(seed, stream);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(u() * high);
  return out;
}
