// Internal: argument checks shared by the closed forms and samplers. Each error names
// the action, the argument and its value.
import * as tf from "@tensorflow/tfjs-core";
import type { Schedule } from "./schedule.ts";
import type { Tensor } from "./types.ts";

/** Throws unless x is a tensor of rank ≥ 1 (a batch). */
export function _checkBatch(what: string, name: string, x: unknown): Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw new TypeError(`Cannot ${what}: ${name} must be a tensor, got ${typeof x}`);
  }
  if (x.rank < 1) {
    throw new RangeError(
      `Cannot ${what}: ${name} must have a batch dimension [B, ...], got shape [${x.shape}]`,
    );
  }
  if (x.dtype !== "float32") {
    throw new TypeError(`Cannot ${what}: ${name} must be float32, got ${x.dtype}`);
  }
  return x;
}

/** Throws unless m is an ε-model, a function `(xt, t, y?) => Tensor`. */
export function _checkModel(what: string, name: string, m: unknown): void {
  if (typeof m !== "function") {
    throw new TypeError(
      `Cannot ${what}: ${name} must be a function (xt, t, y?) => Tensor, got ${typeof m}`,
    );
  }
}

/** Throws unless y has exactly the shape of x. */
export function _checkSameShape(
  what: string,
  nameX: string,
  x: { readonly shape: readonly number[] },
  nameY: string,
  y: unknown,
): Tensor {
  _checkBatch(what, nameY, y);
  const yt = y as Tensor;
  if (!tf.util.arraysEqual(x.shape as number[], yt.shape)) {
    throw new RangeError(
      `Cannot ${what}: ${nameY} must have the shape of ${nameX} [${x.shape}], got [${yt.shape}]`,
    );
  }
  return yt;
}

/** Throws unless s looks like a Schedule. */
export function _checkSchedule(what: string, s: Schedule): void {
  if (!s || typeof s !== "object" || !(s.betas instanceof Float64Array)) {
    throw new TypeError(`Cannot ${what}: s must be a Schedule from makeSchedule, got ${s}`);
  }
}

/** Whether the active backend can read data synchronously (webgpu cannot in Deno or Bun). */
export function _canReadSync(): boolean {
  return tf.getBackend() !== "webgpu";
}

/** The error for a non-finite tensor. */
export function _nonFiniteError(what: string, name: string): RangeError {
  return new RangeError(`Cannot ${what}: ${name} has non-finite values (NaN or ±Infinity)`);
}

/**
 * Throws unless every element of x is finite (one host read of a boolean), on backends
 * that read synchronously; on webgpu the async loops check instead (see `_finiteFlag`).
 */
export function _checkFinite(what: string, name: string, x: Tensor): void {
  if (!_canReadSync()) return;
  const ok = tf.tidy(() => tf.all(tf.isFinite(x)).dataSync()[0]);
  if (!ok) throw _nonFiniteError(what, name);
}

/** Throws unless seed is undefined or a finite integer. */
export function _checkSeed(what: string, seed: unknown): void {
  if (seed !== undefined && !(typeof seed === "number" && Number.isInteger(seed))) {
    throw new RangeError(`Cannot ${what}: seed must be an integer, got ${seed}`);
  }
}

/** Checks `rows` against the batch B. */
export function _checkRows(
  what: string,
  rows: unknown,
  B: number,
): { start: number; of: number } | undefined {
  if (rows === undefined) return undefined;
  const r = rows as { start?: unknown; of?: unknown };
  const ok = typeof r === "object" && r !== null && Number.isInteger(r.start) &&
    Number.isInteger(r.of) && (r.start as number) >= 0 &&
    (r.start as number) + B <= (r.of as number);
  if (!ok) {
    throw new RangeError(
      `Cannot ${what}: rows must be { start, of } with 0 <= start and start + ${B} <= of (the batch), got ${
        JSON.stringify(rows)
      }`,
    );
  }
  return r as { start: number; of: number };
}
