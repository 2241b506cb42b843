// Internal: the shape shared by most closed forms, out = c_a[t] · a + c_b[t] · b, with the
// coefficients gathered in float64 on the host.
import type { Schedule } from "./schedule.ts";
import { _readTimesteps, type TimestepArg } from "./_timesteps.ts";
import { _combine } from "./_formulas.ts";
import { _checkBatch, _checkSameShape, _checkSchedule } from "./_checks.ts";
import type { Tensor } from "./types.ts";

/** One term of an affine combination: argument name, tensor, coefficient table. */
export type _Term = [name: string, x: unknown, table: Float64Array];

/** c_a[t] · a + c_b[t] · b, after checking both tensors and t. */
export function _affine(
  what: string,
  s: Schedule,
  t: TimestepArg | Int32Array,
  [nameA, a, tableA]: _Term,
  [nameB, b, tableB]: _Term,
): Tensor {
  _checkSchedule(what, s);
  const ta = _checkBatch(what, nameA, a);
  const tb = _checkSameShape(what, nameA, ta, nameB, b);
  const ts = _readTimesteps(what, s, t, ta.shape[0]);
  return _combine(ts, [tableA, ta], [tableB, tb]);
}
