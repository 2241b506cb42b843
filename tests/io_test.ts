// Files in and out: safetensors (round trip, and read by Python), .npy (numpy.load), PNG
// grids, image folders (PNG/JPEG, crop and resize, errors), the MNIST split, the loss curve.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { join } from "node:path";
import {
  decodeSafetensors,
  encodeNpy,
  encodeSafetensors,
  imageGrid,
  lossCurveSvg,
  type StoredTensor,
  toUint8,
} from "../mod.ts";
import { loadImageFolder, loadMnist } from "../fs.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";

const FC_SEED = Number(Deno.env.get("DDPM_FC_SEED") ?? 42);

function _python(args: string[]): string {
  const out = new Deno.Command("python3", { args }).outputSync();
  if (!out.success) {
    throw new Error(`python3 ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const _tensor = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }).chain((shape) =>
    fc.float32Array({
      minLength: shape.reduce((a, b) => a * b, 1),
      maxLength: shape.reduce((a, b) => a * b, 1),
    })
      .map((data): StoredTensor => ({ dtype: "F32", shape, data }))
  ),
  fc.uint8Array({ minLength: 1, maxLength: 9 }).map((data): StoredTensor => ({
    dtype: "U8",
    shape: [data.length],
    data,
  })),
);

Deno.test("safetensors: decode(encode(x)) = x for any tensors and metadata", () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__metadata__"),
        _tensor,
        { maxKeys: 5 },
      ),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
      (obj, metadata) => {
        const tensors = new Map(Object.entries(obj));
        const bytes = encodeSafetensors(tensors, metadata);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        assertEquals((8 + n) % 8, 0, "data starts 8-byte aligned");
        const back = decodeSafetensors(bytes);
        assertEquals({ ...back.metadata }, { ...metadata });
        assertEquals([...back.tensors.keys()], [...tensors.keys()]);
        for (const [k, t] of tensors) assertEquals(back.tensors.get(k), t);
      },
    ),
    { seed: FC_SEED, numRuns: 100 },
  );
});

Deno.test("safetensors: Python (numpy, following the format spec) reads our files", () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i / 4);
  const bytes = encodeSafetensors(
    new Map<string, StoredTensor>([
      ["ema.conv_in.w", { dtype: "F32", shape: [2, 3, 4], data }],
      ["img", { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 250]) }],
    ]),
    { format: "x", config: '{"a":1}' },
  );
  const path = Deno.makeTempFileSync({ suffix: ".safetensors" });
  Deno.writeFileSync(path, bytes);
  const got = JSON.parse(
    _python([new URL("./py/read_safetensors.py", import.meta.url).pathname, path]),
  );
  assertEquals(got.tensors["ema.conv_in.w"], [[2, 3, 4], data.reduce((a, b) => a + b, 0)]);
  assertEquals(got.tensors.img, [[3], 253]);
  assertEquals(got.metadata, { format: "x", config: '{"a":1}' });
});

Deno.test("safetensors: malformed files get clear errors", () => {
  assertThrows(() => decodeSafetensors(new Uint8Array(4)), Error, "shorter than its 8-byte header");
  const big = new Uint8Array(16);
  new DataView(big.buffer).setBigUint64(0, 1000n, true);
  assertThrows(() => decodeSafetensors(big), Error, "header length 1000 exceeds the file");
  const good = encodeSafetensors(
    new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array(2) }]]),
  );
  assertThrows(
    () => decodeSafetensors(good.subarray(0, good.length - 1)),
    Error,
    "w ends at byte 8, past the data (7 bytes): the file is truncated",
  );
  assertThrows(
    () =>
      encodeSafetensors(new Map([["w", { dtype: "F32", shape: [3], data: new Float32Array(2) }]])),
    RangeError,
    "w has shape [3] (3 values) but 2 values",
  );
});

Deno.test("encodeNpy: numpy.load reads the array back", () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 * 1 }, (_, i) => i * 10);
  const path = Deno.makeTempFileSync({ suffix: ".npy" });
  Deno.writeFileSync(path, encodeNpy(data, [2, 3, 4, 1]));
  const out = _python([
    "-c",
    `import numpy as np, json, sys; a = np.load(sys.argv[1]); print(json.dumps([str(a.dtype), list(a.shape), a.ravel().tolist()]))`,
    path,
  ]);
  assertEquals(JSON.parse(out), ["uint8", [2, 3, 4, 1], [...data]]);
  assertThrows(() => encodeNpy(data, [5]), RangeError, "shape [5] has 5 values, data 24");
});

Deno.test("imageGrid: pixels land where the layout says, scaled from [-1, 1]", async () => {
  await useBackend("cpu");
  const x = tf.tensor4d([-1, 1, 0, 0.5, /* second image */ 1, 1, -1, -1], [2, 2, 2, 1]);
  assertEquals([...await toUint8(x)], [0, 255, 128, 191, 255, 255, 0, 0]);
  const png = decodePng(await imageGrid(x, { cols: 2, pad: 1, background: 7 }));
  assertEquals([png.width, png.height, png.channels], [7, 4, 1]);
  const at = (px: number, py: number) => png.data[py * png.width + px];
  assertEquals([at(0, 0), at(1, 1), at(2, 1), at(1, 2), at(2, 2), at(4, 1), at(5, 2)], [
    7,
    0,
    255,
    128,
    191,
    255,
    0,
  ]);
  await assertRejects(
    () => imageGrid(tf.zeros([2, 2, 2])),
    RangeError,
    "images must be [N, H, W, 1 | 3], got [2,2,2]",
  );
  x.dispose();
});

Deno.test("loadImageFolder: PNG (gray, RGB, 16-bit, palette) and JPEG, center-cropped and box-resized", async () => {
  const dir = Deno.makeTempDirSync();
  // a 6×4 gray PNG: left half 0, right half 255 → crop the middle 4×4, resize to 2×2
  const gray = new Uint8Array(24).map((_, i) => (i % 6) < 3 ? 0 : 255);
  Deno.writeFileSync(
    join(dir, "a.png"),
    encodePng({ width: 6, height: 4, data: gray, channels: 1 }),
  );
  // 16-bit RGB 2×2, all 65535 → 1
  Deno.writeFileSync(
    join(dir, "b.png"),
    encodePng({
      width: 2,
      height: 2,
      data: new Uint16Array(12).fill(65535),
      channels: 3,
      depth: 16,
    }),
  );
  // JPEG 8×8 solid mid gray (lossy: ≈ 128)
  const jpg = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(128) }, 95);
  Deno.writeFileSync(join(dir, "c.JPG"), jpg.data);
  Deno.writeTextFileSync(join(dir, "notes.txt"), "ignored");
  const ds = await loadImageFolder(dir, { size: 2, channels: 1 });
  assertEquals(ds.shape, [3, 2, 2, 1]);
  // a.png: crop columns 1..4 → [0, 0 | 255, 255]; each 2×2 box averages one side: [-1, 1; -1, 1]
  assertEquals([...ds.images.slice(0, 4)], [-1, 1, -1, 1]);
  assertEquals([...ds.images.slice(4, 8)], [1, 1, 1, 1]);
  assertTrue(
    ds.images.slice(8).every((v) => Math.abs(v - (128 / 127.5 - 1)) < 0.02),
    "JPEG ≈ mid gray",
  );
  const rgb = await loadImageFolder(dir, { size: 2, channels: 3, limit: 1 });
  assertEquals(rgb.shape, [1, 2, 2, 3]);
  assertEquals([...rgb.images.slice(0, 6)], [-1, -1, -1, 1, 1, 1], "gray repeated into R, G, B");
});

Deno.test("loadImageFolder: missing or empty folders, broken files and colour-for-grayscale get clear errors", async () => {
  const opts = { size: 4, channels: 1 as const };
  await assertRejects(
    () => loadImageFolder("/no/such/folder", opts),
    Error,
    "Cannot load images from /no/such/folder",
  );
  const empty = Deno.makeTempDirSync();
  await assertRejects(
    () => loadImageFolder(empty, opts),
    Error,
    "the folder has no .png, .jpg or .jpeg files",
  );
  const broken = Deno.makeTempDirSync();
  Deno.writeTextFileSync(join(broken, "x.png"), "not a png");
  await assertRejects(
    () => loadImageFolder(broken, opts),
    Error,
    `Cannot decode ${join(broken, "x.png")}`,
  );
  const colour = Deno.makeTempDirSync();
  const red = new Uint8Array(48).map((_, i) => (i % 3 === 0 ? 255 : 0));
  Deno.writeFileSync(
    join(colour, "red.png"),
    encodePng({ width: 4, height: 4, data: red, channels: 3 }),
  );
  await assertRejects(
    () => loadImageFolder(colour, opts),
    RangeError,
    "is a colour image but the model is grayscale",
  );
  await assertRejects(
    () => loadImageFolder(colour, { size: 4, channels: 2 as 1 }),
    RangeError,
    "channels must be 1 (grayscale) or 3 (RGB), got 2",
  );
});

Deno.test("loadMnist: 10,000 digits split 9,001 / 999 without overlap, in [-1, 1], every class", () => {
  const [train, test, all] = [
    loadMnist(),
    loadMnist({ split: "test" }),
    loadMnist({ split: "all" }),
  ];
  assertEquals([train.shape[0], test.shape[0], all.shape[0]], [9001, 999, 10000]);
  assertTrue(all.images.every((v) => v >= -1 && v <= 1), "pixels in [-1, 1]");
  assertEquals(new Set(test.labels).size, 10);
  // the test split is exactly the images the train split lacks
  const key = (d: typeof all, i: number) => d.images.subarray(i * 784, (i + 1) * 784).join(",");
  const trainKeys = new Set(Array.from({ length: 9001 }, (_, i) => key(train, i)));
  const leaked = Array.from({ length: 999 }, (_, i) => key(test, i)).filter((k) =>
    trainKeys.has(k)
  );
  assertTrue(
    leaked.length <= 3,
    `test images found in train: ${leaked.length} (MNIST has a few duplicates)`,
  );
  assertEquals(
    loadMnist({ limit: 20 }).labels,
    Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]),
  );
  assertThrows(
    () => loadMnist({ split: "val" as "test" }),
    RangeError,
    'split must be "train", "test" or "all", got val',
  );
});

Deno.test("lossCurveSvg: a log-scale curve with its raw and smoothed paths", () => {
  const pts = Array.from({ length: 50 }, (_, i): [number, number] => [i + 1, 1 / (i + 1)]);
  const svg = lossCurveSvg(pts, { title: "a < b" });
  assertEquals((svg.match(/<path /g) ?? []).length, 2);
  assertTrue(svg.includes("a &lt; b"), "title escaped");
  assertTrue(lossCurveSvg([]).includes("no data"), "empty input says so");
});
