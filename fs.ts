/**
 * @ddpm/core/fs — what needs a file system: the trainer with its output folder (checkpoints,
 * log, sample grids, a lock), the built-in MNIST digits, Fashion-MNIST and other IDX files,
 * folders of PNG/JPEG images, and writing checkpoints and classifiers to files. For Deno, Bun
 * and Node; the platform-neutral rest of the library is `@ddpm/core`.
 *
 * @example Train two steps on 8 built-in digits, then sample the checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend, loadCheckpoint, unetPresets } from "@ddpm/core";
 * import { loadMnist, train } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const result = await train({
 *   data: loadMnist({ limit: 8 }), unet: { ...unetPresets.mnist, ch: 8, groups: 4 },
 *   outDir: await Deno.makeTempDir(), steps: 2, batchSize: 2, sampleEvery: 0, progress: false,
 * });
 * assert.equal((await loadCheckpoint(result.checkpoint)).state?.step, 2);
 * ```
 *
 * @module
 */
export { train } from "./src/train/train.ts";
export type { TrainOptions, TrainResult, TrainStepInfo } from "./src/train/train.ts";
export { evaluate } from "./src/eval/evaluate.ts";
export type { EvalResults, EvaluateOptions } from "./src/eval/evaluate.ts";
export { loadMnist } from "./src/data/mnist.ts";
export type { LoadMnistOptions } from "./src/data/mnist.ts";
export { loadImageFolder } from "./src/data/image_folder.ts";
export type { LoadImageFolderOptions } from "./src/data/image_folder.ts";
export { loadIdx } from "./src/data/idx.ts";
export type { LoadIdxOptions } from "./src/data/idx.ts";
export { saveCheckpoint } from "./src/io/save_checkpoint.ts";
export { loadDiffusersFolder, saveDiffusersFolder } from "./src/convert/diffusers_folder.ts";
export { saveClassifier } from "./src/eval/save_classifier.ts";
