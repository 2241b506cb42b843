import { encodeClassifier } from "./classifier_weights.ts";
import type { MnistClassifier } from "./classifier.ts";
import { _atomicWrite } from "../_atomic_write.ts";

/**
 * Writes a classifier's weights to a safetensors file atomically (temporary file, fsync,
 * rename).
 *
 * @param path Where to write.
 * @param classifier The classifier.
 * @param metadata Extra string metadata (such as `testAccuracy`).
 * @returns A promise that resolves when the file is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnistClassifier, initBackend, loadMnistClassifier } from "@ddpm/core";
 * import { saveClassifier } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const net = createMnistClassifier();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveClassifier(path, net, { note: "untrained" });
 * const back = await loadMnistClassifier(path);
 * assert.equal(back.metadata.note, "untrained");
 * [net, back.classifier].forEach((c) => c.dispose());
 * ```
 */
export async function saveClassifier(
  path: string,
  classifier: MnistClassifier,
  metadata: Record<string, string> = {},
): Promise<void> {
  _atomicWrite(path, await encodeClassifier(classifier, metadata));
}
