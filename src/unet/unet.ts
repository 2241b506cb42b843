import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Tensor, Tensor1D, Variable } from "../types.ts";
import { _initValues } from "../_nn/init.ts";
import { _conv3x3 } from "../_nn/conv2d.ts";
import { _batchMatMul } from "../_nn/matmul.ts";
import { _dense, _dropout, _groupNorm, _groupNormSilu, _silu, _upsample2x } from "../_nn/layers.ts";
import { _checkRows } from "../_checks.ts";
import {
  HO_TIMESTEP_EMBEDDING,
  timestepEmbedding,
  type TimestepEmbeddingVariant,
} from "./timestep_embedding.ts";
import { _fusedTimestepMlp } from "../_fusion.ts";
import { _matMul } from "../_nn/matmul.ts";
import { NULL_CLASS } from "../guidance.ts";
import { _randomNormal } from "../_random.ts";
import { _readSync } from "../_timesteps.ts";
import { unetLayout } from "./layout.ts";
import { _LABEL_EMBEDDING } from "../_streams.ts";
import { _sinusoidFrequencies } from "./_sinusoid.ts";

/** The shape of a U-Net (Ho et al. 2020; the layout of improved-diffusion). */
export interface UNetConfig {
  /** Height and width of the (square) images; divisible by 2^(chMult.length - 1). */
  imageSize: number;
  /** Channels of the images (1 grayscale, 3 RGB). */
  inChannels: number;
  /**
   * Channels of the output (default inChannels: ε has the image's shape; 2 · inChannels with
   * `learnSigma`).
   */
  outChannels?: number;
  /**
   * Improved DDPM's learned variance: the output has twice the image's channels, the prediction
   * then v (sample with `variance: "learnedRange"`). Default false.
   */
  learnSigma?: boolean;
  /** Base width `ch`; level i has ch · chMult[i] channels, the time embedding 4 · ch. */
  ch: number;
  /** Channel multiplier of each resolution level; one downsampling between levels. */
  chMult: number[];
  /** Residual blocks per level on the way down (num_res_blocks + 1 on the way up). */
  numResBlocks: number;
  /** Resolutions (e.g. 16 for 16×16) whose blocks are followed by self-attention. */
  attnResolutions: number[];
  /** Dropout rate inside the residual blocks while training (0 ≤ rate < 1). */
  dropout: number;
  /** Groups of every GroupNorm; each normalized channel count must be divisible by it. */
  groups: number;
  /**
   * Classes of a class-conditional model (absent or 0: unconditional). A learned embedding of
   * numClasses + 1 rows (the last for "no class", `NULL_CLASS`) of width 4·ch is added to the
   * timestep embedding, as improved-diffusion's `label_emb`. The class rows start N(0, 0.5²) (the
   * scale of a trained time embedding; zero rows were measured not to learn — Adam moves them
   * by about lr·√steps), the null row at zero, so that without labels a new conditional network
   * computes what the unconditional one with the same weights does.
   */
  numClasses?: number;
  /**
   * The sinusoidal timestep embedding (default Ho et al.'s: sines first, frequencies over
   * half − 1). diffusers' `flip_sin_to_cos` and `freq_shift`; improved-diffusion's is
   * `{ flipSinToCos: true, freqShift: 0 }`.
   */
  timestepEmbedding?: TimestepEmbeddingVariant;
  /** ε of every GroupNorm (default 1e-5; the paper's model and diffusers' port of it: 1e-6). */
  groupNormEps?: number;
  /**
   * Padding of the stride-2 downsampling convolutions: "symmetric" (default; one pixel on each
   * side, improved-diffusion's `padding=1`) or "same" (TensorFlow's SAME at stride 2: one pixel
   * at the bottom and right only; the paper's model, diffusers' `downsample_padding = 0`).
   */
  downsamplePadding?: "symmetric" | "same";
  /**
   * Attention heads (default 1): the channels are split into numHeads contiguous heads of
   * C / numHeads (improved-diffusion's `num_heads`). Give at most one of numHeads and headDim.
   */
  numHeads?: number;
  /**
   * Channels per attention head instead of a head count: C / headDim heads at a width of C
   * (diffusers' `attention_head_dim`).
   */
  headDim?: number;
  /**
   * Scale-shift norm (improved-diffusion's `use_scale_shift_norm`, diffusers'
   * `resnet_time_scale_shift: "scale_shift"`): each residual block projects the embedding to
   * 2·C_out, [scale, shift], and computes GroupNorm(h)·(1 + scale) + shift instead of adding the
   * projection before the norm.
   */
  scaleShiftNorm?: boolean;
}

/** A {@linkcode UNetConfig} with its defaults filled in. */
export type ResolvedUNetConfig = UNetConfig & { outChannels: number };

/**
 * A U-Net ε-model: call it as `(xt, t) => eps`, or `(xt, t, y) => eps` with int32 class labels
 * y [B] when `numClasses` is set (no dropout), or use `withDropout(seed)` while training. Its
 * parameters are tfjs variables, named like `down.1.res.0.conv1.w`.
 */
export interface UNet extends EpsModel {
  /** The configuration it was built from (outChannels filled in). */
  readonly config: ResolvedUNetConfig;
  /** The number of scalar parameters. */
  readonly numParams: number;
  /** The parameters by name, in a fixed order. */
  readonly params: ReadonlyMap<string, Variable>;
  /**
   * The same network with dropout on, its masks drawn from `seed` (one per step). With `rows`,
   * the input is rows [start, start + B) of a batch of `of`, and the masks are those rows of
   * the whole batch's (data-parallel training: shards see the unsplit batch's masks).
   */
  withDropout(seed: number, rows?: { start: number; of: number }): EpsModel;
  /** Frees the parameters. */
  dispose(): void;
}

/** Options of {@linkcode createUNet}. */
export interface CreateUNetOptions {
  /** Seed of the initial weights (default 0): the same seed gives the same weights. */
  seed?: number;
  /**
   * The schedule's T: timesteps must then lie in [0, T - 1] (default: any integer >= 0; the
   * network itself accepts any, as a sinusoid of t).
   */
  T?: number;
}

type P = Map<string, Variable>;
// embAct = SiLU(emb) [B, 4ch], what the residual blocks project (computed once per forward)
/** Dropout's seed and rows while training; undefined: no dropout. */
type Drop = { seed: string; rows?: { start: number; of: number } } | undefined;
type Block = (h: tf.Tensor, embAct: tf.Tensor, drop: Drop) => tf.Tensor;
type ResAttn = { res: Block; attn?: Block };

/**
 * Builds the U-Net of Ho et al. 2020: a sinusoidal timestep embedding (dim ch) → Dense 4·ch →
 * SiLU → Dense 4·ch; residual blocks (GroupNorm, SiLU, conv 3×3, + Dense(SiLU(emb)),
 * GroupNorm, SiLU, dropout, conv 3×3; 1×1 skip when the channels change); single-head
 * self-attention at `attnResolutions` and in the middle; strided-conv downsampling, nearest ×2
 * + conv upsampling; every down-path output concatenated into one up block (the skip layout
 * of improved-diffusion); output GroupNorm, SiLU, conv 3×3. Weights are initialised as in
 * the paper's code (uniform variance scaling, fan_avg), with the last conv of each residual
 * block, the attention projection and the output conv at zero.
 *
 * @param config The shape of the network, e.g. {@linkcode unetPresets}`.mnist`.
 * @param options `{ seed }` of the initial weights.
 * @returns The U-Net, callable as an ε-model on [B, imageSize, imageSize, inChannels].
 * @throws {RangeError} If the configuration is inconsistent (the message says which field).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createUNet, initBackend } from "@ddpm/core";
 * await initBackend("cpu");
 * const unet = createUNet({
 *   imageSize: 8, inChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1,
 *   attnResolutions: [4], dropout: 0, groups: 4,
 * });
 * const eps = unet(tf.zeros([2, 8, 8, 1]), tf.tensor1d([0, 5], "int32"));
 * assert.deepEqual([eps.shape, unet.numParams], [[2, 8, 8, 1], 44969]);
 * unet.dispose();
 * ```
 */
export function createUNet(config: UNetConfig, options: CreateUNetOptions = {}): UNet {
  const cfg = _checkConfig(config);
  const seed = options.seed ?? 0;
  const params: P = new Map();
  let stream = 0;
  // `own`: a stream outside the counter, so that an optional parameter leaves the others' as
  // they are (a conditional network shares every other initial weight with the unconditional one)
  const add = (name: string, shape: number[], init: "fanAvg" | "zero" | "one", own?: number) => {
    const init0 = tf.tensor(_initValues(shape, init, seed, own ?? stream++), shape, "float32");
    const v = tf.variable(init0, true); // a copy: the initial tensor can go
    init0.dispose();
    params.set(name, v);
    return v;
  };
  const norm = (name: string, c: number) => {
    const [g, b] = [add(`${name}.gamma`, [c], "one"), add(`${name}.beta`, [c], "zero")];
    // with silu: SiLU(GroupNorm(h)), one fused WGSL program on webgpu outside tf.grad
    return (h: tf.Tensor, silu = false) =>
      silu ? _groupNormSilu(h, g, b, cfg.groups, eps) : _groupNorm(h, g, b, cfg.groups, eps);
  };
  const conv = (name: string, ci: number, co: number, init: "fanAvg" | "zero" = "fanAvg") => {
    const [w, b] = [add(`${name}.w`, [3, 3, ci, co], init), add(`${name}.b`, [co], "zero")];
    return (h: tf.Tensor, stride: 1 | 2 = 1) =>
      _conv3x3(h, w, b, stride, stride === 2 ? cfg.downsamplePadding : "symmetric");
  };
  const dense = (name: string, ci: number, co: number, init: "fanAvg" | "zero" = "fanAvg") => {
    const [w, b] = [add(`${name}.w`, [ci, co], init), add(`${name}.b`, [co], "zero")];
    return (h: tf.Tensor) => _dense(h, w, b);
  };
  const tembCh = 4 * cfg.ch;
  const eps = cfg.groupNormEps ?? 1e-5;
  let dropCounter = 0;

  const resBlock = (name: string, ci: number, co: number): Block => {
    const norm1 = norm(`${name}.norm1`, ci), conv1 = conv(`${name}.conv1`, ci, co);
    const tproj = dense(`${name}.temb`, tembCh, cfg.scaleShiftNorm ? 2 * co : co);
    const norm2 = norm(`${name}.norm2`, co), conv2 = conv(`${name}.conv2`, co, co, "zero");
    const skip = ci !== co ? dense(`${name}.skip`, ci, co) : (x: tf.Tensor) => x;
    const id = dropCounter++;
    return (x, embAct, drop) => {
      let h = conv1(norm1(x, true)); // [B, H, W, Co]
      const e = tproj(embAct); // [B, Co] or [B, 2Co]
      if (cfg.scaleShiftNorm) {
        // SiLU(GroupNorm(h) · (1 + scale) + shift), [scale, shift] = e
        const [scale, shift] = tf.split(tf.reshape(e, [e.shape[0], 1, 1, 2 * co]), 2, 3);
        h = _silu(tf.add(tf.mul(norm2(h), tf.add(scale, 1)), shift));
      } else {
        h = tf.add(h, tf.reshape(e, [e.shape[0], 1, 1, co]));
        h = norm2(h, true);
      }
      if (drop !== undefined && cfg.dropout > 0) {
        h = _dropout(h, cfg.dropout, `${drop.seed}:${id}`, drop.rows);
      }
      return tf.add(skip(x), conv2(h));
    };
  };
  const attnBlock = (name: string, c: number): Block => {
    const n = norm(`${name}.norm`, c);
    const q = dense(`${name}.q`, c, c), k = dense(`${name}.k`, c, c), v = dense(`${name}.v`, c, c);
    const proj = dense(`${name}.proj`, c, c, "zero");
    const heads = _attentionHeads(cfg, c), d = c / heads;
    return (x) => {
      const [B, H, W] = x.shape;
      const h = n(x);
      // [B, H, W, C] → [B·heads, HW, d]: head j holds channels [j·d, (j + 1)·d)
      const split = (y: tf.Tensor) =>
        (heads === 1 ? tf.reshape(y, [B, H * W, c]) : tf.reshape(
          tf.transpose(tf.reshape(y, [B, H * W, heads, d]), [0, 2, 1, 3]),
          [B * heads, H * W, d],
        )) as tf.Tensor3D;
      // softmax(q kᵀ / √d) over the keys: [B·heads, HW, HW]
      const w = tf.softmax(
        tf.mul(_batchMatMul(split(q(h)), split(k(h)), false, true), 1 / Math.sqrt(d)),
      );
      const o = _batchMatMul(w as tf.Tensor3D, split(v(h))); // [B·heads, HW, d]
      const merged = heads === 1 ? o : tf.transpose(
        tf.reshape(o, [B, heads, H * W, d]),
        [0, 2, 1, 3],
      );
      return tf.add(x, proj(tf.reshape(merged, [B, H, W, c])));
    };
  };

  // time embedding: sinusoidal(ch) → Dense 4ch → SiLU → Dense 4ch
  const temb0 = dense("temb.dense0", cfg.ch, tembCh), temb1 = dense("temb.dense1", tembCh, tembCh);
  const K = cfg.numClasses ?? 0;
  // class embedding: row y of [K + 1, 4ch], row K for "no class"
  const labelEmb = K > 0 ? _labelEmbedding(K, tembCh, seed, add) : undefined;
  const variant = cfg.timestepEmbedding ?? HO_TIMESTEP_EMBEDDING;
  const freqs = _sinusoidFrequencies(cfg.ch, variant.freqShift);
  // SiLU(emb) with emb = Dense₁(SiLU(Dense₀(sinusoidal(t)))) [+ label_emb[y]]: [B, 4ch]; the
  // fused kernel where there is one (webgpu, outside tf.grad) for unconditional networks
  const embedding = (t: Tensor1D, y: tf.Tensor | undefined): tf.Tensor => {
    if (labelEmb) {
      const temb = temb1(_silu(temb0(timestepEmbedding(t, cfg.ch, variant))));
      // one-hot rows times the table (a gather whose gradient every backend has)
      const rows = tf.cast(tf.oneHot(y!, K + 1), "float32") as tf.Tensor2D;
      return _silu(tf.add(temb, _matMul(rows, labelEmb as tf.Tensor2D)));
    }
    const weights = ["dense0.w", "dense0.b", "dense1.w", "dense1.b"]
      .map((n) => params.get(`temb.${n}`)!);
    return _fusedTimestepMlp(t, freqs, weights, variant.flipSinToCos) ??
      _silu(temb1(_silu(temb0(timestepEmbedding(t, cfg.ch, variant)))));
  };
  const convIn = conv("conv_in", cfg.inChannels, cfg.ch);

  // the blocks in order (src/unet/_layout.ts): down path (every output kept for the up
  // path), middle, up path (num_res_blocks + 1 blocks per level, each fed one concatenated skip)
  type Level = { level: number; blocks: ResAttn[]; resample?: ReturnType<typeof conv> };
  const down: Level[] = [], up: Level[] = [], mid: Block[] = [];
  let c = cfg.ch;
  for (const part of unetLayout(cfg)) {
    const { path, level } = part.place;
    const levels = path === "down" ? down : up;
    if (path !== "mid" && levels[levels.length - 1]?.level !== level) {
      levels.push({ level, blocks: [] });
    }
    const here = levels[levels.length - 1];
    if (part.kind === "res") {
      const r = resBlock(part.ours, part.ci, part.co);
      if (path === "mid") mid.push(r);
      else here.blocks.push({ res: r });
      c = part.co;
    } else if (part.kind === "attn") {
      const a = attnBlock(part.ours, part.c);
      if (path === "mid") mid.push(a);
      else here.blocks[here.blocks.length - 1].attn = a;
    } else {
      here.resample = conv(part.ours, part.c, part.c);
    }
  }
  const normOut = norm("norm_out", c), convOut = conv("conv_out", c, cfg.outChannels, "zero");

  const forward = (x: Tensor, t: Tensor1D, y: Int32Array | undefined, drop: Drop): Tensor =>
    tf.tidy(() => {
      // labels as embedding rows: NULL_CLASS (and no labels at all) → row K
      const yRows = labelEmb &&
        tf.tensor1d(
          y ? y.map((v) => (v === NULL_CLASS ? K : v)) : new Int32Array(x.shape[0]).fill(K),
          "int32",
        );
      const embAct = embedding(t, yRows); // SiLU(emb) [B, 4ch]
      let h = convIn(x); // [B, H, W, ch]
      const hs: tf.Tensor[] = [h];
      for (const level of down) {
        for (const { res: r, attn } of level.blocks) {
          h = r(h, embAct, drop);
          if (attn) h = attn(h, embAct, drop);
          hs.push(h);
        }
        if (level.resample) hs.push(h = level.resample(h, 2)); // [B, H/2, W/2, C]
      }
      for (const block of mid) h = block(h, embAct, drop);
      for (const level of up) {
        for (const { res: r, attn } of level.blocks) {
          h = r(tf.concat([h, hs.pop()!], 3), embAct, drop);
          if (attn) h = attn(h, embAct, drop);
        }
        if (level.resample) {
          h = level.resample(_upsample2x(h)); // [B, 2H, 2W, C]
        }
      }
      return convOut(normOut(h, true)); // [B, H, W, outChannels]
    });

  const numParams = [...params.values()].reduce((a, p) => a + p.size, 0);
  const T = options.T;
  if (T !== undefined && (!Number.isInteger(T) || T < 1)) {
    throw new RangeError(`Cannot create U-Net: T must be a positive integer, got ${T}`);
  }
  let disposed = false;
  const check = (xt: Tensor, t: Tensor1D) => {
    if (disposed) throw new Error("Cannot run U-Net: it was disposed");
    _checkInput(cfg, xt);
    _checkTimesteps(xt, t, T);
  };
  const unet = ((xt: Tensor, t: Tensor1D, y?: Tensor1D) => {
    check(xt, t);
    return forward(xt, t, _checkLabels(cfg, xt, y), undefined);
  }) as UNet;
  return Object.assign(unet, {
    config: cfg,
    numParams,
    params,
    withDropout: (dropSeed: number, rows?: { start: number; of: number }): EpsModel => {
      const checked = _checkRows("run U-Net", rows, 0);
      return (xt: Tensor, t: Tensor1D, y?: Tensor1D) => {
        check(xt, t);
        _checkRows("run U-Net", checked, xt.shape[0]);
        return forward(xt, t, _checkLabels(cfg, xt, y), { seed: String(dropSeed), rows: checked });
      };
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      params.forEach((p) => p.dispose());
    },
  });
}

function _checkConfig(config: UNetConfig): ResolvedUNetConfig {
  const what = "Cannot create U-Net";
  if (config === null || typeof config !== "object") {
    throw new TypeError(`${what}: config must be an object, got ${config}`);
  }
  const posInt = (name: keyof UNetConfig, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new RangeError(`${what}: ${name} must be a positive integer, got ${v}`);
    }
  };
  for (const k of ["imageSize", "inChannels", "ch", "numResBlocks", "groups"] as const) {
    posInt(k, config[k]);
  }
  const cfg: ResolvedUNetConfig = {
    ...config,
    outChannels: config.outChannels ?? config.inChannels * (config.learnSigma ? 2 : 1),
    chMult: [...config.chMult],
    attnResolutions: [...config.attnResolutions],
  };
  posInt("outChannels", cfg.outChannels);
  if (config.learnSigma && cfg.outChannels !== 2 * config.inChannels) {
    throw new RangeError(
      `${what}: learnSigma needs outChannels = 2 · inChannels = ${
        2 * config.inChannels
      }, got ${cfg.outChannels}`,
    );
  }
  if (config.numClasses !== undefined) {
    if (!Number.isInteger(config.numClasses) || config.numClasses < 0) {
      throw new RangeError(
        `${what}: numClasses must be an integer >= 0, got ${config.numClasses}`,
      );
    }
    if (config.numClasses === 0) delete cfg.numClasses; // unconditional, as if absent
  }
  if (!Array.isArray(config.chMult) || config.chMult.length === 0) {
    throw new RangeError(`${what}: chMult must be a non-empty array, got ${config.chMult}`);
  }
  cfg.chMult.forEach((m) => posInt("chMult", m));
  if (cfg.ch % 2 !== 0 || cfg.ch < 4) {
    throw new RangeError(`${what}: ch must be even and >= 4 (the time embedding), got ${cfg.ch}`);
  }
  const factor = 2 ** (cfg.chMult.length - 1);
  if (cfg.imageSize % factor !== 0) {
    throw new RangeError(
      `${what}: imageSize must be divisible by 2^(chMult.length - 1) = ${factor}, got ${cfg.imageSize}`,
    );
  }
  _checkArchitectureOptions(cfg);
  if (!(typeof cfg.dropout === "number" && cfg.dropout >= 0 && cfg.dropout < 1)) {
    throw new RangeError(`${what}: dropout must be in [0, 1), got ${cfg.dropout}`);
  }
  // every GroupNorm input: level widths, and the up path's concatenations
  const widths = new Set<number>([cfg.ch]);
  const skips = [cfg.ch];
  let c = cfg.ch;
  cfg.chMult.forEach((m, i) => {
    for (let j = 0; j < cfg.numResBlocks; j++) skips.push(c = cfg.ch * m);
    if (i < cfg.chMult.length - 1) skips.push(c);
    widths.add(c);
  });
  for (let i = cfg.chMult.length - 1; i >= 0; i--) {
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      widths.add(c + skips.pop()!);
      c = cfg.ch * cfg.chMult[i];
    }
  }
  for (const w of widths) {
    if (w % cfg.groups !== 0) {
      throw new RangeError(
        `${what}: groups must divide every normalized width (${
          [...widths].join(", ")
        }), got ${cfg.groups}`,
      );
    }
  }
  return cfg;
}

/**
 * The optional architecture fields (timestep embedding variant, GroupNorm ε, downsampling
 * padding, heads, scale-shift norm): each one well-formed, and heads dividing every attention
 * width.
 */
function _checkArchitectureOptions(cfg: ResolvedUNetConfig): void {
  const what = "Cannot create U-Net";
  const te = cfg.timestepEmbedding;
  if (te !== undefined) {
    if (
      te === null || typeof te !== "object" || typeof te.flipSinToCos !== "boolean" ||
      !(typeof te.freqShift === "number" && te.freqShift >= 0 && te.freqShift < cfg.ch / 2)
    ) {
      throw new RangeError(
        `${what}: timestepEmbedding must be { flipSinToCos: boolean, freqShift in [0, ${
          cfg.ch / 2
        }) }, got ${JSON.stringify(te)}`,
      );
    }
    cfg.timestepEmbedding = { flipSinToCos: te.flipSinToCos, freqShift: te.freqShift };
  }
  const eps = cfg.groupNormEps;
  if (eps !== undefined && !(typeof eps === "number" && eps > 0 && eps < 1)) {
    throw new RangeError(`${what}: groupNormEps must be in (0, 1), got ${eps}`);
  }
  const pad = cfg.downsamplePadding;
  if (pad !== undefined && pad !== "symmetric" && pad !== "same") {
    throw new RangeError(`${what}: downsamplePadding must be "symmetric" or "same", got ${pad}`);
  }
  if (cfg.scaleShiftNorm !== undefined && typeof cfg.scaleShiftNorm !== "boolean") {
    throw new RangeError(`${what}: scaleShiftNorm must be a boolean, got ${cfg.scaleShiftNorm}`);
  }
  if (cfg.numHeads !== undefined && cfg.headDim !== undefined) {
    throw new RangeError(
      `${what}: give numHeads or headDim, not both, got numHeads ${cfg.numHeads} and headDim ${cfg.headDim}`,
    );
  }
  for (const k of ["numHeads", "headDim"] as const) {
    const v = cfg[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
    }
  }
  // every attention width: the levels at attnResolutions and the middle
  const widths = new Set<number>([cfg.ch * cfg.chMult[cfg.chMult.length - 1]]);
  cfg.chMult.forEach((m, i) => {
    if (cfg.attnResolutions.includes(cfg.imageSize / 2 ** i)) widths.add(cfg.ch * m);
  });
  for (const c of widths) _attentionHeads(cfg, c);
}

/** Heads of an attention block of width c: numHeads, or c / headDim, or 1. */
function _attentionHeads(cfg: UNetConfig, c: number): number {
  const heads = cfg.headDim !== undefined ? c / cfg.headDim : cfg.numHeads ?? 1;
  if (!Number.isInteger(heads) || c % heads !== 0) {
    throw new RangeError(
      `Cannot create U-Net: ${
        cfg.headDim !== undefined ? `headDim ${cfg.headDim}` : `numHeads ${cfg.numHeads}`
      } must divide the attention width ${c}`,
    );
  }
  return heads;
}

/** The labels y as host values (checked), or undefined for an unconditional call. */
function _checkLabels(
  cfg: ResolvedUNetConfig,
  xt: Tensor,
  y: Tensor1D | undefined,
): Int32Array | undefined {
  const what = "Cannot run U-Net";
  if (y === undefined) return undefined;
  const K = cfg.numClasses ?? 0;
  if (K === 0) {
    throw new RangeError(
      `${what}: y (class labels) was given, but this U-Net is unconditional (numClasses 0)`,
    );
  }
  const B = xt.shape[0];
  if (!(y instanceof tf.Tensor) || y.rank !== 1 || y.shape[0] !== B || y.dtype !== "int32") {
    throw new RangeError(
      `${what}: y must be an int32 tensor [${B}], got ${
        y instanceof tf.Tensor ? `${y.dtype} [${y.shape}]` : typeof y
      }`,
    );
  }
  const values = Int32Array.from(_readSync("run U-Net", "y", y));
  values.forEach((v, i) => {
    if (v < NULL_CLASS || v >= K) {
      throw new RangeError(
        `${what}: y must hold classes in [0, ${K - 1}] or NULL_CLASS (-1), got y[${i}] = ${v}`,
      );
    }
  });
  return values;
}

/** t: [B] integers, finite, >= 0 (and < T when known); read on the host (small). */
function _checkTimesteps(xt: Tensor, t: Tensor1D, T: number | undefined): void {
  const what = "Cannot run U-Net";
  const B = xt.shape[0];
  if (!(t instanceof tf.Tensor) || t.rank !== 1 || t.shape[0] !== B) {
    throw new RangeError(
      `${what}: t must be a tensor [${B}] (one timestep per image), got ${
        t instanceof tf.Tensor ? `[${t.shape}]` : typeof t
      }`,
    );
  }
  const values = _readSync("run U-Net", "t", t);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || (T !== undefined && v >= T)) {
      throw new RangeError(
        `${what}: t must hold integers in [0, ${
          T === undefined ? "∞)" : `${T - 1}]`
        }, got t[${i}] = ${v}`,
      );
    }
  }
}

function _checkInput(cfg: ResolvedUNetConfig, xt: Tensor): void {
  const { imageSize: s, inChannels: c } = cfg;
  const shape = xt?.shape;
  if (!shape || shape.length !== 4 || shape[1] !== s || shape[2] !== s || shape[3] !== c) {
    throw new RangeError(
      `Cannot run U-Net: xt must be [B, ${s}, ${s}, ${c}], got ${shape ? `[${shape}]` : xt}`,
    );
  }
}

/**
 * The class embedding [K + 1, width]: class rows N(0, 0.5²) from their own stream (the other
 * parameters' initial values do not move), the null row (last) zero.
 */
function _labelEmbedding(
  K: number,
  width: number,
  seed: number,
  add: (name: string, shape: number[], init: "zero", own: number) => Variable,
): Variable {
  const v = add("label_emb.w", [K + 1, width], "zero", _LABEL_EMBEDDING);
  const draw = _randomNormal([K * width], seed, _LABEL_EMBEDDING);
  const values = draw.dataSync() as Float32Array;
  draw.dispose();
  const rows = new Float32Array((K + 1) * width);
  for (let i = 0; i < K * width; i++) rows[i] = 0.5 * values[i];
  tf.tidy(() => v.assign(tf.tensor2d(rows, [K + 1, width])));
  return v;
}
