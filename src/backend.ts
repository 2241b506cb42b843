import * as tf from "@tensorflow/tfjs-core";
import { _ensureXdgRuntimeDir, _nodeBuiltin, _runtime } from "./_platform.ts";

/** The tfjs backends this library runs on, fastest first. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What {@linkcode initBackend} chose, and why the faster ones were passed over. */
export interface BackendInfo {
  /** The backend now active. */
  backend: BackendName;
  /** The JavaScript runtime. */
  runtime: "deno" | "bun" | "node" | "browser" | "unknown";
  /** Each backend tried, in order, with the reason it failed (absent when it worked). */
  tried: { backend: BackendName; error?: string }[];
  /** The GPU adapter's description, on webgpu. */
  adapter?: string;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /**
   * Where the wasm backend's `.wasm` files are (a URL or path ending in "/"). Default: beside the
   * bundle in a browser; the installed `@tensorflow/tfjs-backend-wasm` package in Deno, Bun and
   * Node.
   */
  wasmPaths?: string;
}

const _ORDER: BackendName[] = ["webgpu", "wasm", "cpu"];
let _gradientsLoaded = false;
let _wasmPaths: string | undefined;

/**
 * Picks and activates a tfjs backend, and registers the gradients of every op (tfjs-core
 * alone does not register them in Deno; the `@tensorflow/tfjs` package does, in Deno and
 * Bun). `"auto"` tries webgpu → wasm → cpu and takes the first that works, passing over a
 * WebGPU adapter that is a CPU emulation (Mesa's llvmpipe/lavapipe, SwiftShader), which is
 * slower than wasm; a named backend is used or the call throws.
 *
 * @param choice `"auto"` (default), `"webgpu"`, `"wasm"` or `"cpu"`.
 * @param options `{ wasmPaths }`: where the wasm binaries are, when not found by default.
 * @returns What was chosen, the runtime, the adapter, and why faster backends were skipped.
 * @throws {Error} If a named backend cannot start (the message says why).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "@ddpm/core";
 * const info = await initBackend("cpu");
 * assert.equal(info.backend, "cpu");
 * ```
 */
export async function initBackend(
  choice: "auto" | BackendName = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (choice !== "auto" && !_ORDER.includes(choice)) {
    throw new RangeError(
      `Cannot init backend: choice must be "auto", "webgpu", "wasm" or "cpu", got ${
        JSON.stringify(choice)
      }`,
    );
  }
  if (options.wasmPaths !== undefined) _wasmPaths = options.wasmPaths;
  await _loadGradients();
  const info: BackendInfo = { backend: "cpu", runtime: _runtime(), tried: [] };
  for (const name of choice === "auto" ? _ORDER : [choice]) {
    try {
      const adapter = await _start(name, choice === "auto");
      info.backend = name;
      if (adapter) info.adapter = adapter;
      info.tried.push({ backend: name });
      return info;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      info.tried.push({ backend: name, error });
      if (choice !== "auto") {
        throw new Error(`Cannot init backend: ${name} did not start: ${error}`);
      }
    }
  }
  throw new Error(`Cannot init backend: none started: ${JSON.stringify(info.tried)}`);
}

async function _loadGradients(): Promise<void> {
  if (_gradientsLoaded) return;
  // The umbrella package registers every gradient (and the cpu backend) into tfjs-core's
  // global registry.
  await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-cpu");
  // the cpu backend greets its first use in Deno, Bun and Node with a banner recommending
  // tfjs-node, which these runtimes cannot load: mark that first use done
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  _gradientsLoaded = true;
}

/** Adapters that run WebGPU on the CPU (Mesa llvmpipe/lavapipe, SwiftShader). */
const _SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/**
 * Starts one backend, checks it computes, and returns the adapter description if any. With
 * `skipSoftware`, a CPU-emulated WebGPU adapter is refused: wasm is ~6× faster on the same CPU.
 */
async function _start(name: BackendName, skipSoftware = false): Promise<string | undefined> {
  let adapterInfo: string | undefined;
  if (name === "webgpu") {
    const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
    if (!gpu) throw new Error("navigator.gpu is not available in this runtime");
    _ensureXdgRuntimeDir();
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error("navigator.gpu.requestAdapter() found no adapter");
    const i = adapter.info;
    adapterInfo = [i?.vendor, i?.architecture, i?.device, i?.description]
      .filter((x) => x).join(" ") || "unknown adapter";
    if (skipSoftware && _SOFTWARE_ADAPTER.test(adapterInfo)) {
      throw new Error(
        `the only adapter is a CPU emulation (${adapterInfo}); wasm is faster (ask for "webgpu" to use it anyway)`,
      );
    }
    await import("@tensorflow/tfjs-backend-webgpu");
  } else if (name === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(_wasmDir());
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend("${name}") failed`);
  await tf.ready();
  if (name === "wasm") _shareIdentityOnWasm();
  // A tiny computation proves the backend really works.
  const probe = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), 2)));
  const v = (await probe.data())[0];
  probe.dispose();
  if (v !== 12) throw new Error(`${name} computed 2·(1+2+3) = ${v}`);
  return adapterInfo;
}

/**
 * tfjs-backend-wasm 4.22's Identity kernel copies its input, and tfjs-core clones (Identity)
 * every tensor it saves for a gradient, so a training step copied every activation once more
 * than needed. The cpu and webgpu backends share the data instead (tensors are immutable and
 * reference-counted); this registers the same sharing kernel for wasm.
 */
function _shareIdentityOnWasm(): void {
  const original = tf.getKernel("Identity", "wasm");
  if (!original || (original as { _ddpmShared?: boolean })._ddpmShared) return;
  type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
  const config = {
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: (args: { inputs: { x: Info }; backend: { incRef(id: object): void } }) => {
      const { x } = args.inputs;
      if (x.dtype === "string") return original.kernelFunc(args as never);
      args.backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
    _ddpmShared: true,
  };
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel(config as unknown as tf.KernelConfig);
}

/** The folder holding the wasm backend's .wasm files. */
function _wasmDir(): string {
  if (_wasmPaths !== undefined) return _wasmPaths;
  const runtime = _runtime();
  if (runtime === "browser" || runtime === "unknown") {
    // a bundle: the .wasm files beside it
    return new URL("./", import.meta.url).href;
  }
  const { createRequire } = _nodeBuiltin<
    { createRequire(url: string): { resolve(name: string): string } }
  >("module");
  const main = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm");
  return main.replace(/[^/\\]*$/, "");
}
