/// <reference lib="dom" />
// The pages' shared pieces: form fields, the backend choice, a grid of images [n, s, s, C] (uint8,
// C = 1 gray or 3 RGB) on a canvas, each about 84 px wide, and the built-in digits the server
// provides.
import { decodeIdx, initBackend } from "../mod.ts";

/** An element of the page by id. */
export const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** An integer form field in [min, max], or one clear error naming it. */
export function readInt(id: string, min: number, max: number): number {
  const raw = $<HTMLInputElement>(id).value, v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${id} must be an integer in [${min}, ${max}], got ${raw || "nothing"}`);
  }
  return v;
}

let backendShown = "";

/**
 * Starts the backend the page's #backend select asks for (again only when the choice changed)
 * and returns its name and adapter, for the status line.
 */
export async function useChosenBackend(): Promise<string> {
  const choice = $<HTMLSelectElement>("backend").value as "auto";
  if (!backendShown || !backendShown.startsWith(choice === "auto" ? "" : choice)) {
    const info = await initBackend(choice);
    backendShown = `${info.backend}${info.adapter ? ` (${info.adapter})` : ""}`;
  }
  return backendShown;
}

/** Draws n images [n, s, s, C] (uint8) as a grid. */
export function drawGrid(canvas: HTMLCanvasElement, pixels: Uint8Array, shape: number[]): void {
  const [n, s, , C] = shape;
  const cols = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols), pad = 2;
  const scale = Math.max(1, Math.round(84 / s));
  canvas.width = (cols * (s + pad) + pad) * scale;
  canvas.height = (rows * (s + pad) + pad) * scale;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#444";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const img = ctx.createImageData(s * scale, s * scale);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < s * scale; y++) {
      for (let x = 0; x < s * scale; x++) {
        const p = ((i * s + Math.floor(y / scale)) * s + Math.floor(x / scale)) * C;
        const o = (y * s * scale + x) * 4;
        img.data[o] = pixels[p];
        img.data[o + 1] = pixels[p + (C === 3 ? 1 : 0)];
        img.data[o + 2] = pixels[p + (C === 3 ? 2 : 0)];
        img.data[o + 3] = 255;
      }
    }
    const [r, c] = [Math.floor(i / cols), i % cols];
    ctx.putImageData(img, (pad + c * (s + pad)) * scale, (pad + r * (s + pad)) * scale);
  }
}

/**
 * The built-in digits web/serve.ts writes beside the pages (the first 1,000 MNIST training
 * digits, IDX): images in [-1, 1] [N, 28, 28, 1] and their labels.
 */
export async function loadDigits(): Promise<
  { images: Float32Array; labels: Int32Array; n: number }
> {
  const fetchIdx = async (name: string) =>
    decodeIdx(
      new Uint8Array(await (await fetch(new URL(name, location.href))).arrayBuffer()),
      name,
    );
  const [images, labels] = await Promise.all([
    fetchIdx("digits.idx"),
    fetchIdx("digits-labels.idx"),
  ]);
  return {
    images: Float32Array.from(images.data, (v) => v / 127.5 - 1),
    labels: Int32Array.from(labels.data),
    n: images.dims[0],
  };
}
