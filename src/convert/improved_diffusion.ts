/**
 * Loads an improved-diffusion (Nichol & Dhariwal 2021) `UNetModel` state_dict into a @ddpm/core
 * checkpoint: the architecture is read from the names and shapes, the weights are moved into
 * this project's layout, and every tensor is accounted for.
 *
 * @module
 */
import type { StoredTensor } from "../io/safetensors.ts";
import type { Checkpoint, Weights } from "../io/checkpoint.ts";
import type { ScheduleKind } from "../schedule.ts";
import type { UNetConfig } from "../unet/unet.ts";
import { _StateDict } from "./_torch_tensors.ts";
import { unetLayout } from "../unet/layout.ts";

/** Options of {@linkcode fromImprovedDiffusion}. */
export interface ImprovedDiffusionOptions {
  /** Height and width of the images (a state_dict does not record it). */
  imageSize: number;
  /**
   * Attention heads the model was built with (`num_heads`; default 1, UNetModel's default —
   * improved-diffusion's scripts default to 4: pass what the model was trained with).
   */
  numHeads?: number;
  /** The noise schedule it was trained with (default linear, T = 1000). */
  schedule?: { kind: ScheduleKind; T: number };
}

/**
 * Converts improved-diffusion's `UNetModel` (its `model.state_dict()` saved as safetensors with
 * its own names) into a checkpoint whose `ema` weights compute the same ε. Read from the tensors:
 * channels, multipliers, residual blocks per level, where attention is, scale-shift norm, the
 * output channels (2C: learned σ) and the classes; GroupNorm is improved-diffusion's (32 groups,
 * ε 1e-5), the timestep embedding its cosine-first one over half frequencies. A class-conditional
 * model gets a zero "no class" row (improved-diffusion has none: it was not trained for
 * classifier-free guidance).
 *
 * @param tensors The state_dict's tensors (float32), e.g. `decodeSafetensors(bytes).tensors`.
 * @param options `{ imageSize, numHeads?, schedule? }`.
 * @returns A checkpoint (`config.unet` reproducing the model, `ema` its weights).
 * @throws {RangeError} On a missing tensor, a name it does not know, a shape that does not fit,
 *   or an architecture this U-Net cannot express (the message names it).
 *
 * @example A random improved-diffusion model's names, converted
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromImprovedDiffusion, type StoredTensor } from "@ddpm/core";
 * const t = (...shape: number[]): StoredTensor => ({
 *   dtype: "F32", shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
 * });
 * const res = (p: string, ci: number, co: number): [string, StoredTensor][] => [
 *   [`${p}.in_layers.0.weight`, t(ci)], [`${p}.in_layers.0.bias`, t(ci)],
 *   [`${p}.in_layers.2.weight`, t(co, ci, 3, 3)], [`${p}.in_layers.2.bias`, t(co)],
 *   [`${p}.emb_layers.1.weight`, t(co, 128)], [`${p}.emb_layers.1.bias`, t(co)],
 *   [`${p}.out_layers.0.weight`, t(co)], [`${p}.out_layers.0.bias`, t(co)],
 *   [`${p}.out_layers.3.weight`, t(co, co, 3, 3)], [`${p}.out_layers.3.bias`, t(co)],
 *   ...(ci !== co ? [[`${p}.skip_connection.weight`, t(co, ci, 1, 1)], [`${p}.skip_connection.bias`, t(co)]] as [string, StoredTensor][] : []),
 * ];
 * const attn = (p: string): [string, StoredTensor][] => [
 *   [`${p}.norm.weight`, t(32)], [`${p}.norm.bias`, t(32)], [`${p}.qkv.weight`, t(96, 32, 1)],
 *   [`${p}.qkv.bias`, t(96)], [`${p}.proj_out.weight`, t(32, 32, 1)], [`${p}.proj_out.bias`, t(32)],
 * ];
 * const sd = new Map<string, StoredTensor>([
 *   ["time_embed.0.weight", t(128, 32)], ["time_embed.0.bias", t(128)],
 *   ["time_embed.2.weight", t(128, 128)], ["time_embed.2.bias", t(128)],
 *   ["input_blocks.0.0.weight", t(32, 1, 3, 3)], ["input_blocks.0.0.bias", t(32)],
 *   ...res("input_blocks.1.0", 32, 32),
 *   ...res("middle_block.0", 32, 32), ...attn("middle_block.1"), ...res("middle_block.2", 32, 32),
 *   ...res("output_blocks.0.0", 64, 32), ...res("output_blocks.1.0", 64, 32),
 *   ["out.0.weight", t(32)], ["out.0.bias", t(32)], ["out.2.weight", t(1, 32, 3, 3)], ["out.2.bias", t(1)],
 * ]);
 * const ckpt = fromImprovedDiffusion(sd, { imageSize: 8 });
 * assert.deepEqual(ckpt.config.unet.chMult, [1]);
 * assert.equal(ckpt.config.unet.numResBlocks, 1);
 * assert.deepEqual(ckpt.ema.get("up.0.res.0.skip.w")?.shape, [64, 32]); // a 1×1 conv, transposed
 * ```
 */
export function fromImprovedDiffusion(
  tensors: Map<string, StoredTensor>,
  options: ImprovedDiffusionOptions,
): Checkpoint {
  const what = "Cannot convert improved-diffusion checkpoint";
  const sd = new _StateDict(tensors, what);
  const { imageSize } = options;
  if (!Number.isInteger(imageSize) || imageSize < 1) {
    throw new RangeError(`${what}: imageSize must be a positive integer, got ${imageSize}`);
  }
  const unet = _readArchitecture(sd, options);
  const w: Weights = new Map();
  const put = (ours: string, name: string, kind: Parameters<_StateDict["take"]>[1]) =>
    w.set(ours, sd.take(name, kind));
  const norm = (ours: string, name: string) => {
    put(`${ours}.gamma`, `${name}.weight`, "vector");
    put(`${ours}.beta`, `${name}.bias`, "vector");
  };
  const layer = (ours: string, name: string, kind: "linear" | "conv3" | "conv1" | "conv1d") => {
    put(`${ours}.w`, `${name}.weight`, kind);
    put(`${ours}.b`, `${name}.bias`, "vector");
  };
  layer("temb.dense0", "time_embed.0", "linear");
  layer("temb.dense1", "time_embed.2", "linear");
  if (unet.numClasses) {
    const t = sd.take("label_emb.weight", "table");
    const [K, width] = t.shape;
    const rows = new Float32Array((K + 1) * width);
    rows.set(t.data); // the last row, "no class", stays zero
    w.set("label_emb.w", { shape: [K + 1, width], data: rows });
  }
  layer("conv_in", "input_blocks.0.0", "conv3");
  const L = unet.chMult.length, R = unet.numResBlocks;
  const hasAttn = (level: number) => unet.attnResolutions.includes(imageSize / 2 ** level);
  for (const part of unetLayout(unet)) {
    const { path, level, index } = part.place;
    // its module: input_blocks.k (conv_in is 0; then R residual blocks and a downsampling per
    // level), middle_block.{0,1,2}, output_blocks.k (R + 1 per level, from the lowest resolution)
    const module = path === "down"
      ? `input_blocks.${1 + level * (R + 1) + index}`
      : path === "up"
      ? `output_blocks.${(L - 1 - level) * (R + 1) + index}`
      : "middle_block";
    if (part.kind === "res") {
      const m = path === "mid" ? `${module}.${index * 2}` : `${module}.0`;
      norm(`${part.ours}.norm1`, `${m}.in_layers.0`);
      layer(`${part.ours}.conv1`, `${m}.in_layers.2`, "conv3");
      layer(`${part.ours}.temb`, `${m}.emb_layers.1`, "linear");
      norm(`${part.ours}.norm2`, `${m}.out_layers.0`);
      layer(`${part.ours}.conv2`, `${m}.out_layers.3`, "conv3");
      if (part.ci !== part.co) layer(`${part.ours}.skip`, `${m}.skip_connection`, "conv1");
    } else if (part.kind === "attn") {
      _attention(sd, w, part.ours, `${module}.1`, part.c, _heads(options, part.c, sd.what));
    } else if (part.kind === "downsample") {
      layer(part.ours, `${module}.0.op`, "conv3");
    } else {
      // the upsampling follows the level's last residual block (and its attention) in its module
      const u = `output_blocks.${(L - 1 - level) * (R + 1) + R}.${hasAttn(level) ? 2 : 1}`;
      layer(part.ours, `${u}.conv`, "conv3");
    }
  }
  norm("norm_out", "out.0");
  layer("conv_out", "out.2", "conv3");
  sd.checkAllTaken();
  return {
    config: { unet, schedule: options.schedule ?? { kind: "linear", T: 1000 } },
    ema: w,
  };
}

/** The U-Net configuration a state_dict's names and shapes describe. */
function _readArchitecture(sd: _StateDict, options: ImprovedDiffusionOptions): UNetConfig {
  const what = sd.what;
  if (!sd.has("time_embed.0.weight") || !sd.has("input_blocks.0.0.weight")) {
    throw new RangeError(
      `${what}: not an improved-diffusion UNetModel state_dict (no time_embed.0.weight or input_blocks.0.0.weight)`,
    );
  }
  const [, ch] = sd.shape("time_embed.0.weight");
  const convIn = sd.shape("input_blocks.0.0.weight");
  if (convIn.length !== 4) {
    throw new RangeError(
      `${what}: input_blocks.0.0.weight has shape [${convIn}]; only 2-D models (dims = 2) convert`,
    );
  }
  const inChannels = convIn[1];
  // the input blocks: residual blocks (with attention or not) and downsamplings, in order
  const levels: { co: number; attn: boolean }[][] = [[]];
  let scaleShift: boolean | undefined;
  for (
    let k = 1;
    sd.has(`input_blocks.${k}.0.op.weight`) || sd.has(`input_blocks.${k}.0.in_layers.2.weight`);
    k++
  ) {
    if (sd.has(`input_blocks.${k}.0.op.weight`)) {
      levels.push([]);
      continue;
    }
    const co = sd.shape(`input_blocks.${k}.0.in_layers.2.weight`)[0];
    const emb = sd.has(`input_blocks.${k}.0.emb_layers.1.weight`)
      ? sd.shape(`input_blocks.${k}.0.emb_layers.1.weight`)[0]
      : co;
    scaleShift ??= emb === 2 * co;
    levels[levels.length - 1].push({ co, attn: sd.has(`input_blocks.${k}.1.qkv.weight`) });
  }
  const k = levels.flat().length + levels.length;
  if (
    [...sd.tensors.keys()].some((n) =>
      n.startsWith(`input_blocks.${k}.`) || n.startsWith(`input_blocks.${k + 1}.`)
    )
  ) {
    throw new RangeError(
      `${what}: input_blocks.${k} is neither a residual block nor a strided-conv downsampling (conv_resample = False, pooling, does not convert)`,
    );
  }
  const numResBlocks = levels[0].length;
  if (numResBlocks === 0 || levels.some((l) => l.length !== numResBlocks)) {
    throw new RangeError(
      `${what}: every level must have the same number of residual blocks, got ${
        levels.map((l) => l.length).join(", ")
      }`,
    );
  }
  const chMult = levels.map((l, i) => {
    const m = l[0].co / ch;
    if (!Number.isInteger(m) || l.some((b) => b.co !== l[0].co)) {
      throw new RangeError(
        `${what}: level ${i}'s residual blocks have ${
          l.map((b) => b.co).join(", ")
        } channels; each level needs one width, a multiple of ${ch}`,
      );
    }
    return m;
  });
  const attnResolutions = levels.flatMap((l, i) => (l[0].attn ? [options.imageSize / 2 ** i] : []));
  if (!sd.has("out.2.weight")) throw new RangeError(`${what}: missing tensor out.2.weight`);
  const outChannels = sd.shape("out.2.weight")[0];
  const unet: UNetConfig = {
    imageSize: options.imageSize,
    inChannels,
    ...(outChannels !== inChannels ? { outChannels } : {}),
    ...(outChannels === 2 * inChannels ? { learnSigma: true } : {}), // learn_sigma
    ch,
    chMult,
    numResBlocks,
    attnResolutions,
    dropout: 0,
    groups: 32,
    timestepEmbedding: { flipSinToCos: true, freqShift: 0 },
    ...(scaleShift ? { scaleShiftNorm: true } : {}),
    ...(options.numHeads !== undefined && options.numHeads !== 1
      ? { numHeads: options.numHeads }
      : {}),
  };
  if (sd.has("label_emb.weight")) unet.numClasses = sd.shape("label_emb.weight")[0];
  return unet;
}

function _heads(options: ImprovedDiffusionOptions, c: number, what: string): number {
  const h = options.numHeads ?? 1;
  if (!Number.isInteger(h) || h < 1 || c % h !== 0) {
    throw new RangeError(`${what}: numHeads must be a positive integer dividing ${c}, got ${h}`);
  }
  return h;
}

/**
 * An AttentionBlock: its qkv (a kernel-1 Conv1d, [3C, C, 1]) holds, for each head h of d = C/H
 * channels, the rows [q_h; k_h; v_h] one after the other (the model reshapes it to
 * [B·H, 3d, T] and splits), here three [C, C] layers with head h at channels [h·d, (h+1)·d).
 */
function _attention(sd: _StateDict, w: Weights, ours: string, name: string, c: number, H: number) {
  const qkv = sd.take(`${name}.qkv.weight`, "conv1d", [3 * c, c, 1]); // ours [C, 3C]
  const bias = sd.take(`${name}.qkv.bias`, "vector", [3 * c]);
  const d = c / H;
  for (const [which, offset] of [["q", 0], ["k", 1], ["v", 2]] as const) {
    const m = new Float32Array(c * c), b = new Float32Array(c);
    for (let h = 0; h < H; h++) {
      for (let j = 0; j < d; j++) {
        const src = h * 3 * d + offset * d + j, dst = h * d + j; // output channel
        for (let i = 0; i < c; i++) m[i * c + dst] = qkv.data[i * 3 * c + src];
        b[dst] = bias.data[src];
      }
    }
    w.set(`${ours}.${which}.w`, { shape: [c, c], data: m });
    w.set(`${ours}.${which}.b`, { shape: [c], data: b });
  }
  w.set(`${ours}.norm.gamma`, sd.take(`${name}.norm.weight`, "vector", [c]));
  w.set(`${ours}.norm.beta`, sd.take(`${name}.norm.bias`, "vector", [c]));
  w.set(`${ours}.proj.w`, sd.take(`${name}.proj_out.weight`, "conv1d", [c, c, 1]));
  w.set(`${ours}.proj.b`, sd.take(`${name}.proj_out.bias`, "vector", [c]));
}
