/**
 * Saving and loading the digit classifier's weights as safetensors.
 *
 * @module
 */
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "../io/safetensors.ts";
import { getWeights, setWeights } from "../io/weights.ts";
import { BUNDLED_MNIST_CLASSIFIER } from "../io/bundled.ts";
import type { Weights } from "../io/checkpoint.ts";
import { createMnistClassifier, type MnistClassifier } from "./classifier.ts";
import { _readBytes } from "../_platform.ts";

const _FORMAT = "ddpm-core-mnist-classifier/1";

/**
 * Encodes a classifier's weights as the bytes of a safetensors file (what `saveClassifier` of
 * `@ddpm/core/fs` writes).
 *
 * @param classifier The classifier.
 * @param metadata Extra string metadata (such as `testAccuracy`).
 * @returns A promise of the file's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnistClassifier, encodeClassifier, initBackend, loadMnistClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const net = createMnistClassifier();
 * const back = await loadMnistClassifier(await encodeClassifier(net, { note: "untrained" }));
 * assert.equal(back.metadata.note, "untrained");
 * [net, back.classifier].forEach((c) => c.dispose());
 * ```
 */
export async function encodeClassifier(
  classifier: MnistClassifier,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const tensors = new Map<string, StoredTensor>();
  for (const [name, w] of await getWeights(classifier.params)) {
    tensors.set(name, { dtype: "F32", shape: w.shape, data: w.data });
  }
  return encodeSafetensors(tensors, { ...metadata, format: _FORMAT });
}

/**
 * Loads a classifier's weights (default: the shipped one, {@linkcode BUNDLED_MNIST_CLASSIFIER}).
 *
 * @param source A path, a `file:`/`https:` URL, or the bytes of {@linkcode encodeClassifier}.
 * @returns A promise of the classifier and the file's metadata.
 * @throws {Error} If the file is missing or not a classifier file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, loadMnistClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const { classifier } = await loadMnistClassifier();
 * assert.equal(classifier.params.size, 12);
 * classifier.dispose();
 * ```
 */
export async function loadMnistClassifier(
  source: string | URL | Uint8Array = BUNDLED_MNIST_CLASSIFIER,
): Promise<{ classifier: MnistClassifier; metadata: Record<string, string> }> {
  const where = source instanceof Uint8Array ? `(${source.length} bytes)` : String(source);
  let decoded;
  try {
    decoded = decodeSafetensors(source instanceof Uint8Array ? source : await _readBytes(source));
  } catch (e) {
    throw new Error(`Cannot load classifier ${where}: ${(e as Error).message}`);
  }
  if (decoded.metadata.format !== _FORMAT) {
    throw new Error(
      `Cannot load classifier ${where}: metadata format is ${
        JSON.stringify(decoded.metadata.format)
      }, expected "${_FORMAT}"`,
    );
  }
  const weights: Weights = new Map();
  for (const [name, t] of decoded.tensors) {
    weights.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  const classifier = createMnistClassifier();
  try {
    setWeights(classifier.params, weights);
  } catch (e) {
    classifier.dispose();
    throw new Error(`Cannot load classifier ${where}: ${(e as Error).message}`);
  }
  return { classifier, metadata: decoded.metadata };
}
