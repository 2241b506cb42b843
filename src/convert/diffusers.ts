/**
 * diffusers' `UNet2DModel` ↔ @ddpm/core: a diffusers folder (`config.json` and
 * `diffusion_pytorch_model.safetensors`) loaded as a checkpoint, and a checkpoint written as one.
 *
 * @module
 */
import type { StoredTensor } from "../io/safetensors.ts";
import type { Checkpoint, Weights } from "../io/checkpoint.ts";
import type { ScheduleKind } from "../schedule.ts";
import type { UNetConfig } from "../unet/unet.ts";
import { HO_TIMESTEP_EMBEDDING } from "../unet/timestep_embedding.ts";
import { _permute, _StateDict, type _TorchKind, _torchShape } from "./_torch_tensors.ts";
import { unetLayout } from "../unet/layout.ts";
import { _isObject } from "../_json.ts";

/** A diffusers model folder's two files, decoded: `config.json` and the state_dict. */
export interface DiffusersModel {
  /** The parsed `config.json` of a UNet2DModel. */
  config: Record<string, unknown>;
  /** The tensors of `diffusion_pytorch_model.safetensors`. */
  tensors: Map<string, StoredTensor>;
  /** The safetensors file's metadata (diffusers writes `{ format: "pt" }`). */
  metadata?: Record<string, string>;
}

/** Options of {@linkcode fromDiffusers}. */
export interface FromDiffusersOptions {
  /**
   * The noise schedule the model was trained with (default linear; T from the config's
   * `num_train_timesteps`, else 1000). A diffusers model folder does not record the schedule:
   * a pipeline's `scheduler/scheduler_config.json` does.
   */
  schedule?: { kind: ScheduleKind; T: number };
}

/** The metadata key that marks the last class row as the "no class" row of guidance. */
const _NULL_ROW_KEY = "ddpm_core_null_class";

/**
 * Loads a diffusers `UNet2DModel` (blocks DownBlock2D, AttnDownBlock2D, UpBlock2D,
 * AttnUpBlock2D, UNetMidBlock2D; attention under the current names `to_q/to_k/to_v/to_out.0` or
 * the legacy `query/key/value/proj_attn`) as a checkpoint whose `ema` weights compute the same ε.
 * Every config field the model depends on is honoured or refused with its name; every tensor is
 * used or named in the error.
 *
 * @param model The folder's config and tensors (e.g. from `loadDiffusersFolder` in `fs.ts`).
 * @param options `{ schedule? }`.
 * @returns A checkpoint: `config.unet` reproducing the model, `ema` its weights.
 * @throws {RangeError} On an unsupported class or block type or setting, a missing or unknown
 *   tensor, or a shape that does not fit.
 *
 * @example A network through diffusers' layout and back
 * ```ts
 * import assert from "node:assert/strict";
 * import { createUNet, fromDiffusers, getWeights, initBackend, toDiffusers } from "@ddpm/core";
 * await initBackend("cpu");
 * const unet = { imageSize: 8, inChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1,
 *   attnResolutions: [4], dropout: 0, groups: 4 };
 * const net = createUNet(unet);
 * const ckpt = { config: { unet, schedule: { kind: "linear" as const, T: 1000 } },
 *   ema: await getWeights(net.params) };
 * const exported = toDiffusers(ckpt);
 * assert.ok(exported.tensors.has("down_blocks.1.attentions.0.to_q.weight"));
 * const back = fromDiffusers(exported);
 * assert.deepEqual(back.config.unet, unet);
 * assert.deepEqual(back.ema.get("conv_in.w"), ckpt.ema.get("conv_in.w"));
 * net.dispose();
 * ```
 */
export function fromDiffusers(
  model: DiffusersModel,
  options: FromDiffusersOptions = {},
): Checkpoint {
  const what = "Cannot convert diffusers model";
  const { unet, legacy } = _readConfig(model, what);
  const sd = new _StateDict(model.tensors, what);
  const w: Weights = new Map();
  for (const [ours, theirs, kind] of _pairs(unet, legacy(sd))) {
    if (ours === "label_emb.w") continue;
    w.set(ours, sd.take(theirs, kind, _torchShape(kind, _ourShape(unet, ours))));
  }
  if (unet.numClasses) {
    const t = sd.take("class_embedding.weight", "table");
    const nullRow = model.metadata?.[_NULL_ROW_KEY] === "last";
    const K = unet.numClasses, width = 4 * unet.ch;
    if (t.shape[0] !== K + (nullRow ? 1 : 0) || t.shape[1] !== width) {
      throw new RangeError(
        `${what}: tensor class_embedding.weight has shape [${t.shape}], expected [${
          K + (nullRow ? 1 : 0)
        }, ${width}]`,
      );
    }
    const rows = new Float32Array((K + 1) * width);
    rows.set(t.data); // without a null row of its own: "no class" is a zero row
    w.set("label_emb.w", { shape: [K + 1, width], data: rows });
  }
  sd.checkAllTaken();
  const T = typeof model.config.num_train_timesteps === "number"
    ? model.config.num_train_timesteps
    : 1000;
  return { config: { unet, schedule: options.schedule ?? { kind: "linear", T } }, ema: w };
}

/**
 * Writes a checkpoint's network as a diffusers `UNet2DModel`: the `config.json` fields and the
 * state_dict under diffusers' names (current attention names), which
 * `UNet2DModel.from_pretrained(folder)` loads. A class-conditional model keeps its "no class"
 * row as the last class (diffusers then has K + 1 classes; class K is the unconditional branch),
 * marked in the metadata so that loading it back gives the same checkpoint.
 *
 * @param ckpt The checkpoint (its `ema` weights are written).
 * @param options `{ weights: false }` writes the config alone (no tensors needed).
 * @returns The config object and the tensors with their metadata.
 * @throws {RangeError} If the network has no diffusers equivalent (a head count that gives
 *   different head widths across blocks), or a weight is missing.
 *
 * @example The paper's CIFAR-10 network as a diffusers config
 * ```ts
 * import assert from "node:assert/strict";
 * import { toDiffusers, unetPresets } from "@ddpm/core";
 * const { config } = toDiffusers({
 *   config: { unet: unetPresets.cifar10, schedule: { kind: "linear", T: 1000 } },
 *   ema: new Map(),
 * }, { weights: false });
 * assert.deepEqual(config.block_out_channels, [128, 256, 256, 256]);
 * assert.deepEqual(config.down_block_types,
 *   ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"]);
 * assert.equal(config.attention_head_dim, null); // one head
 * ```
 */
export function toDiffusers(
  ckpt: Checkpoint,
  options: { weights?: boolean } = {},
): DiffusersModel & { metadata: Record<string, string> } {
  const what = "Cannot export to diffusers";
  const u = ckpt.config.unet;
  const L = u.chMult.length;
  const attnAt = (i: number) => u.attnResolutions.includes(u.imageSize / 2 ** i);
  const widths = [...new Set(u.chMult.filter((_, i) => attnAt(i)).map((m) => m * u.ch))];
  widths.push(u.ch * u.chMult[L - 1]);
  let headDim: number | null = null;
  if (u.headDim !== undefined) headDim = u.headDim;
  else if ((u.numHeads ?? 1) !== 1) {
    const dims = new Set(widths.map((c) => c / u.numHeads!));
    if (dims.size !== 1) {
      throw new RangeError(
        `${what}: numHeads ${u.numHeads} gives heads of ${
          [...dims].join(", ")
        } channels in different blocks; diffusers has one attention_head_dim`,
      );
    }
    headDim = [...dims][0];
  }
  const te = u.timestepEmbedding ?? HO_TIMESTEP_EMBEDDING;
  const K = u.numClasses ?? 0;
  const config: Record<string, unknown> = {
    _class_name: "UNet2DModel",
    sample_size: u.imageSize,
    in_channels: u.inChannels,
    out_channels: u.outChannels ?? u.inChannels * (u.learnSigma ? 2 : 1),
    center_input_sample: false,
    time_embedding_type: "positional",
    flip_sin_to_cos: te.flipSinToCos,
    freq_shift: te.freqShift,
    down_block_types: u.chMult.map((_, i) => attnAt(i) ? "AttnDownBlock2D" : "DownBlock2D"),
    mid_block_type: "UNetMidBlock2D",
    up_block_types: u.chMult.map((_, i) => attnAt(L - 1 - i) ? "AttnUpBlock2D" : "UpBlock2D"),
    block_out_channels: u.chMult.map((m) => m * u.ch),
    layers_per_block: u.numResBlocks,
    mid_block_scale_factor: 1,
    downsample_padding: u.downsamplePadding === "same" ? 0 : 1,
    downsample_type: "conv",
    upsample_type: "conv",
    dropout: u.dropout,
    act_fn: "silu",
    attention_head_dim: headDim,
    norm_num_groups: u.groups,
    attn_norm_num_groups: u.scaleShiftNorm ? u.groups : null,
    norm_eps: u.groupNormEps ?? 1e-5,
    resnet_time_scale_shift: u.scaleShiftNorm ? "scale_shift" : "default",
    add_attention: true,
    class_embed_type: null,
    num_class_embeds: K > 0 ? K + 1 : null,
    num_train_timesteps: ckpt.config.schedule.T,
  };
  const metadata: Record<string, string> = { format: "pt" };
  if (K > 0) metadata[_NULL_ROW_KEY] = "last";
  const tensors = new Map<string, StoredTensor>();
  if (options.weights !== false) {
    const take = (name: string) => {
      const t = ckpt.ema.get(name);
      if (!t) throw new RangeError(`${what}: weight ${name} is missing`);
      return t;
    };
    for (const [ours, theirs, kind] of _pairs(u, false)) {
      const t = take(ours);
      tensors.set(theirs, {
        dtype: "F32",
        shape: _torchShape(kind, t.shape),
        data: _permute(kind, t.data, t.shape, "toTorch"),
      });
    }
  }
  return { config, tensors, metadata };
}

/** Pairs of (our name, diffusers' name, layout) for every parameter of the network. */
function _pairs(u: UNetConfig, legacy: boolean): [string, string, _TorchKind][] {
  const out: [string, string, _TorchKind][] = [];
  const L = u.chMult.length;
  const layer = (ours: string, theirs: string, kind: _TorchKind) => {
    out.push([`${ours}.w`, `${theirs}.weight`, kind], [`${ours}.b`, `${theirs}.bias`, "vector"]);
  };
  const norm = (ours: string, theirs: string) => {
    out.push([`${ours}.gamma`, `${theirs}.weight`, "vector"], [
      `${ours}.beta`,
      `${theirs}.bias`,
      "vector",
    ]);
  };
  layer("conv_in", "conv_in", "conv3");
  layer("temb.dense0", "time_embedding.linear_1", "linear");
  layer("temb.dense1", "time_embedding.linear_2", "linear");
  if (u.numClasses) out.push(["label_emb.w", "class_embedding.weight", "table"]);
  for (const part of unetLayout(u)) {
    const { path, level, index } = part.place;
    const block = path === "down"
      ? `down_blocks.${level}`
      : path === "up"
      ? `up_blocks.${L - 1 - level}`
      : "mid_block";
    if (part.kind === "res") {
      const r = `${block}.resnets.${index}`;
      norm(`${part.ours}.norm1`, `${r}.norm1`);
      layer(`${part.ours}.conv1`, `${r}.conv1`, "conv3");
      layer(`${part.ours}.temb`, `${r}.time_emb_proj`, "linear");
      norm(`${part.ours}.norm2`, `${r}.norm2`);
      layer(`${part.ours}.conv2`, `${r}.conv2`, "conv3");
      if (part.ci !== part.co) layer(`${part.ours}.skip`, `${r}.conv_shortcut`, "conv1");
    } else if (part.kind === "attn") {
      const a = `${block}.attentions.${index}`;
      norm(`${part.ours}.norm`, `${a}.group_norm`);
      const [q, k, v, o] = legacy
        ? ["query", "key", "value", "proj_attn"]
        : ["to_q", "to_k", "to_v", "to_out.0"];
      layer(`${part.ours}.q`, `${a}.${q}`, "linear");
      layer(`${part.ours}.k`, `${a}.${k}`, "linear");
      layer(`${part.ours}.v`, `${a}.${v}`, "linear");
      layer(`${part.ours}.proj`, `${a}.${o}`, "linear");
    } else {
      const s = part.kind === "downsample" ? "downsamplers" : "upsamplers";
      layer(part.ours, `${block}.${s}.0.conv`, "conv3");
    }
  }
  norm("norm_out", "conv_norm_out");
  layer("conv_out", "conv_out", "conv3");
  return out;
}

/** The shape here of one of our parameters, from the configuration (for the shape checks). */
function _ourShape(u: UNetConfig, name: string): number[] {
  const tembCh = 4 * u.ch;
  if (name === "conv_in.w") return [3, 3, u.inChannels, u.ch];
  if (name === "conv_out.w") {
    return [3, 3, u.ch, u.outChannels ?? u.inChannels * (u.learnSigma ? 2 : 1)];
  }
  if (name === "temb.dense0.w") return [u.ch, tembCh];
  if (name === "temb.dense1.w") return [tembCh, tembCh];
  if (name === "conv_out.b") return [u.outChannels ?? u.inChannels * (u.learnSigma ? 2 : 1)];
  if (name.startsWith("temb.")) return [tembCh];
  if (name.startsWith("norm_out.") || name === "conv_in.b") return [u.ch];
  const part = unetLayout(u).find((p) => name.startsWith(`${p.ours}.`))!;
  const leaf = name.slice(part.ours.length + 1);
  if (part.kind === "res") {
    const { ci, co } = part;
    const shapes: Record<string, number[]> = {
      "norm1.gamma": [ci],
      "norm1.beta": [ci],
      "conv1.w": [3, 3, ci, co],
      "conv1.b": [co],
      "temb.w": [tembCh, u.scaleShiftNorm ? 2 * co : co],
      "temb.b": [u.scaleShiftNorm ? 2 * co : co],
      "norm2.gamma": [co],
      "norm2.beta": [co],
      "conv2.w": [3, 3, co, co],
      "conv2.b": [co],
      "skip.w": [ci, co],
      "skip.b": [co],
    };
    return shapes[leaf];
  }
  const c = part.c;
  if (part.kind === "attn") return leaf.endsWith(".w") ? [c, c] : [c];
  return leaf === "w" ? [3, 3, c, c] : [c];
}

/** The UNetConfig a diffusers config describes, or a clear error for what it cannot express. */
function _readConfig(
  model: DiffusersModel,
  what: string,
): { unet: UNetConfig; legacy: (sd: _StateDict) => boolean } {
  const c = model.config;
  if (!_isObject(c)) throw new RangeError(`${what}: config must be an object, got ${c}`);
  const cls = c._class_name ?? "UNet2DModel";
  if (cls !== "UNet2DModel") {
    throw new RangeError(
      `${what}: _class_name ${JSON.stringify(cls)} is not supported (only UNet2DModel)`,
    );
  }
  const get = <T>(key: string, fallback: T): T => (c[key] === undefined ? fallback : c[key] as T);
  const must = (key: string, ok: boolean, want: string) => {
    if (!ok) {
      throw new RangeError(`${what}: ${key} ${JSON.stringify(c[key])} is not supported (${want})`);
    }
  };
  must(
    "time_embedding_type",
    get("time_embedding_type", "positional") === "positional",
    'only "positional"',
  );
  must("center_input_sample", get("center_input_sample", false) === false, "only false");
  must("act_fn", get("act_fn", "silu") === "silu", 'only "silu"');
  must(
    "mid_block_type",
    get("mid_block_type", "UNetMidBlock2D") === "UNetMidBlock2D",
    'only "UNetMidBlock2D"',
  );
  must("mid_block_scale_factor", get("mid_block_scale_factor", 1) === 1, "only 1");
  must("downsample_type", get("downsample_type", "conv") === "conv", 'only "conv"');
  must("upsample_type", get("upsample_type", "conv") === "conv", 'only "conv"');
  must("add_attention", get("add_attention", true) === true, "only true");
  must(
    "class_embed_type",
    get("class_embed_type", null) === null,
    "only null: an nn.Embedding of num_class_embeds",
  );
  const shift = get<unknown>("resnet_time_scale_shift", "default");
  must(
    "resnet_time_scale_shift",
    shift === "default" || shift === "scale_shift",
    '"default" or "scale_shift"',
  );
  const groups = get<unknown>("norm_num_groups", 32) as number;
  const attnGroups = get("attn_norm_num_groups", null);
  must(
    "attn_norm_num_groups",
    attnGroups === groups || (attnGroups === null && shift === "default"),
    `the norm_num_groups of the residual blocks${
      shift === "scale_shift"
        ? "; with scale_shift, set it: otherwise the middle attention has no GroupNorm"
        : ""
    }`,
  );
  const channels = c.block_out_channels;
  must(
    "block_out_channels",
    Array.isArray(channels) && channels.length > 0 &&
      channels.every((v) => Number.isInteger(v) && v > 0),
    "a list of positive integers",
  );
  const ch = (channels as number[])[0];
  must(
    "block_out_channels",
    (channels as number[]).every((v) => v % ch === 0),
    `each a multiple of the first, ${ch}`,
  );
  must(
    "time_embedding_dim",
    get("time_embedding_dim", null) === null || c.time_embedding_dim === 4 * ch,
    `only 4 × ${ch}`,
  );
  const L = (channels as number[]).length;
  const down = c.down_block_types, up = c.up_block_types;
  must(
    "down_block_types",
    Array.isArray(down) && down.length === L &&
      down.every((t) => t === "DownBlock2D" || t === "AttnDownBlock2D"),
    `${L} of DownBlock2D, AttnDownBlock2D`,
  );
  must(
    "up_block_types",
    Array.isArray(up) && up.length === L &&
      up.every((t) => t === "UpBlock2D" || t === "AttnUpBlock2D"),
    `${L} of UpBlock2D, AttnUpBlock2D`,
  );
  const attn = (down as string[]).map((t) => t === "AttnDownBlock2D");
  must(
    "up_block_types",
    (up as string[]).every((t, k) => (t === "AttnUpBlock2D") === attn[L - 1 - k]),
    "attention at the same levels as down_block_types",
  );
  const size = Array.isArray(c.sample_size) ? c.sample_size : [c.sample_size, c.sample_size];
  must("sample_size", Number.isInteger(size[0]) && size[0] === size[1], "a square size");
  const pad = get<unknown>("downsample_padding", 1);
  must("downsample_padding", pad === 0 || pad === 1, "0 (TensorFlow's SAME) or 1");
  const headDim = get<number | null>("attention_head_dim", 8);
  const numClasses = get<number | null>("num_class_embeds", null);
  const unet: UNetConfig = {
    imageSize: size[0] as number,
    inChannels: get("in_channels", 3),
    ch,
    chMult: (channels as number[]).map((v) => v / ch),
    numResBlocks: get("layers_per_block", 2),
    attnResolutions: attn.flatMap((a, i) => (a ? [(size[0] as number) / 2 ** i] : [])),
    dropout: get("dropout", 0),
    groups,
  };
  const outChannels = get("out_channels", 3);
  if (outChannels !== unet.inChannels) unet.outChannels = outChannels;
  if (outChannels === 2 * unet.inChannels) unet.learnSigma = true; // a learned variance
  const flip = get("flip_sin_to_cos", true), freqShift = get("freq_shift", 0);
  if (
    flip !== HO_TIMESTEP_EMBEDDING.flipSinToCos || freqShift !== HO_TIMESTEP_EMBEDDING.freqShift
  ) {
    unet.timestepEmbedding = { flipSinToCos: flip as boolean, freqShift: freqShift as number };
  }
  const eps = get("norm_eps", 1e-5);
  if (eps !== 1e-5) unet.groupNormEps = eps as number;
  if (pad === 0) unet.downsamplePadding = "same";
  if (headDim !== null) unet.headDim = headDim;
  if (shift === "scale_shift") unet.scaleShiftNorm = true;
  // the K + 1 rows of a model exported from here: the last is "no class"
  if (numClasses) {
    unet.numClasses = model.metadata?.[_NULL_ROW_KEY] === "last" ? numClasses - 1 : numClasses;
  }
  const legacy = (sd: _StateDict) =>
    [...sd.tensors.keys()].some((n) => n.endsWith(".query.weight"));
  return { unet, legacy };
}
