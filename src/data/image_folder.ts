import type { Dataset } from "./dataset.ts";

/** Options of {@linkcode loadImageFolder}. */
export interface LoadImageFolderOptions {
  /** Side of the square images to produce. */
  size: number;
  /** 1 for grayscale, 3 for RGB. */
  channels: 1 | 3;
  /** Keep at most this many images (in file-name order). */
  limit?: number;
}

/** Loads a folder of images (not yet: see issue 3). */
export function loadImageFolder(dir: string, options: LoadImageFolderOptions): Promise<Dataset> {
  throw new Error(`Cannot load ${dir} (${options.size}): not implemented yet`);
}
