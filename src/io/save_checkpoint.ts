import { type Checkpoint, encodeCheckpoint } from "./checkpoint.ts";
import { _atomicWrite } from "../_atomic_write.ts";

/**
 * Writes a checkpoint ({@linkcode encodeCheckpoint}'s bytes) to a file atomically: temporary file,
 * fsync, rename, fsync of the folder, so a crash or power loss leaves the previous file whole.
 *
 * @param path The file to write (its folder is created).
 * @param ckpt The checkpoint.
 * @param options `float16`: store the sampling weights in half precision (see
 *   {@linkcode encodeCheckpoint}).
 * @throws {Error} If the file cannot be written (the message names it and says what was kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCheckpoint } from "@ddpm/core";
 * import { saveCheckpoint } from "@ddpm/core/fs";
 * const w = new Map([["conv_in.b", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * const config = { unet: { imageSize: 8, inChannels: 1, ch: 8, chMult: [1], numResBlocks: 1,
 *   attnResolutions: [], dropout: 0, groups: 4 }, schedule: { kind: "linear" as const, T: 10 } };
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * saveCheckpoint(path, { config, ema: w });
 * assert.deepEqual((await loadCheckpoint(path)).ema.get("conv_in.b")?.data, new Float32Array([1, 2]));
 * ```
 */
export function saveCheckpoint(
  path: string,
  ckpt: Checkpoint,
  options: { float16?: boolean } = {},
): void {
  _atomicWrite(path, encodeCheckpoint(ckpt, options));
}
