// Internal: PyTorch parameter layouts ↔ this project's, and a reader of a state_dict that keeps
// count of what it used, for the converters (src/convert/*.ts).
import { type StoredTensor, storedToFloat32 } from "../io/safetensors.ts";

/**
 * How a PyTorch parameter is laid out:
 * - "linear": nn.Linear weight [out, in] — ours [in, out];
 * - "conv3": Conv2d 3×3 weight [out, in, 3, 3] — ours [3, 3, in, out];
 * - "conv1": Conv2d 1×1 weight [out, in, 1, 1] — ours (a dense layer) [in, out];
 * - "conv1d": Conv1d kernel-1 weight [out, in, 1] — ours [in, out];
 * - "vector": biases and norm parameters [n], the same in both;
 * - "table": nn.Embedding weight [rows, width], the same in both.
 */
export type _TorchKind = "linear" | "conv3" | "conv1" | "conv1d" | "vector" | "table";

/** The PyTorch shape of a parameter whose shape here is `ours`. */
export function _torchShape(kind: _TorchKind, ours: number[]): number[] {
  switch (kind) {
    case "linear":
      return [ours[1], ours[0]];
    case "conv3":
      return [ours[3], ours[2], ours[0], ours[1]];
    case "conv1":
      return [ours[1], ours[0], 1, 1];
    case "conv1d":
      return [ours[1], ours[0], 1];
    default:
      return [...ours];
  }
}

/** The shape here of a parameter of PyTorch shape `torch` (the inverse of _torchShape). */
export function _oursShape(kind: _TorchKind, torch: number[]): number[] {
  switch (kind) {
    case "linear":
      return [torch[1], torch[0]];
    case "conv3":
      return [torch[2], torch[3], torch[1], torch[0]];
    case "conv1":
    case "conv1d":
      return [torch[1], torch[0]];
    default:
      return [...torch];
  }
}

/**
 * Permutes values between the two layouts. Every kind is a transpose of a 2-D or 4-D array:
 * out[o, i] = in[i, o] for the matrices, and [out, in, kh, kw] ↔ [kh, kw, in, out] for conv3.
 */
export function _permute(
  kind: _TorchKind,
  data: Float32Array,
  shape: number[],
  direction: "toOurs" | "toTorch",
): Float32Array {
  if (kind === "vector" || kind === "table") return Float32Array.from(data);
  const out = new Float32Array(data.length);
  if (kind === "conv3") {
    // torch [O, I, K1, K2] at ((o·I + i)·K1 + a)·K2 + b; ours [K1, K2, I, O] at ((a·K2 + b)·I + i)·O + o
    const [K1, K2, I, O] = direction === "toOurs" ? _oursShape(kind, shape) : shape;
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        for (let a = 0; a < K1; a++) {
          for (let b = 0; b < K2; b++) {
            const t = ((o * I + i) * K1 + a) * K2 + b, u = ((a * K2 + b) * I + i) * O + o;
            if (direction === "toOurs") out[u] = data[t];
            else out[t] = data[u];
          }
        }
      }
    }
    return out;
  }
  // a matrix [R, C] (the source's own shape; a 1×1 kernel's trailing ones aside) → [C, R]
  const [R, C] = shape;
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = data[r * C + c];
  return out;
}

/**
 * A state_dict being converted: `take` hands out each tensor once (checking its rank and, when
 * given, its shape), `rest` lists those never taken, so that every tensor is accounted for.
 */
export class _StateDict {
  private readonly taken = new Set<string>();

  /** @param tensors The state_dict; @param what "Cannot convert <project> checkpoint". */
  constructor(readonly tensors: Map<string, StoredTensor>, readonly what: string) {}

  /** Whether a tensor of that name exists. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The PyTorch shape of a tensor (it must exist). */
  shape(name: string): number[] {
    return this._get(name).shape;
  }

  /**
   * The tensor `name` converted to this project's layout, marked as used.
   *
   * @param name Its name in the state_dict.
   * @param kind Its layout.
   * @param expected Its PyTorch shape, when known.
   */
  take(
    name: string,
    kind: _TorchKind,
    expected?: number[],
  ): { shape: number[]; data: Float32Array } {
    const t = this._get(name);
    const rank = { linear: 2, conv3: 4, conv1: 4, conv1d: 3, vector: 1, table: 2 }[kind];
    const fits = t.shape.length === rank &&
      (kind !== "conv3" || (t.shape[2] === 3 && t.shape[3] === 3)) &&
      (kind !== "conv1" || (t.shape[2] === 1 && t.shape[3] === 1)) &&
      (kind !== "conv1d" || t.shape[2] === 1);
    if (!fits || (expected && expected.some((v, i) => v !== t.shape[i]))) {
      throw new RangeError(
        `${this.what}: tensor ${name} has shape [${t.shape}], expected ${
          expected ? `[${expected}]` : `a ${kind} parameter (rank ${rank})`
        }`,
      );
    }
    if (t.dtype === "U8") {
      throw new RangeError(
        `${this.what}: tensor ${name} is ${t.dtype}, expected F32, F16 or BF16 (floating point)`,
      );
    }
    this.taken.add(name);
    return {
      shape: _oursShape(kind, t.shape),
      data: _permute(kind, storedToFloat32(t), t.shape, "toOurs"),
    };
  }

  /** Throws when a tensor was never taken (a name the converter does not know). */
  checkAllTaken(): void {
    const rest = [...this.tensors.keys()].filter((n) => !this.taken.has(n));
    if (rest.length > 0) {
      throw new RangeError(
        `${this.what}: unknown tensor${rest.length > 1 ? "s" : ""} ${rest.slice(0, 5).join(", ")}${
          rest.length > 5 ? ` and ${rest.length - 5} more` : ""
        } (not part of the architecture read from the others)`,
      );
    }
  }

  private _get(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new RangeError(`${this.what}: missing tensor ${name}`);
    return t;
  }
}
