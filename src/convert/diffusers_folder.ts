/**
 * diffusers model folders on disk: `config.json` + `diffusion_pytorch_model.safetensors`.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../io/safetensors.ts";
import { _atomicWrite } from "../_atomic_write.ts";
import type { DiffusersModel } from "./diffusers.ts";

/**
 * Reads a diffusers model folder (`config.json` and `diffusion_pytorch_model.safetensors`, as
 * `save_pretrained` writes them; a folder saved with `variant="fp16"` has
 * `diffusion_pytorch_model.fp16.safetensors` instead, read when the plain file is absent: its
 * F16 tensors convert like float32 ones).
 *
 * @param dir The folder.
 * @returns Its config, tensors and safetensors metadata, for {@linkcode fromDiffusers}.
 * @throws {Error} If a file is missing or unreadable, naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDiffusersFolder, saveDiffusersFolder } from "@ddpm/core/fs";
 * const dir = Deno.makeTempDirSync();
 * saveDiffusersFolder(dir, { config: { _class_name: "UNet2DModel" }, tensors: new Map() });
 * const folder = loadDiffusersFolder(dir);
 * assert.equal(folder.config._class_name, "UNet2DModel");
 * assert.deepEqual(folder.metadata, { format: "pt" });
 * ```
 */
export function loadDiffusersFolder(dir: string): DiffusersModel {
  const read = (name: string) => {
    try {
      return new Uint8Array(readFileSync(join(dir, name)));
    } catch (e) {
      throw new Error(
        `Cannot read diffusers folder: ${join(dir, name)}: ${e instanceof Error ? e.message : e}`,
      );
    }
  };
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(new TextDecoder().decode(read("config.json")));
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new Error(
        `Cannot read diffusers folder: ${join(dir, "config.json")} is not JSON: ${e.message}`,
      );
    }
    throw e;
  }
  const plain = "diffusion_pytorch_model.safetensors";
  const fp16 = "diffusion_pytorch_model.fp16.safetensors";
  const st = decodeSafetensors(
    read(!existsSync(join(dir, plain)) && existsSync(join(dir, fp16)) ? fp16 : plain),
  );
  return { config, tensors: st.tensors, metadata: st.metadata };
}

/**
 * Writes a diffusers model folder: `config.json` and `diffusion_pytorch_model.safetensors`
 * (each atomically; the folder is created).
 *
 * @param dir The folder.
 * @param model What {@linkcode toDiffusers} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { saveDiffusersFolder } from "@ddpm/core/fs";
 * const dir = Deno.makeTempDirSync();
 * saveDiffusersFolder(dir, { config: { sample_size: 8 }, tensors: new Map() });
 * assert.equal(JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)).sample_size, 8);
 * ```
 */
export function saveDiffusersFolder(dir: string, model: DiffusersModel): void {
  mkdirSync(dir, { recursive: true });
  _atomicWrite(join(dir, "config.json"), JSON.stringify(model.config, null, 2) + "\n");
  _atomicWrite(
    join(dir, "diffusion_pytorch_model.safetensors"),
    encodeSafetensors(model.tensors, model.metadata ?? { format: "pt" }),
  );
}
