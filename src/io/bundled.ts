/**
 * The checkpoint shipped with the package: the EMA weights of the `mnist` U-Net preset trained
 * on the built-in MNIST digits (see checkpoints/MODEL_CARD.md). A `file:` URL in a checkout,
 * an `https:` URL when imported from JSR; {@linkcode loadCheckpoint} reads both.
 *
 * @example
 * ```ts
 * import { BUNDLED_MNIST_CHECKPOINT, loadCheckpoint } from "@ddpm/core";
 * const ck = await loadCheckpoint(BUNDLED_MNIST_CHECKPOINT);
 * console.log(ck.config.unet.imageSize); // 28
 * ```
 */
export const BUNDLED_MNIST_CHECKPOINT: URL = new URL(
  "../../checkpoints/mnist.safetensors",
  import.meta.url,
);
