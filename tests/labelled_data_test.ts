// Labelled data: the IDX files of MNIST and Fashion-MNIST (real ones from Debian's
// dataset-fashion-mnist, and crafted bad ones), image folders with one subfolder per class.
import { gzipSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode } from "fast-png";
import { decodeIdx, FASHION_MNIST_CLASSES } from "../mod.ts";
import { loadIdx, loadImageFolder } from "../fs.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";

const FASHION = "/usr/share/datasets/fashion-mnist";

/** An unsigned-byte IDX file: magic 0x000008nd, the dimensions, the values. */
function idx(dims: number[], values: ArrayLike<number>): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(head.buffer);
  view.setUint32(0, 0x0800 + dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + values.length);
  out.set(head);
  out.set(Uint8Array.from(values), head.length);
  return out;
}

Deno.test("loadIdx: the real Fashion-MNIST files (gzipped), 60,000 + 10,000 with 10 classes", async () => {
  const train = await loadIdx(FASHION, { classNames: [...FASHION_MNIST_CLASSES] });
  assertEquals(train.shape, [60000, 28, 28, 1]);
  assertEquals(train.classNames, [...FASHION_MNIST_CLASSES]);
  const counts = new Array(10).fill(0);
  train.labels!.forEach((v) => counts[v]++);
  assertEquals(counts, new Array(10).fill(6000), "Fashion-MNIST is balanced: 6,000 per class");
  let lo = Infinity, hi = -Infinity;
  for (const v of train.images) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  assertEquals([lo, hi], [-1, 1]);
  const test = await loadIdx(FASHION, { split: "test", limit: 100 });
  assertEquals(test.shape, [100, 28, 28, 1]);
  assertEquals(test.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
});

Deno.test("loadIdx: plain and gzipped files read the same; bad files are one clear error", async () => {
  const images = idx([3, 2, 2], [0, 255, 0, 255, 10, 20, 30, 40, 255, 255, 255, 255]);
  const labels = idx([3], [2, 0, 1]);
  const [plain, gz] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  writeFileSync(join(plain, "train-images-idx3-ubyte"), images);
  writeFileSync(join(plain, "train-labels-idx1-ubyte"), labels);
  writeFileSync(join(gz, "train-images-idx3-ubyte.gz"), gzipSync(images));
  writeFileSync(join(gz, "train-labels-idx1-ubyte.gz"), gzipSync(labels));
  const [a, b] = [await loadIdx(plain), await loadIdx(gz)];
  assertEquals(a.images, b.images);
  assertEquals(Array.from(a.labels!), [2, 0, 1]);
  assertEquals(a.images[1], 1);
  assertEquals(a.classNames, ["0", "1", "2"]);

  const bad = async (img: Uint8Array, lab: Uint8Array, message: string) => {
    const dir = await Deno.makeTempDir();
    writeFileSync(join(dir, "train-images-idx3-ubyte"), img);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), lab);
    await assertRejects(() => loadIdx(dir), RangeError, message);
  };
  const magic = images.slice();
  magic[0] = 0x1e;
  await bad(magic, labels, "not an IDX file (the magic number must start with two zero bytes");
  const float = images.slice();
  float[2] = 0x0d;
  await bad(float, labels, "only unsigned-byte IDX files (type 0x08) are supported, got type 0x0d");
  await bad(
    images.subarray(0, images.length - 3),
    labels,
    "its dimensions [3,2,2] need 12 values, the file holds 9 (truncated)",
  );
  await bad(images.subarray(0, 10), labels, "truncated header (10 bytes for 3 dimensions)");
  await bad(images, idx([2], [0, 1]), "it must hold one label per image (3), got dimensions [2]");
  await bad(labels, labels, "images must have 3 dimensions [N, H, W], got [3]");
  await assertRejects(
    () => decodeIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), "x.gz"),
    RangeError,
    "Cannot read x.gz: it looks gzipped but does not decompress",
  );
  await assertRejects(
    async () => loadIdx(await Deno.makeTempDir()),
    Error,
    "neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz is there",
  );
});

/** A folder of 4×4 gray PNGs: {class: [values…]}. */
function classFolder(classes: Record<string, number[]>): string {
  const dir = Deno.makeTempDirSync();
  for (const [name, values] of Object.entries(classes)) {
    mkdirSync(join(dir, name));
    values.forEach((v, i) =>
      writeFileSync(
        join(dir, name, `img${i}.png`),
        encode({ width: 4, height: 4, data: new Uint8Array(16).fill(v), channels: 1 }),
      )
    );
  }
  return dir;
}

Deno.test("loadImageFolder: one subfolder per class gives labels and sorted class names", async () => {
  const dir = classFolder({ sneaker: [255, 255], bag: [0], coat: [51, 51, 51] });
  const ds = await loadImageFolder(dir, { size: 2, channels: 1 });
  assertEquals(ds.classNames, ["bag", "coat", "sneaker"]);
  assertEquals(Array.from(ds.labels!), [0, 1, 1, 1, 2, 2]);
  assertEquals(ds.images[0], -1); // bag: black
  assertEquals(ds.images[4 * 5], 1); // sneaker: white
  // a limit takes the classes in turn, so that each is represented
  const few = await loadImageFolder(dir, { size: 2, channels: 1, limit: 4 });
  assertEquals(Array.from(few.labels!), [0, 1, 1, 2]);
  // a folder of images of its own is read as before: unlabelled
  const flat = await Deno.makeTempDir();
  writeFileSync(
    join(flat, "a.png"),
    encode({ width: 2, height: 2, data: new Uint8Array(4), channels: 1 }),
  );
  assertTrue((await loadImageFolder(flat, { size: 2, channels: 1 })).labels === undefined, "none");
});

Deno.test("loadImageFolder: a class folder with no images is a clear error naming it", async () => {
  const dir = classFolder({ a: [10], b: [] });
  await assertRejects(
    () => loadImageFolder(dir, { size: 2, channels: 1 }),
    Error,
    `the class folder ${join(dir, "b")} has no .png, .jpg or .jpeg files`,
  );
});
