import type { UNetConfig } from "./unet.ts";

/**
 * Ready-made U-Net shapes. `mnist`: 28×28×1, ch 32, chMult (1, 2, 2), 2 residual blocks,
 * attention at 7×7, dropout 0.1, GroupNorm 8 — 1,623,169 parameters. `cifar10`: the paper's
 * CIFAR-10 network, 32×32×3, ch 128, chMult (1, 2, 2, 2), 2 residual blocks, attention at
 * 16×16, dropout 0.1, GroupNorm 32 — 35,746,307 parameters (the paper's 35.7M).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createUNet, initBackend, unetPresets } from "@ddpm/core";
 * await initBackend("cpu");
 * const unet = createUNet(unetPresets.mnist);
 * assert.equal(unet.numParams, 1623169);
 * unet.dispose();
 * ```
 */
export const unetPresets: {
  readonly mnist: Readonly<UNetConfig>;
  readonly cifar10: Readonly<UNetConfig>;
} = {
  mnist: {
    imageSize: 28,
    inChannels: 1,
    ch: 32,
    chMult: [1, 2, 2],
    numResBlocks: 2,
    attnResolutions: [7],
    dropout: 0.1,
    groups: 8,
  },
  cifar10: {
    imageSize: 32,
    inChannels: 3,
    ch: 128,
    chMult: [1, 2, 2, 2],
    numResBlocks: 2,
    attnResolutions: [16],
    dropout: 0.1,
    groups: 32,
  },
};
