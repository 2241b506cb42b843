/** Class labels and guidance scale, read and checked once per loss, sampler call or loop. */
import * as tf from "@tensorflow/tfjs-core";
import { type ClassLabels, type GuidanceOptions, NULL_CLASS } from "./guidance.ts";
import { _checkGuidanceScale, _isGuidanceInterval } from "./_guidance.ts";
import { _readSync } from "./_timesteps.ts";

/**
 * Reads class labels into a host Int32Array of length `batch` (checks: integers ≥ −1). With
 * `rows`, labels of the whole batch (length rows.of) are cut to this shard's rows.
 */
export function _readClasses(
  what: string,
  classes: ClassLabels | undefined,
  batch: number,
  rows?: { start: number; of: number },
): Int32Array | undefined {
  if (classes === undefined) return undefined;
  let values: ArrayLike<number>;
  if (classes instanceof tf.Tensor) {
    if (classes.rank !== 1) {
      throw new RangeError(
        `Cannot ${what}: classes must have shape [${batch}], got [${classes.shape}]`,
      );
    }
    values = _readSync(what, "classes", classes);
  } else if (classes !== null && typeof classes === "object" && "length" in classes) {
    values = classes;
  } else {
    throw new TypeError(
      `Cannot ${what}: classes must be an int32 tensor [B] or an array of integers, got ${classes}`,
    );
  }
  let offset = 0;
  if (rows && values.length === rows.of && rows.of !== batch) offset = rows.start;
  else if (values.length !== batch) {
    throw new RangeError(
      `Cannot ${what}: classes must hold one label per example (${batch}${
        rows ? ` or ${rows.of} for the whole batch` : ""
      }), got ${values.length}`,
    );
  }
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const v = values[offset + i];
    if (!Number.isInteger(v) || v < NULL_CLASS) {
      throw new RangeError(
        `Cannot ${what}: classes must hold integers >= 0 (or NULL_CLASS = -1), got classes[${
          offset + i
        }] = ${v}`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** Host labels and the guidance scale, read once per loop or call. */
export interface _Conditioning {
  classes?: Int32Array;
  w: number;
  /** The model timesteps [lo, hi] where w applies (elsewhere w = 1); absent: every step. */
  interval?: readonly [number, number];
}

/** Reads and checks `{ classes, guidanceScale }` for a batch. */
export function _readConditioning(
  what: string,
  opts: GuidanceOptions | undefined,
  batch: number,
  rows?: { start: number; of: number },
): _Conditioning {
  const classes = _readClasses(what, opts?.classes, batch, rows);
  const w = opts?.guidanceScale === undefined ? 1 : _checkGuidanceScale(what, opts.guidanceScale);
  if (classes === undefined && opts?.guidanceScale !== undefined && w !== 1) {
    throw new RangeError(
      `Cannot ${what}: guidanceScale ${w} needs classes (the labels to guide towards)`,
    );
  }
  const interval = opts?.guidanceInterval;
  if (interval === undefined) return { classes, w };
  if (!_isGuidanceInterval(interval)) {
    throw new RangeError(
      `Cannot ${what}: guidanceInterval must be [lo, hi], integer timesteps with 0 <= lo <= hi, ` +
        `got ${JSON.stringify(interval)}`,
    );
  }
  if (classes === undefined) {
    throw new RangeError(
      `Cannot ${what}: guidanceInterval needs classes (the labels to guide towards)`,
    );
  }
  return { classes, w, interval: [interval[0], interval[1]] };
}
