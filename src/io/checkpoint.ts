import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { UNetConfig } from "../unet/unet.ts";
import type { ScheduleKind } from "../schedule.ts";
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "./safetensors.ts";
import { _atomicWrite } from "./_atomic_write.ts";

/** Named float32 arrays, one per U-Net parameter. */
export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** What a checkpoint says about the model, beside its weights. */
export interface CheckpointConfig {
  /** The U-Net's shape. */
  unet: UNetConfig;
  /** The noise schedule it was trained with. */
  schedule: { kind: ScheduleKind; T: number };
  /** The training options, when written by the trainer. */
  train?: Record<string, unknown>;
  /** The class names of a class-conditional model, indexed by label (`--class 7`, `--class sneaker`). */
  classes?: string[];
  /** The classifier-free guidance scale its model card recommends (conditional models). */
  guidanceScale?: number;
}

/** Where training stood when the checkpoint was written. */
export interface TrainState {
  /** Optimizer steps taken. */
  step: number;
  /** Adam's step count (equal to step). */
  adamStep: number;
  /** Wall-clock seconds spent training, over every resumed run. */
  seconds: number;
  /** The mean loss over the last logged steps. */
  loss?: number;
}

/**
 * A training checkpoint: the weights, their exponential moving average (EMA), and Adam's
 * moments. A released model may carry the EMA weights alone.
 */
export interface Checkpoint {
  /** The model and schedule configuration. */
  config: CheckpointConfig;
  /** Training state (absent in a released model). */
  state?: TrainState;
  /** The raw weights (absent in a released model: use `ema`). */
  params?: Weights;
  /** The EMA weights, the ones to sample with. */
  ema: Weights;
  /** Adam's first moments. */
  adamM?: Weights;
  /** Adam's second moments. */
  adamV?: Weights;
}

const _GROUPS = [["params", "params"], ["ema", "ema"], ["adamM", "adam_m"], [
  "adamV",
  "adam_v",
]] as const;
const _FORMAT = "ddpm-core-checkpoint/1";

/**
 * Writes a checkpoint as one safetensors file, atomically (temporary file, fsync, rename): a
 * crash leaves the previous file whole. Tensors are named `ema.<param>`, `params.<param>`,
 * `adam_m.<param>`, `adam_v.<param>`; the metadata holds `format`, `config` and `state` as
 * JSON strings, so Python reads it with `safetensors.numpy.load_file` and
 * `safe_open(...).metadata()`.
 *
 * @param path The file to write (its folder is created).
 * @param ckpt The checkpoint.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "@ddpm/core";
 * const w = new Map([["conv_in.b", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * const config = { unet: { imageSize: 8, inChannels: 1, ch: 8, chMult: [1], numResBlocks: 1,
 *   attnResolutions: [], dropout: 0, groups: 4 }, schedule: { kind: "linear" as const, T: 10 } };
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * saveCheckpoint(path, { config, ema: w });
 * console.log((await loadCheckpoint(path)).ema.get("conv_in.b")?.data); // Float32Array [1, 2]
 * ```
 */
export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  const tensors = new Map<string, StoredTensor>();
  for (const [key, prefix] of _GROUPS) {
    for (const [name, w] of ckpt[key] ?? []) {
      tensors.set(`${prefix}.${name}`, { dtype: "F32", shape: w.shape, data: w.data });
    }
  }
  const metadata: Record<string, string> = {
    format: _FORMAT,
    config: JSON.stringify(ckpt.config),
  };
  if (ckpt.state) metadata.state = JSON.stringify(ckpt.state);
  _atomicWrite(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads a checkpoint written by {@linkcode saveCheckpoint} from a path or URL (`file:` or
 * `https:`, so the bundled checkpoint loads from JSR too).
 *
 * @param source A file path, or a URL.
 * @returns The checkpoint.
 * @throws {Error} If the file is missing, not safetensors, or not a @ddpm/core checkpoint.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "@ddpm/core";
 * try {
 *   await loadCheckpoint("no/such/file.safetensors");
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("Cannot load checkpoint")); // true
 * }
 * ```
 */
export async function loadCheckpoint(source: string | URL): Promise<Checkpoint> {
  const where = String(source);
  let bytes: Uint8Array;
  try {
    bytes = await _readBytes(source);
  } catch (e) {
    throw new Error(`Cannot load checkpoint ${where}: ${(e as Error).message}`);
  }
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`Cannot load checkpoint ${where}: ${(e as Error).message}`);
  }
  const { tensors, metadata } = decoded;
  if (metadata.format !== _FORMAT || !metadata.config) {
    throw new Error(
      `Cannot load checkpoint ${where}: not a @ddpm/core checkpoint (metadata format is ${
        JSON.stringify(metadata.format)
      }, expected "${_FORMAT}")`,
    );
  }
  const groups: Record<string, Weights> = {};
  for (const [name, t] of tensors) {
    const dot = name.indexOf(".");
    const prefix = name.slice(0, dot);
    const key = _GROUPS.find(([, p]) => p === prefix)?.[0];
    if (!key || t.dtype !== "F32") {
      throw new Error(`Cannot load checkpoint ${where}: unexpected tensor ${name} (${t.dtype})`);
    }
    (groups[key] ??= new Map()).set(name.slice(dot + 1), {
      shape: t.shape,
      data: t.data as Float32Array,
    });
  }
  if (!groups.ema) throw new Error(`Cannot load checkpoint ${where}: it has no ema.* weights`);
  return {
    config: JSON.parse(metadata.config),
    state: metadata.state ? JSON.parse(metadata.state) : undefined,
    params: groups.params,
    ema: groups.ema,
    adamM: groups.adamM,
    adamV: groups.adamV,
  };
}

// Internal (shared with the classifier loader): the bytes at a path or a file:/https: URL.
export async function _readBytes(source: string | URL): Promise<Uint8Array> {
  const url = source instanceof URL
    ? source
    : /^[a-z]+:\/\//i.test(source)
    ? new URL(source)
    : null;
  if (url && url.protocol !== "file:") {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return new Uint8Array(await readFile(url ? fileURLToPath(url) : (source as string)));
}
