import { decode as decodePng } from "fast-png";
import jpeg from "jpeg-js";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import type { Dataset } from "./dataset.ts";

/** Options of {@linkcode loadImageFolder}. */
export interface LoadImageFolderOptions {
  /** Side of the square images to produce (the U-Net's imageSize). */
  size: number;
  /** 1 for grayscale, 3 for RGB (the U-Net's inChannels). */
  channels: 1 | 3;
  /** Keep at most this many images (in file-name order). */
  limit?: number;
  /**
   * The largest image accepted, in pixels (width × height; default 2^24, e.g. 4096 × 4096),
   * checked from the file's header before decoding: a small file can declare a huge picture.
   */
  maxPixels?: number;
}

/** The default bound on width × height of one image. */
const _MAX_PIXELS = 2 ** 24;

const _EXT = new Set([".png", ".jpg", ".jpeg"]);

/**
 * Loads every PNG and JPEG file of a folder, in file-name order. A folder with no image files
 * of its own but subfolders of images is read by the ImageFolder convention: each subfolder is a
 * class (class names sorted; labels their indices), and the dataset carries `labels` and
 * `classNames`. Each image is
 * center-cropped to a square, resized to `size` × `size` by averaging the source pixels
 * that fall in each target pixel (nearest pixel when enlarging), and scaled to [-1, 1].
 * Grayscale images become RGB by repeating the channel; colour images load as grayscale only
 * if they are gray (R = G = B), otherwise the call throws rather than guess. Alpha is dropped.
 *
 * @param dir The folder.
 * @param options `{ size, channels, limit }`.
 * @returns The images [N, size, size, channels] (with labels and class names for class
 *   subfolders; `limit` then takes images from the classes in turn).
 * @throws {Error} If the folder is missing or has no PNG/JPEG files, a class subfolder has none,
 *   a file cannot be decoded, or a colour image is loaded as grayscale (each message names the
 *   file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode } from "fast-png";
 * import { loadImageFolder } from "@ddpm/core/fs";
 * const dir = await Deno.makeTempDir();
 * const data = new Uint8Array(4 * 6).fill(200); // a 6×4 gray picture
 * await Deno.writeFile(`${dir}/a.png`, encode({ width: 6, height: 4, data, channels: 1 }));
 * const ds = await loadImageFolder(dir, { size: 2, channels: 3 });
 * assert.deepEqual(ds.shape, [1, 2, 2, 3]);
 * assert.equal(ds.images[0].toFixed(3), "0.569"); // gray 200 → 200/127.5 − 1
 * ```
 */
export async function loadImageFolder(
  dir: string,
  options: LoadImageFolderOptions,
): Promise<Dataset> {
  const what = `Cannot load images from ${dir}`;
  const { size, channels, limit } = options ?? {};
  const maxPixels = options?.maxPixels ?? _MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`${what}: maxPixels must be a positive integer, got ${maxPixels}`);
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`${what}: size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`${what}: channels must be 1 (grayscale) or 3 (RGB), got ${channels}`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeError(`${what}: limit must be a positive integer, got ${limit}`);
  }
  let names: string[];
  let classNames: string[] | undefined;
  let labels: Int32Array | undefined;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a folder");
    names = await _imageFiles(dir);
    if (names.length === 0) {
      const classes = await _classFolders(dir);
      if (classes.length > 0) {
        const perClass = await Promise.all(classes.map(async (c) => {
          const files = await _imageFiles(join(dir, c));
          if (files.length === 0) {
            throw new Error(`the class folder ${join(dir, c)} has no .png, .jpg or .jpeg files`);
          }
          return files.map((f) => join(c, f));
        }));
        // with a limit, the classes in turn, so that every class is represented
        const order: [number, string][] = [];
        for (let k = 0; order.length < perClass.flat().length; k++) {
          perClass.forEach((files, c) => k < files.length && order.push([c, files[k]]));
        }
        const kept = limit === undefined ? order : order.slice(0, limit);
        kept.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
        names = kept.map(([, f]) => f);
        labels = Int32Array.from(kept, ([c]) => c);
        classNames = classes;
      }
    }
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  if (names.length === 0) {
    throw new Error(
      `${what}: the folder has no .png, .jpg or .jpeg files (nor class subfolders holding them)`,
    );
  }
  if (limit !== undefined && !labels) names = names.slice(0, limit);
  const px = size * size * channels;
  const images = new Float32Array(names.length * px);
  for (let i = 0; i < names.length; i++) {
    const file = join(dir, names[i]);
    const img = await _decode(file, maxPixels);
    const out = _cropResize(img, size);
    if (channels === 1 && img.channels === 3 && !_isGray(out)) {
      throw new RangeError(
        `${what}: ${file} is a colour image but the model is grayscale (channels 1); ` +
          `use an RGB model (--preset cifar10) or convert the images to grayscale`,
      );
    }
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < channels; c++) {
        const v = img.channels === 1
          ? out.data[p]
          : channels === 1
          ? out.data[p * 3]
          : out.data[p * 3 + c];
        images[i * px + p * channels + c] = v / 127.5 - 1;
      }
    }
  }
  const shape: Dataset["shape"] = [names.length, size, size, channels];
  return labels
    ? { images, shape, labels, classNames, source: dir }
    : { images, shape, source: dir };
}

/** The image files directly in dir, sorted. */
async function _imageFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => !e.isDirectory() && _EXT.has(extname(e.name).toLowerCase()))
    .map((e) => e.name).sort();
}

/** The subfolders of dir (not hidden), sorted: the classes of the ImageFolder convention. */
async function _classFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name)
    .sort();
}

/** A decoded image: 8-bit values, 1 (gray) or 3 (RGB) channels, alpha dropped. */
interface _Image {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

async function _decode(file: string, maxPixels: number): Promise<_Image> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file (a dangling link?)" : (e as Error).message;
    throw new Error(`Cannot read ${file}: ${why}`);
  }
  const declared = _declaredPixels(bytes);
  if (declared !== undefined && declared.width * declared.height > maxPixels) {
    throw new RangeError(
      `Cannot decode ${file}: it declares ${declared.width}×${declared.height} pixels, more than ` +
        `maxPixels (${maxPixels}); raise maxPixels to load it`,
    );
  }
  try {
    if (extname(file).toLowerCase() === ".png") {
      const png = decodePng(bytes);
      const { width, height, channels: ch, depth } = png;
      const scale = depth === 16 ? 1 / 257 : depth < 8 ? 255 / (2 ** depth - 1) : 1;
      const src = png.data;
      if (png.palette) {
        // indexed colour: look each index up
        const data = new Float32Array(width * height * 3);
        for (let p = 0; p < width * height; p++) {
          const rgb = png.palette[src[p]];
          for (let c = 0; c < 3; c++) data[p * 3 + c] = rgb[c];
        }
        return { width, height, channels: 3, data };
      }
      const outCh = ch <= 2 ? 1 : 3;
      const data = new Float32Array(width * height * outCh);
      for (let p = 0; p < width * height; p++) {
        for (let c = 0; c < outCh; c++) data[p * outCh + c] = src[p * ch + c] * scale;
      }
      return { width, height, channels: outCh, data };
    }
    const jpg = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxMemoryUsageInMB: 1024,
      maxResolutionInMP: maxPixels / 1e6,
    });
    return { width: jpg.width, height: jpg.height, channels: 3, data: Float32Array.from(jpg.data) };
  } catch (e) {
    throw new Error(`Cannot decode ${file}: ${(e as Error).message}`);
  }
}

/** Center-crops to a square and resizes to size × size by box averaging. */
function _cropResize(img: _Image, size: number): _Image {
  const { width: w, height: h, channels: C } = img;
  const side = Math.min(w, h);
  const [x0, y0] = [Math.floor((w - side) / 2), Math.floor((h - side) / 2)];
  const data = new Float32Array(size * size * C);
  const scale = side / size;
  for (let y = 0; y < size; y++) {
    // source rows [ya, yb): at least one
    const ya = Math.floor(y * scale), yb = Math.max(ya + 1, Math.floor((y + 1) * scale));
    for (let x = 0; x < size; x++) {
      const xa = Math.floor(x * scale), xb = Math.max(xa + 1, Math.floor((x + 1) * scale));
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let sy = ya; sy < yb; sy++) {
          for (let sx = xa; sx < xb; sx++) sum += img.data[((y0 + sy) * w + x0 + sx) * C + c];
        }
        data[(y * size + x) * C + c] = sum / ((yb - ya) * (xb - xa));
      }
    }
  }
  return { width: size, height: size, channels: C, data };
}

function _isGray(img: _Image): boolean {
  for (let p = 0; p < img.width * img.height; p++) {
    const [r, g, b] = [img.data[p * 3], img.data[p * 3 + 1], img.data[p * 3 + 2]];
    if (Math.abs(r - g) > 1 || Math.abs(g - b) > 1) return false;
  }
  return true;
}

/**
 * Width and height as a PNG's IHDR or a JPEG's SOF marker declares them, read before decoding;
 * undefined when the header is not found (the decoder then reports the file).
 */
function _declaredPixels(b: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // PNG: 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian)
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[12] === 0x49 && b[13] === 0x48) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: markers after SOI; a start-of-frame (C0–CF but C4, C8, CC) holds height, width
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length && b[i] === 0xff) {
      const marker = b[i + 1];
      const len = view.getUint16(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
      }
      i += 2 + len;
    }
  }
  return undefined;
}
