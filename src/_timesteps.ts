// Internal: turning `t` (a number or an int32 [B] tensor) into host indices and into
// per-example coefficient tensors that broadcast over [B, ...].
import * as tf from "@tensorflow/tfjs-core";
// Every closed form passes through this file: importing the cpu backend here means the
// library computes out of the box; initBackend() switches to a faster one.
import "@tensorflow/tfjs-backend-cpu";
import type { Schedule } from "./schedule.ts";
import type { Tensor, Tensor1D } from "./types.ts";

/** Timestep argument accepted by every closed form: a number or an int32 tensor [B]. */
export type TimestepArg = Tensor1D | number;

/**
 * Reads and validates t against the schedule and the batch size of x.
 * Returns a number for a scalar t, or an Int32Array [B] for a tensor t.
 */
export function _readTimesteps(
  what: string,
  s: Schedule,
  t: TimestepArg | Int32Array,
  batch: number,
): number | Int32Array {
  const bad = (v: unknown) =>
    new RangeError(`Cannot ${what}: t must be in [0, ${s.T - 1}], got ${v}`);
  if (typeof t === "number") {
    if (!Number.isInteger(t)) {
      throw new RangeError(`Cannot ${what}: t must be an integer, got ${t}`);
    }
    if (t < 0 || t >= s.T) throw bad(t);
    return t;
  }
  let values: ArrayLike<number>;
  if (t instanceof Int32Array) {
    values = t; // host timesteps drawn by this library
  } else {
    if (!(t instanceof tf.Tensor)) {
      throw new TypeError(
        `Cannot ${what}: t must be a number or an int32 tensor [B], got ${typeof t}`,
      );
    }
    if (t.rank !== 1) {
      throw new RangeError(`Cannot ${what}: t must have shape [${batch}], got [${t.shape}]`);
    }
    values = _readSync(what, "t", t);
  }
  if (values.length !== batch) {
    throw new RangeError(
      `Cannot ${what}: t must have shape [${batch}] (the batch size of x), got [${values.length}]`,
    );
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) {
      throw new RangeError(`Cannot ${what}: t must hold integers, got t[${i}] = ${v}`);
    }
    if (v < 0 || v >= s.T) throw bad(`t[${i}] = ${v}`);
    out[i] = v;
  }
  return out;
}

/**
 * Gathers table[t] in float64 on the host and returns it as a float32 tensor that
 * broadcasts against a tensor of the given rank: a scalar for a scalar t, else [B, 1, …, 1].
 */
export function _coef(
  table: Float64Array,
  ts: number | Int32Array,
  rank: number,
): Tensor {
  return _coefFn((t) => table[t], ts, rank);
}

/** The same as {@link _coef} but with a per-t function of the schedule instead of a table. */
export function _coefFn(
  fn: (t: number) => number,
  ts: number | Int32Array,
  rank: number,
): Tensor {
  if (typeof ts === "number") return tf.scalar(fn(ts));
  const values = new Float32Array(ts.length);
  for (let i = 0; i < ts.length; i++) values[i] = fn(ts[i]);
  const shape = [ts.length, ...new Array(Math.max(rank - 1, 0)).fill(1)];
  return tf.tensor(values, shape, "float32");
}

/** Broadcasts host timesteps to a host Int32Array [B]. */
export function _timestepsArray(ts: number | Int32Array, batch: number): Int32Array {
  return typeof ts === "number" ? new Int32Array(batch).fill(ts) : ts;
}

/** The int32 tensor [B] the ε-model is called with (mapped through s.timestepMap). */
export function _modelTimesteps(
  s: Schedule,
  ts: number | Int32Array,
  batch: number,
): Tensor1D {
  const arr = _timestepsArray(ts, batch);
  const mapped = new Int32Array(batch);
  for (let i = 0; i < batch; i++) mapped[i] = s.timestepMap[arr[i]];
  return _int32FromHost(mapped);
}

/**
 * An int32 tensor [n] of host values whose values stay readable with {@link _readSync} after
 * a backend has moved them to the GPU (the model, or a test's oracle, may read its t).
 */
export function _int32FromHost(values: Int32Array): Tensor1D {
  const t = tf.tensor1d(values, "int32");
  _hostValues.set(t, values);
  return t;
}

const _hostValues = new WeakMap<Tensor, ArrayLike<number>>();

/**
 * Reads a small tensor synchronously. The webgpu backend cannot read GPU-resident data
 * synchronously in Deno or Bun, only tensors whose values are still on the host.
 */
export function _readSync(what: string, name: string, x: Tensor): ArrayLike<number> {
  const known = _hostValues.get(x);
  if (known) return known;
  try {
    const values = x.dataSync() as ArrayLike<number>;
    // tensors are immutable: once read, the values can be reused after the webgpu backend has
    // uploaded them (it then drops its host copy and could not read synchronously again)
    if (x.size <= 65536) _hostValues.set(x, values);
    return values;
  } catch (e) {
    throw new TypeError(
      `Cannot ${what}: ${name} lives on the GPU and the ${tf.getBackend()} backend cannot read it ` +
        `synchronously; pass a number or a tensor made from host values ` +
        `(tf.tensor1d([...], "int32")) (${e instanceof Error ? e.message : e})`,
    );
  }
}
