/**
 * Saving and loading the digit classifier's weights as safetensors.
 *
 * @module
 */
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from "../io/safetensors.ts";
import { _readBytes } from "../io/checkpoint.ts";
import { getWeights, setWeights } from "../io/weights.ts";
import { _atomicWrite } from "../io/_atomic_write.ts";
import { BUNDLED_MNIST_CLASSIFIER } from "../io/bundled.ts";
import type { Weights } from "../io/checkpoint.ts";
import { createMnistClassifier, type MnistClassifier } from "./classifier.ts";

const _FORMAT = "ddpm-core-mnist-classifier/1";

/**
 * Writes a classifier's weights to a safetensors file, atomically (temporary file + rename).
 *
 * @param path Where to write.
 * @param classifier The classifier.
 * @param metadata Extra string metadata (such as `testAccuracy`).
 * @returns A promise that resolves when the file is written.
 *
 * @example
 * ```ts
 * import { createMnistClassifier, initBackend, loadMnistClassifier, saveClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const net = createMnistClassifier();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveClassifier(path, net, { note: "untrained" });
 * const back = await loadMnistClassifier(path);
 * console.log(back.metadata.note); // untrained
 * [net, back.classifier].forEach((c) => c.dispose());
 * ```
 */
export async function saveClassifier(
  path: string,
  classifier: MnistClassifier,
  metadata: Record<string, string> = {},
): Promise<void> {
  const tensors = new Map<string, StoredTensor>();
  for (const [name, w] of await getWeights(classifier.params)) {
    tensors.set(name, { dtype: "F32", shape: w.shape, data: w.data });
  }
  _atomicWrite(path, encodeSafetensors(tensors, { ...metadata, format: _FORMAT }));
}

/**
 * Loads a classifier saved by {@linkcode saveClassifier} (default: the shipped one,
 * {@linkcode BUNDLED_MNIST_CLASSIFIER}).
 *
 * @param source A path or a `file:`/`https:` URL.
 * @returns A promise of the classifier and the file's metadata.
 * @throws {Error} If the file is missing or not a classifier file.
 *
 * @example
 * ```ts
 * import { initBackend, loadMnistClassifier } from "@ddpm/core";
 * await initBackend("cpu");
 * const { classifier } = await loadMnistClassifier();
 * console.log(classifier.params.size); // 12
 * classifier.dispose();
 * ```
 */
export async function loadMnistClassifier(
  source: string | URL = BUNDLED_MNIST_CLASSIFIER,
): Promise<{ classifier: MnistClassifier; metadata: Record<string, string> }> {
  const where = String(source);
  let decoded;
  try {
    decoded = decodeSafetensors(await _readBytes(source));
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
