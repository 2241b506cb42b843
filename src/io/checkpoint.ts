import type { UNetConfig } from "../unet/unet.ts";
import type { ScheduleKind } from "../schedule.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type StoredTensor,
  storedToFloat32,
} from "./safetensors.ts";
import { _toFloat16Bits } from "./_float16.ts";
import { _readBytes } from "../_platform.ts";
import { _crc32c, _crcHex } from "./_crc32c.ts";
import { _isObject } from "../_json.ts";
import { _isGuidanceInterval } from "../_guidance.ts";
import { _samplerChoiceProblem, type SamplerChoice } from "../samplers.ts";
import { _selfCheckProblem, type SelfCheck } from "../self_check.ts";

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
  /**
   * The model timesteps [lo, hi] where that guidance applies (guidance in a limited interval;
   * elsewhere the conditional model alone), as its model card recommends; absent: every step.
   */
  guidanceInterval?: [number, number];
  /**
   * The sampler, steps and DDIM η its model card recommends (`deno task export --sampler`);
   * absent: each tool's own default.
   */
  sampler?: SamplerChoice;
  /**
   * Conditional models with a separate unconditional network for ε(x, ∅) (see
   * `withUnconditional`): that network's shape; its weights are the checkpoint's `unconditional`.
   */
  unconditionalUnet?: UNetConfig;
  /**
   * Autoguided models (see `withAutoguidance`): the weaker guide network's shape and the
   * autoguidance weight w; the guide's weights are the checkpoint's `guide`. With a separate
   * unconditional network, `unconditionalWeight` w_∅ autoguides its ε(x, ∅) by the guide's null
   * class too, ε_g(x, ∅) + w_∅·(ε_u(x) − ε_g(x, ∅)) (absent: 1, the unconditional network alone).
   */
  autoguidance?: { unet: UNetConfig; weight: number; unconditionalWeight?: number };
  /**
   * Conditional models: the self-check its model card recommends (`deno task export
   * --self-check`): each labelled sample is classified by the class network itself
   * (`diffusionClassify` at these timesteps) and drawn again where its guess is another class,
   * up to `rounds` times; absent: no self-check.
   */
  selfCheck?: SelfCheck;
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
  /**
   * Loss "vlb" runs: the importance sampler's history (see `LossHistory`), `losses` [T·perTerm]
   * and `counts` [T] as arrays.
   */
  lossHistory?: { perTerm: number; losses: number[]; counts: number[] };
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
  /**
   * The separate unconditional network's weights (with `config.unconditionalUnet`): guidance
   * takes ε(x, ∅) from it instead of the conditional network's null class.
   */
  unconditional?: Weights;
  /** The guide network's weights (with `config.autoguidance`; see `withAutoguidance`). */
  guide?: Weights;
}

const _GROUPS = [
  ["params", "params"],
  ["ema", "ema"],
  ["adamM", "adam_m"],
  ["adamV", "adam_v"],
  ["unconditional", "unconditional"],
  ["guide", "guide"],
] as const;
/** The groups a sampler reads; `encodeCheckpoint`'s `float16` stores only these in half precision. */
const _SAMPLING_GROUPS: readonly string[] = ["ema", "unconditional", "guide"];
const _FORMAT = "ddpm-core-checkpoint/1";

/**
 * Encodes a checkpoint as the bytes of one safetensors file (what `saveCheckpoint` of
 * `@ddpm/core/fs` writes, and a web page downloads). Tensors are named `ema.<param>`,
 * `params.<param>`, `adam_m.<param>`, `adam_v.<param>` (and a separate unconditional network's
 * `unconditional.<param>`, an autoguidance guide's `guide.<param>`); the metadata holds `format`, `config` and
 * `state` as JSON strings and `crc32c`, the CRC-32C of the tensor table, config, state and tensor
 * bytes (checked by {@linkcode loadCheckpoint}), so Python reads it with
 * `safetensors.numpy.load_file` and `safe_open(...).metadata()`.
 *
 * With `options.float16` the sampling weights (`ema`, `unconditional`, `guide`) are stored as
 * IEEE binary16 (F16, rounded to nearest), half the bytes, for shipping a model; the training
 * state (`params`, `adam_m`, `adam_v`) stays float32 so a resume stays bit for bit.
 * {@linkcode loadCheckpoint} reads either back as float32.
 *
 * @param ckpt The checkpoint.
 * @param options `float16`: store the sampling weights in half precision (default false).
 * @returns The file's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCheckpoint, loadCheckpoint } from "@ddpm/core";
 * const w = new Map([["conv_in.b", { shape: [2], data: new Float32Array([1, 0.1]) }]]);
 * const config = { unet: { imageSize: 8, inChannels: 1, ch: 8, chMult: [1], numResBlocks: 1,
 *   attnResolutions: [], dropout: 0, groups: 4 }, schedule: { kind: "linear" as const, T: 10 } };
 * const back = await loadCheckpoint(encodeCheckpoint({ config, ema: w }));
 * assert.deepEqual(back.ema.get("conv_in.b")?.data, new Float32Array([1, 0.1]));
 * // in half precision 0.1 becomes the nearest binary16, 0.0999755859375
 * const half = await loadCheckpoint(encodeCheckpoint({ config, ema: w }, { float16: true }));
 * assert.deepEqual(half.ema.get("conv_in.b")?.data, new Float32Array([1, 0.0999755859375]));
 * ```
 */
export function encodeCheckpoint(
  ckpt: Checkpoint,
  options: { float16?: boolean } = {},
): Uint8Array {
  const half = options.float16 ?? false;
  if (typeof half !== "boolean") {
    throw new TypeError(`Cannot encode checkpoint: options.float16 must be a boolean, got ${half}`);
  }
  const tensors = new Map<string, StoredTensor>();
  for (const [key, prefix] of _GROUPS) {
    const toHalf = half && _SAMPLING_GROUPS.includes(key);
    for (const [name, w] of ckpt[key] ?? []) {
      tensors.set(
        `${prefix}.${name}`,
        toHalf
          ? { dtype: "F16", shape: w.shape, data: _toFloat16Bits(w.data) }
          : { dtype: "F32", shape: w.shape, data: w.data },
      );
    }
  }
  const metadata: Record<string, string> = {
    format: _FORMAT,
    config: JSON.stringify(ckpt.config),
  };
  if (ckpt.state) metadata.state = JSON.stringify(ckpt.state);
  metadata.crc32c = _crcHex(_checksum(tensors, metadata));
  return encodeSafetensors(tensors, metadata);
}

/**
 * CRC-32C of everything a checkpoint says: its tensor table (name, dtype, shape, in file
 * order), config and state, then the tensor bytes. (See src/io/_crc32c.ts for the choice.)
 */
function _checksum(tensors: Map<string, StoredTensor>, metadata: Record<string, string>): number {
  const table = JSON.stringify([...tensors].map(([name, t]) => [name, t.dtype, t.shape]));
  const text = `${table}\n${metadata.config}\n${metadata.state ?? ""}\n`;
  let crc = _crc32c(new TextEncoder().encode(text));
  for (const t of tensors.values()) {
    crc = _crc32c(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), crc);
  }
  return crc;
}

/**
 * Reads a checkpoint (from {@linkcode encodeCheckpoint}, or `saveCheckpoint` of
 * `@ddpm/core/fs`) from a URL (`http(s):` through fetch in every runtime, so the bundled
 * checkpoint loads from JSR and in a web page; `file:` or a path where there is a file system),
 * or the file's bytes.
 *
 * @param source A file path, a URL, or the bytes.
 * @returns The checkpoint.
 * @throws {Error} If the file is missing, not safetensors, not a @ddpm/core checkpoint, its
 *   metadata is malformed (the message names the field), or its contents fail their
 *   CRC-32C (files written before the checksum load unchecked).
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
export async function loadCheckpoint(source: string | URL | Uint8Array): Promise<Checkpoint> {
  const where = source instanceof Uint8Array ? `(${source.length} bytes)` : String(source);
  let bytes: Uint8Array;
  try {
    bytes = source instanceof Uint8Array ? source : await _readBytes(source);
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
  if (metadata.format !== _FORMAT || metadata.config === undefined) {
    throw new Error(
      `Cannot load checkpoint ${where}: not a @ddpm/core checkpoint (metadata format is ${
        JSON.stringify(metadata.format)
      }, expected "${_FORMAT}")`,
    );
  }
  const bad = (why: string) => new Error(`Cannot load checkpoint ${where}: ${why}`);
  if (metadata.crc32c !== undefined) {
    const crc = _crcHex(_checksum(tensors, metadata));
    if (crc !== metadata.crc32c) {
      throw bad(
        `its contents fail their CRC-32C check (stored ${
          JSON.stringify(metadata.crc32c)
        }, computed "${crc}"): the file is corrupt`,
      );
    }
  }
  const config = _parseJson(metadata.config, "metadata.config", bad) as CheckpointConfig;
  _checkConfigShape(config, bad);
  const state = metadata.state === undefined
    ? undefined
    : _parseJson(metadata.state, "metadata.state", bad) as TrainState;
  if (state !== undefined) _checkState(state, bad);
  const groups: Record<string, Weights> = {};
  for (const [name, t] of tensors) {
    const dot = name.indexOf(".");
    const prefix = name.slice(0, dot);
    const key = _GROUPS.find(([, p]) => p === prefix)?.[0];
    if (!key || (t.dtype !== "F32" && t.dtype !== "F16")) {
      throw new Error(`Cannot load checkpoint ${where}: unexpected tensor ${name} (${t.dtype})`);
    }
    (groups[key] ??= new Map()).set(name.slice(dot + 1), {
      shape: t.shape,
      data: storedToFloat32(t),
    });
  }
  if (!groups.ema) throw new Error(`Cannot load checkpoint ${where}: it has no ema.* weights`);
  if ((config.unconditionalUnet === undefined) !== (groups.unconditional === undefined)) {
    throw bad(
      config.unconditionalUnet === undefined
        ? "it has unconditional.* weights but no metadata.config.unconditionalUnet"
        : "metadata.config.unconditionalUnet is set but it has no unconditional.* weights",
    );
  }
  if ((config.autoguidance === undefined) !== (groups.guide === undefined)) {
    throw bad(
      config.autoguidance === undefined
        ? "it has guide.* weights but no metadata.config.autoguidance"
        : "metadata.config.autoguidance is set but it has no guide.* weights",
    );
  }
  return {
    config,
    state,
    params: groups.params,
    ema: groups.ema,
    adamM: groups.adamM,
    adamV: groups.adamV,
    ...(groups.unconditional ? { unconditional: groups.unconditional } : {}),
    ...(groups.guide ? { guide: groups.guide } : {}),
  };
}

function _parseJson(text: string, field: string, bad: (why: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(`${field} is not JSON (${(e as Error).message})`);
  }
}

/** The fields every reader of a checkpoint relies on, with their types. */
function _checkConfigShape(config: unknown, bad: (why: string) => Error): void {
  if (!_isObject(config)) {
    throw bad(`metadata.config must be an object, got ${JSON.stringify(config)}`);
  }
  _checkUNetShape(config.unet, "metadata.config.unet", bad);
  if (config.unconditionalUnet !== undefined) {
    _checkUNetShape(config.unconditionalUnet, "metadata.config.unconditionalUnet", bad);
    _checkUnconditionalPair(config as unknown as CheckpointConfig, bad);
  }
  const ag = config.autoguidance;
  if (ag !== undefined) {
    if (!_isObject(ag) || typeof ag.weight !== "number" || !Number.isFinite(ag.weight)) {
      throw bad(
        `metadata.config.autoguidance must be { unet, weight } with a finite weight, got ${
          JSON.stringify(ag)
        }`,
      );
    }
    const wu = ag.unconditionalWeight;
    if (wu !== undefined && (typeof wu !== "number" || !Number.isFinite(wu))) {
      throw bad(
        `metadata.config.autoguidance.unconditionalWeight must be a finite number, got ${
          JSON.stringify(wu)
        }`,
      );
    }
    _checkUNetShape(ag.unet, "metadata.config.autoguidance.unet", bad);
    _checkGuidePair(config as unknown as CheckpointConfig, bad);
  }
  const s = config.schedule;
  if (!_isObject(s) || typeof s.kind !== "string" || !_posInt(s.T)) {
    throw bad(`metadata.config.schedule must be { kind, T }, got ${JSON.stringify(s)}`);
  }
  const gi = config.guidanceInterval;
  if (gi !== undefined && !_isGuidanceInterval(gi)) {
    throw bad(
      `metadata.config.guidanceInterval must be [lo, hi] with 0 <= lo <= hi, got ${
        JSON.stringify(gi)
      }`,
    );
  }
  const why = config.sampler === undefined ? undefined : _samplerChoiceProblem(config.sampler);
  if (why !== undefined) {
    throw bad(`metadata.config.sampler ${why}, got ${JSON.stringify(config.sampler)}`);
  }
  if (config.selfCheck !== undefined) {
    const unet = config.unet as { numClasses?: number };
    const problem = (unet.numClasses ?? 0) > 0
      ? _selfCheckProblem(config.selfCheck, s.T as number)
      : "needs a class-conditional network";
    if (problem !== undefined) {
      throw bad(`metadata.config.selfCheck ${problem}, got ${JSON.stringify(config.selfCheck)}`);
    }
  }
  if (
    config.classes !== undefined &&
    (!Array.isArray(config.classes) || !config.classes.every((c) => typeof c === "string"))
  ) {
    throw bad(
      `metadata.config.classes must be an array of strings, got ${JSON.stringify(config.classes)}`,
    );
  }
}

/**
 * A separate unconditional network must be unconditional and make the conditional network's
 * images, with its output channels.
 */
export function _checkUnconditionalPair(
  config: CheckpointConfig,
  bad: (why: string) => Error,
): void {
  const c = config.unet, u = config.unconditionalUnet;
  if (u === undefined) return;
  if (!(c.numClasses ?? 0)) {
    throw bad("a separate unconditional network needs a class-conditional model, got numClasses 0");
  }
  if (
    (u.numClasses ?? 0) !== 0 || u.imageSize !== c.imageSize || u.inChannels !== c.inChannels ||
    _outChannels(u) !== _outChannels(c)
  ) {
    const size = (n: UNetConfig) => `${n.imageSize}×${n.imageSize}×${n.inChannels}`;
    throw bad(
      `the unconditional network must be unconditional and make the conditional one's ` +
        `${size(c)} images with ${_outChannels(c)} output channels, got ${size(u)}, ` +
        `${_outChannels(u)} channels, numClasses ${u.numClasses ?? 0}`,
    );
  }
}

/**
 * An autoguidance guide must take the model's labels and make its images, with its output
 * channels.
 */
export function _checkGuidePair(config: CheckpointConfig, bad: (why: string) => Error): void {
  const c = config.unet, g = config.autoguidance?.unet;
  if (g === undefined) return;
  const wu = config.autoguidance?.unconditionalWeight;
  if (wu !== undefined && config.unconditionalUnet === undefined) {
    throw bad(
      `an unconditionalWeight autoguides a separate unconditional network, and there is none, ` +
        `got unconditionalWeight ${wu}`,
    );
  }
  if (
    (g.numClasses ?? 0) !== (c.numClasses ?? 0) || g.imageSize !== c.imageSize ||
    g.inChannels !== c.inChannels || _outChannels(g) !== _outChannels(c)
  ) {
    const size = (n: UNetConfig) => `${n.imageSize}×${n.imageSize}×${n.inChannels}`;
    throw bad(
      `the guide must take the model's ${c.numClasses ?? 0} classes and make its ${size(c)} ` +
        `images with ${_outChannels(c)} output channels, got ${g.numClasses ?? 0} classes, ` +
        `${size(g)}, ${_outChannels(g)} channels`,
    );
  }
}

function _outChannels(n: UNetConfig): number {
  return n.outChannels ?? (n.learnSigma ? 2 : 1) * n.inChannels;
}

const _posInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;

/** A U-Net config's fields every reader relies on. */
function _checkUNetShape(u: unknown, field: string, bad: (why: string) => Error): void {
  if (!_isObject(u)) throw bad(`${field} must be an object, got ${JSON.stringify(u)}`);
  for (const k of ["imageSize", "inChannels", "ch", "numResBlocks", "groups"]) {
    if (!_posInt(u[k])) {
      throw bad(`${field}.${k} must be a positive integer, got ${JSON.stringify(u[k])}`);
    }
  }
  for (const k of ["chMult", "attnResolutions"]) {
    if (!Array.isArray(u[k]) || !(u[k] as unknown[]).every(_posInt)) {
      throw bad(`${field}.${k} must be an array of positive integers, got ${JSON.stringify(u[k])}`);
    }
  }
  if (typeof u.dropout !== "number") {
    throw bad(`${field}.dropout must be a number, got ${JSON.stringify(u.dropout)}`);
  }
}

function _checkState(state: unknown, bad: (why: string) => Error): void {
  if (!_isObject(state)) {
    throw bad(`metadata.state must be an object, got ${JSON.stringify(state)}`);
  }
  for (const k of ["step", "adamStep"]) {
    if (!Number.isInteger(state[k]) || (state[k] as number) < 0) {
      throw bad(`metadata.state.${k} must be an integer >= 0, got ${JSON.stringify(state[k])}`);
    }
  }
  if (typeof state.seconds !== "number") {
    throw bad(`metadata.state.seconds must be a number, got ${JSON.stringify(state.seconds)}`);
  }
}
