// Test helpers: run a test on each backend, and compare against the float64 reference.
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, initBackend } from "../mod.ts";

/**
 * Backends every backend-dependent test runs on. webgpu is Mesa's (llvmpipe/lavapipe) on
 * CPU machines; a machine without it fails these tests rather than skipping them. Set
 * DDPM_TEST_BACKENDS=cpu to narrow a local run deliberately.
 */
export const BACKENDS: BackendName[] = (Deno.env.get("DDPM_TEST_BACKENDS") ?? "cpu,wasm,webgpu")
  .split(",").map((b) => b.trim() as BackendName);

const _started = new Set<string>();

/** Activates a backend (initialising it the first time). */
export async function useBackend(b: BackendName): Promise<void> {
  if (!_started.has(b)) {
    await initBackend(b);
    _started.add(b);
  } else {
    await tf.setBackend(b);
  }
}

/** Registers `name [backend]` for every backend in BACKENDS. */
export function backendTest(
  name: string,
  fn: (backend: BackendName) => Promise<void> | void,
): void {
  for (const b of BACKENDS) {
    Deno.test({
      name: `${name} [${b}]`,
      // The webgpu device and its pending work outlive single tests by design.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        await useBackend(b);
        await fn(b);
      },
    });
  }
}

/** Float32 tolerances used against the float64 reference (see assertClose). */
export const F32 = { atol: 1e-6, rtol: 1e-5 };

/**
 * Asserts |got_i - ref_i| ≤ atol + rtol · scale_i for every i, where scale_i is the sum of
 * the magnitudes of the terms that made ref_i (defaults to |ref_i|). Relative to the terms,
 * not the result, because float32 rounding is relative to the operands: a cancellation
 * such as √(1/ᾱ) x_t - √(1/ᾱ-1) ε at ᾱ ≈ 1e-5 loses digits in any float32 code.
 */
export function assertClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  what: string,
  { atol, rtol, scale }: { atol: number; rtol: number; scale?: ArrayLike<number> } = F32,
): void {
  if (got.length !== ref.length) {
    throw new Error(`${what}: length ${got.length} != reference length ${ref.length}`);
  }
  for (let i = 0; i < ref.length; i++) {
    const tol = atol + rtol * (scale ? scale[i] : Math.abs(ref[i]));
    const err = Math.abs(got[i] - ref[i]);
    if (!(err <= tol)) {
      throw new Error(
        `${what}: element ${i}: got ${got[i]}, reference ${
          ref[i]
        }, |error| ${err} > tolerance ${tol}`,
      );
    }
  }
}

/** Reads a tensor (asynchronously, which every backend supports) and disposes it. */
export async function read(x: tf.Tensor): Promise<Float32Array> {
  const v = await x.data() as Float32Array;
  x.dispose();
  return v;
}

/** Every tensor of two training checkpoints (weights, EMA, Adam's moments) is equal, bit for bit. */
export async function assertSameCheckpoint(pathA: string, pathB: string): Promise<void> {
  const { loadCheckpoint } = await import("../mod.ts");
  const [ca, cb] = [await loadCheckpoint(pathA), await loadCheckpoint(pathB)];
  if (cb.state?.step !== ca.state?.step) {
    throw new Error(`step ${cb.state?.step} != ${ca.state?.step}`);
  }
  for (const group of ["params", "ema", "adamM", "adamV"] as const) {
    for (const [name, w] of ca[group]!) {
      const got = cb[group]!.get(name)!.data;
      if (got.length !== w.data.length || got.some((v, i) => !Object.is(v, w.data[i]))) {
        throw new Error(`${group}.${name} differs`);
      }
    }
  }
}
