import type { UNetConfig } from "../mod.ts";

/** The smallest U-Net with every part: two levels, attention at 4×4, a 1×1 skip. */
export const TINY: UNetConfig = {
  imageSize: 8,
  inChannels: 1,
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0.1,
  groups: 4,
};
