import * as tf from "@tensorflow/tfjs-core";
import { encode } from "fast-png";
import type { Tensor } from "../types.ts";

/** Options of {@linkcode imageGrid}. */
export interface ImageGridOptions {
  /** Images per row (default ⌈√N⌉). */
  cols?: number;
  /** Pixels of gap between images (default 2), filled with `background`. */
  pad?: number;
  /** Gap colour, 0–255 (default 255, white). */
  background?: number;
  /** Integer magnification of every pixel (default 1). */
  scale?: number;
}

/**
 * Converts images in [-1, 1] to uint8 pixels: round((x + 1) · 127.5), clipped to [0, 255].
 *
 * @param images Images [N, H, W, C] in [-1, 1].
 * @returns The pixels, uint8 [N, H, W, C], row-major.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { toUint8 } from "@ddpm/core";
 * assert.deepEqual(Array.from(await toUint8(tf.tensor4d([-1, 0, 1], [1, 1, 3, 1]))), [0, 128, 255]);
 * ```
 */
export async function toUint8(images: Tensor): Promise<Uint8Array> {
  const scaled = tf.tidy(() => tf.clipByValue(tf.round(tf.mul(tf.add(images, 1), 127.5)), 0, 255));
  try {
    return Uint8Array.from(await scaled.data());
  } finally {
    scaled.dispose();
  }
}

/**
 * Lays images [N, H, W, C] in [-1, 1] out in a grid and encodes it as a PNG (grayscale for
 * C = 1, RGB for C = 3).
 *
 * @param images Images [N, H, W, C] in [-1, 1], C = 1 or 3.
 * @param options `{ cols, pad, background, scale }`.
 * @returns The PNG file's bytes.
 * @throws {RangeError} If images is not [N, H, W, 1 | 3].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { imageGrid } from "@ddpm/core";
 * const png = await imageGrid(tf.zeros([4, 8, 8, 1]), { cols: 2 });
 * assert.deepEqual(Array.from(png.slice(1, 4)), [80, 78, 71]); // "PNG" in ASCII
 * ```
 */
export async function imageGrid(
  images: Tensor,
  options: ImageGridOptions = {},
): Promise<Uint8Array> {
  const shape = images?.shape;
  if (!shape || shape.length !== 4 || (shape[3] !== 1 && shape[3] !== 3)) {
    throw new RangeError(
      `Cannot make image grid: images must be [N, H, W, 1 | 3], got ${
        shape ? `[${shape}]` : images
      }`,
    );
  }
  const [N, H, W, C] = shape;
  const px = await toUint8(images);
  return encode(_layout(px, [N, H, W, C], options));
}

/** Grid layout of uint8 images [N, H, W, C] as a fast-png image. */
function _layout(
  px: Uint8Array,
  [N, H, W, C]: number[],
  options: ImageGridOptions = {},
): { width: number; height: number; data: Uint8Array; channels: number; depth: 8 } {
  const cols = options.cols ?? Math.ceil(Math.sqrt(N));
  const rows = Math.ceil(N / cols);
  const pad = options.pad ?? 2, s = options.scale ?? 1;
  const width = cols * W * s + (cols + 1) * pad, height = rows * H * s + (rows + 1) * pad;
  const data = new Uint8Array(width * height * C).fill(options.background ?? 255);
  for (let n = 0; n < N; n++) {
    const [r, c] = [Math.floor(n / cols), n % cols];
    const [y0, x0] = [pad + r * (H * s + pad), pad + c * (W * s + pad)];
    for (let y = 0; y < H * s; y++) {
      for (let x = 0; x < W * s; x++) {
        const src = ((n * H + Math.floor(y / s)) * W + Math.floor(x / s)) * C;
        const dst = ((y0 + y) * width + x0 + x) * C;
        for (let k = 0; k < C; k++) data[dst + k] = px[src + k];
      }
    }
  }
  return { width, height, data, channels: C, depth: 8 };
}
