import type { UNetConfig } from "./unet.ts";

/**
 * One block of the U-Net and where it sits: a residual block (`ci` → `co` channels), an attention
 * block, or a resampling block (`c` channels); `ours` is the prefix of its parameter names.
 */
export type UNetBlock =
  | { kind: "res"; ours: string; ci: number; co: number; place: UNetPlace }
  | { kind: "attn"; ours: string; c: number; place: UNetPlace }
  | { kind: "downsample" | "upsample"; ours: string; c: number; place: UNetPlace };

/**
 * Where a block sits in the U-Net: the path, the level (0 = full resolution; the middle has
 * none), and its index among the level's residual blocks (an attention block shares its residual
 * block's).
 */
export interface UNetPlace {
  /** The down path, the middle or the up path. */
  path: "down" | "mid" | "up";
  /** The resolution level: 0 is full resolution (the middle: the number of levels). */
  level: number;
  /** The index among the level's residual blocks. */
  index: number;
}

/**
 * The blocks of the U-Net of `cfg` — down path, middle, up path — in the order `createUNet` builds
 * them: the one description of the layout, which createUNet builds from and the checkpoint
 * converters pair with other projects' names. Parameter names are the block's `ours` prefix
 * followed by the layer's name (see `createUNet`).
 *
 * @param cfg The U-Net configuration.
 * @returns The blocks, in build order.
 *
 * @example The mnist preset: three levels of two residual blocks, and a middle of three blocks
 * ```ts
 * import { unetLayout, unetPresets } from "@ddpm/core";
 * import assert from "node:assert/strict";
 *
 * const blocks = unetLayout(unetPresets.mnist);
 * assert.equal(blocks[0].ours, "down.0.res.0");
 * const middle = blocks.filter((b) => b.place.path === "mid");
 * assert.deepEqual(middle.map((b) => b.kind), ["res", "attn", "res"]);
 * assert.equal(blocks.filter((b) => b.kind === "downsample").length, 2);
 * assert.equal(blocks.filter((b) => b.kind === "res").length, 6 + 2 + 9);
 * ```
 */
export function unetLayout(cfg: UNetConfig): UNetBlock[] {
  const parts: UNetBlock[] = [];
  const L = cfg.chMult.length;
  const skips: number[] = [cfg.ch];
  let c = cfg.ch, res = cfg.imageSize;
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < cfg.numResBlocks; j++) {
      const co = cfg.ch * cfg.chMult[i];
      const place: UNetPlace = { path: "down", level: i, index: j };
      parts.push({ kind: "res", ours: `down.${i}.res.${j}`, ci: c, co, place });
      c = co;
      if (cfg.attnResolutions.includes(res)) {
        parts.push({ kind: "attn", ours: `down.${i}.attn.${j}`, c, place });
      }
      skips.push(c);
    }
    if (i < L - 1) {
      const place: UNetPlace = { path: "down", level: i, index: cfg.numResBlocks };
      parts.push({ kind: "downsample", ours: `down.${i}.downsample`, c, place });
      skips.push(c);
      res /= 2;
    }
  }
  const mid = (index: number): UNetPlace => ({ path: "mid", level: L, index });
  parts.push({ kind: "res", ours: "mid.res.0", ci: c, co: c, place: mid(0) });
  parts.push({ kind: "attn", ours: "mid.attn", c, place: mid(0) });
  parts.push({ kind: "res", ours: "mid.res.1", ci: c, co: c, place: mid(1) });
  for (let i = L - 1; i >= 0; i--) {
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      const co = cfg.ch * cfg.chMult[i];
      const place: UNetPlace = { path: "up", level: i, index: j };
      parts.push({ kind: "res", ours: `up.${i}.res.${j}`, ci: c + skips.pop()!, co, place });
      c = co;
      if (cfg.attnResolutions.includes(res)) {
        parts.push({ kind: "attn", ours: `up.${i}.attn.${j}`, c, place });
      }
    }
    if (i > 0) {
      const place: UNetPlace = { path: "up", level: i, index: cfg.numResBlocks };
      parts.push({ kind: "upsample", ours: `up.${i}.upsample`, c, place });
      res *= 2;
    }
  }
  return parts;
}
