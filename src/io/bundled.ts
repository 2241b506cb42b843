/**
 * The unconditional checkpoint shipped with the package: the EMA weights of the `mnist` U-Net
 * preset trained on the built-in MNIST digits (see checkpoints/MODEL_CARD.md); `loadPipeline()`
 * and `deno task eval` use it when given no checkpoint. A `file:` URL in a checkout,
 * an `https:` URL when imported from JSR; {@linkcode loadCheckpoint} reads both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLED_MNIST_CHECKPOINT, loadCheckpoint } from "@ddpm/core";
 * const ck = await loadCheckpoint(BUNDLED_MNIST_CHECKPOINT);
 * assert.equal(ck.config.unet.imageSize, 28);
 * ```
 */
export const BUNDLED_MNIST_CHECKPOINT: URL = new URL(
  "../../checkpoints/mnist.safetensors",
  import.meta.url,
);

/**
 * The class-conditional checkpoint shipped with the package, which `deno task sample` and the web
 * app use when given no checkpoint: it draws the digit asked for, with autoguidance and a
 * self-check (each sample its class network guesses as another digit drawn again) at the settings
 * and sampler its model card recommends, stored in its config (see
 * checkpoints/MODEL_CARD-conditional.md). Its "no class" branch, for classifier-free guidance at
 * other scales, is {@linkcode BUNDLED_MNIST_CHECKPOINT}'s network, autoguided by the guide
 * network's "no class" prediction (`config.autoguidance.unconditionalWeight`).
 *
 * @example Ten digits and the recommended guidance and self-check
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLED_MNIST_CONDITIONAL, loadCheckpoint } from "@ddpm/core";
 * const ck = await loadCheckpoint(BUNDLED_MNIST_CONDITIONAL);
 * assert.equal(ck.config.unet.numClasses, 10);
 * assert.equal(ck.config.classes?.[7], "7");
 * assert.equal(ck.config.guidanceScale, 1);
 * assert.deepEqual(ck.config.selfCheck?.timesteps, [400, 450, 500, 550, 600]);
 * ```
 */
export const BUNDLED_MNIST_CONDITIONAL: URL = new URL(
  "../../checkpoints/mnist-conditional.safetensors",
  import.meta.url,
);

/**
 * The digit classifier shipped with the package for FID-MNIST ({@linkcode sampleQuality}):
 * trained by `deno task train-classifier` on the MNIST train split only (its test accuracy is
 * in the file's metadata and checkpoints/MODEL_CARD.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUNDLED_MNIST_CLASSIFIER, initBackend, loadMnistClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const { classifier, metadata } = await loadMnistClassifier(BUNDLED_MNIST_CLASSIFIER);
 * assert.ok(Number(metadata.testAccuracy) > 0.97);
 * classifier.dispose();
 * ```
 */
export const BUNDLED_MNIST_CLASSIFIER: URL = new URL(
  "../../checkpoints/mnist-classifier.safetensors",
  import.meta.url,
);
