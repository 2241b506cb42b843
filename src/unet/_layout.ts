// Internal: the blocks of a U-Net in the order createUNet builds them, with their names here (the
// one description of the layout: createUNet builds from it, the converters pair it with other
// projects' names).
import type { UNetConfig } from "./unet.ts";

/** One block of the U-Net and where it sits. */
export type _Part =
  | { kind: "res"; ours: string; ci: number; co: number; place: _Place }
  | { kind: "attn"; ours: string; c: number; place: _Place }
  | { kind: "downsample" | "upsample"; ours: string; c: number; place: _Place };

/**
 * Where a block sits: the path, the level (0 = full resolution; the middle has none), and its
 * index among the level's residual blocks (the attention block shares its residual block's).
 */
export interface _Place {
  path: "down" | "mid" | "up";
  level: number;
  index: number;
}

/** The blocks of the U-Net of `cfg`, down path, middle, up path, in createUNet's order. */
export function _unetParts(cfg: UNetConfig): _Part[] {
  const parts: _Part[] = [];
  const L = cfg.chMult.length;
  const skips: number[] = [cfg.ch];
  let c = cfg.ch, res = cfg.imageSize;
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < cfg.numResBlocks; j++) {
      const co = cfg.ch * cfg.chMult[i];
      const place: _Place = { path: "down", level: i, index: j };
      parts.push({ kind: "res", ours: `down.${i}.res.${j}`, ci: c, co, place });
      c = co;
      if (cfg.attnResolutions.includes(res)) {
        parts.push({ kind: "attn", ours: `down.${i}.attn.${j}`, c, place });
      }
      skips.push(c);
    }
    if (i < L - 1) {
      const place: _Place = { path: "down", level: i, index: cfg.numResBlocks };
      parts.push({ kind: "downsample", ours: `down.${i}.downsample`, c, place });
      skips.push(c);
      res /= 2;
    }
  }
  const mid = (index: number): _Place => ({ path: "mid", level: L, index });
  parts.push({ kind: "res", ours: "mid.res.0", ci: c, co: c, place: mid(0) });
  parts.push({ kind: "attn", ours: "mid.attn", c, place: mid(0) });
  parts.push({ kind: "res", ours: "mid.res.1", ci: c, co: c, place: mid(1) });
  for (let i = L - 1; i >= 0; i--) {
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      const co = cfg.ch * cfg.chMult[i];
      const place: _Place = { path: "up", level: i, index: j };
      parts.push({ kind: "res", ours: `up.${i}.res.${j}`, ci: c + skips.pop()!, co, place });
      c = co;
      if (cfg.attnResolutions.includes(res)) {
        parts.push({ kind: "attn", ours: `up.${i}.attn.${j}`, c, place });
      }
    }
    if (i > 0) {
      const place: _Place = { path: "up", level: i, index: cfg.numResBlocks };
      parts.push({ kind: "upsample", ours: `up.${i}.upsample`, c, place });
      res *= 2;
    }
  }
  return parts;
}
