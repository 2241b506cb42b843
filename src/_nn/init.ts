// Internal: initial parameter values, shared by the U-Net and the digit classifier.
import { _uniformGenerator } from "../_random.ts";

/**
 * Values of a new parameter of `shape`: "fanAvg" is uniform variance scaling with fan_avg,
 * U(±√(3 / ((fan_in + fan_out) / 2))) (fans of a [kh, kw, ci, co] kernel count kh·kw), drawn
 * from stream `stream` of `seed`; "zero" and "one" are constants.
 */
export function _initValues(
  shape: number[],
  init: "fanAvg" | "zero" | "one",
  seed: number,
  stream: number,
): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (init === "one") data.fill(1);
  if (init === "fanAvg") {
    const rf = shape.length === 4 ? shape[0] * shape[1] : 1;
    const fanIn = rf * shape[shape.length - 2], fanOut = rf * shape[shape.length - 1];
    const limit = Math.sqrt(3 / ((fanIn + fanOut) / 2));
    const u = _uniformGenerator(seed, stream);
    for (let i = 0; i < n; i++) data[i] = (2 * u() - 1) * limit;
  }
  return data;
}
