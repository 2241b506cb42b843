// Half precision: float32 → binary16 rounding against a float64 reference (nearest, ties to
// even, overflow to Infinity) and against numpy, the exact decodes of all 65,536 binary16 and
// bfloat16 patterns, safetensors F16/BF16 read by Python, and checkpoints whose sampling weights
// are stored as float16 (half the bytes, the training state kept float32, CRC still checked).
import fc from "fast-check";
import {
  decodeSafetensors,
  encodeCheckpoint,
  encodeSafetensors,
  loadCheckpoint,
  type StoredTensor,
  storedToFloat32,
} from "../mod.ts";
import { _fromBfloat16Bits, _fromFloat16Bits, _toFloat16Bits } from "../src/io/_float16.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { TINY } from "./_tiny.ts";

const FC_SEED = Number(Deno.env.get("DDPM_FC_SEED") ?? 42);

/** The value of a binary16 pattern, from the format's definition, in float64. */
function refHalf(h: number): number {
  const sign = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : sign * Infinity;
  return e === 0 ? sign * m * 2 ** -24 : sign * 2 ** (e - 15) * (1 + m / 1024);
}

/** Every finite non-negative half, ascending, with its pattern (0 … 0x7bff). */
const POSITIVE = Array.from({ length: 0x7c00 }, (_, h) => refHalf(h));

/**
 * The binary16 pattern nearest to x in float64 arithmetic, ties to the even pattern; |x| at or
 * past 65520 (halfway from 65504 to the next power, 65536) is ±Infinity, as IEEE 754 rounds it.
 */
function refToHalf(x: number): number {
  if (Number.isNaN(x)) return -1; // any NaN pattern; checked separately
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0, hi = POSITIVE.length - 1; // the last pattern with value <= a
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (POSITIVE[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === POSITIVE.length - 1) return sign | lo; // a in [65504, 65520)
  const below = a - POSITIVE[lo], above = POSITIVE[lo + 1] - a;
  const pick = below < above ? lo : above < below ? lo + 1 : (lo % 2 === 0 ? lo : lo + 1);
  return sign | pick;
}

/** Float32 values near half-precision boundaries: ties, subnormals, overflow, specials. */
const EDGES = new Float32Array([
  0,
  -0,
  1,
  -1,
  65504,
  65519.99609375,
  65520,
  65536,
  -65520,
  1e9,
  Infinity,
  -Infinity,
  2 ** -24,
  2 ** -25,
  2 ** -25 * 1.0000001,
  3 * 2 ** -25,
  2 ** -14,
  2 ** -14 - 2 ** -25,
  1 + 2 ** -11,
  1 + 3 * 2 ** -11,
  1 + 2 ** -11 + 2 ** -20,
  1e-8,
  6.1e-5,
  0.1,
  1 / 3,
]);

Deno.test("float16: float32 → binary16 is the nearest half, ties to even, against a float64 reference", () => {
  const check = (x: number) => {
    const got = _toFloat16Bits(new Float32Array([x]))[0];
    assertEquals(got, refToHalf(Math.fround(x)), `${x}`);
  };
  for (const x of EDGES) check(x);
  fc.assert(
    fc.property(fc.float({ noNaN: true }), check),
    { seed: FC_SEED, numRuns: 5000 },
  );
  // values in the half range, where every rounding case is exercised densely
  fc.assert(
    fc.property(fc.float({ min: -70000, max: 70000, noNaN: true }), check),
    { seed: FC_SEED, numRuns: 5000 },
  );
  const nan = _toFloat16Bits(new Float32Array([NaN]))[0];
  assertTrue((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, `NaN stays NaN, got ${nan}`);
});

Deno.test("float16: every binary16 and bfloat16 pattern decodes exactly, and halves round-trip", () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const half = _fromFloat16Bits(all);
  const back = _toFloat16Bits(half);
  const words = new DataView(new ArrayBuffer(4));
  const bf = _fromBfloat16Bits(all);
  for (let h = 0; h < 65536; h++) {
    const want = refHalf(h);
    if (Number.isNaN(want)) assertTrue(Number.isNaN(half[h]), `${h} is NaN`);
    else {
      assertTrue(Object.is(half[h], want), `half ${h}: ${half[h]} ≠ ${want}`);
      assertEquals(back[h], h, `pattern ${h} round-trips`);
    }
    words.setUint32(0, h << 16 >>> 0);
    const bfWant = words.getFloat32(0);
    assertTrue(
      Object.is(bf[h], bfWant) || (Number.isNaN(bfWant) && Number.isNaN(bf[h])),
      `bf ${h}`,
    );
  }
});

Deno.test("float16: rounding agrees with numpy's float32 → float16 bit for bit", () => {
  const rand = fc.sample(fc.float({ min: -70000, max: 70000, noNaN: true }), {
    seed: FC_SEED,
    numRuns: 4000,
  });
  const values = Float32Array.from([...EDGES, ...rand]);
  const path = Deno.makeTempFileSync({ suffix: ".f32" });
  Deno.writeFileSync(path, new Uint8Array(values.buffer));
  const out = new Deno.Command("python3", {
    args: [
      "-c",
      "import sys, numpy as np; a = np.fromfile(sys.argv[1], dtype='<f4'); " +
      "sys.stdout.buffer.write(a.astype('<f2').tobytes())",
      path,
    ],
  }).outputSync();
  assertTrue(out.success, new TextDecoder().decode(out.stderr));
  const numpy = new Uint16Array(new Uint8Array(out.stdout).buffer);
  assertEquals(Array.from(_toFloat16Bits(values)), Array.from(numpy));
});

Deno.test("safetensors: F16 and BF16 tensors round-trip, Python reads F16 as numpy.float16, bad dtypes are named", () => {
  const data = Float32Array.from({ length: 6 }, (_, i) => (i - 2) / 8);
  const tensors = new Map<string, StoredTensor>([
    ["h", { dtype: "F16", shape: [2, 3], data: _toFloat16Bits(data) }],
    ["b", { dtype: "BF16", shape: [1], data: new Uint16Array([0xbfc0]) }], // -1.5
  ]);
  const bytes = encodeSafetensors(tensors);
  const back = decodeSafetensors(bytes);
  assertEquals(back.tensors.get("h"), tensors.get("h"));
  assertEquals(storedToFloat32(back.tensors.get("h")!), data); // eighths are exact halves
  assertEquals(storedToFloat32(back.tensors.get("b")!), new Float32Array([-1.5]));
  const path = Deno.makeTempFileSync({ suffix: ".safetensors" });
  Deno.writeFileSync(path, encodeSafetensors(new Map([["h", tensors.get("h")!]])));
  const py = new Deno.Command("python3", {
    args: [new URL("./py/read_safetensors.py", import.meta.url).pathname, path],
  }).outputSync();
  assertTrue(py.success, new TextDecoder().decode(py.stderr));
  const got = JSON.parse(new TextDecoder().decode(py.stdout));
  assertEquals(got.tensors.h, [[2, 3], data.reduce((a, b) => a + b, 0)]);
  assertThrows(
    () => encodeSafetensors(new Map([["h", { ...tensors.get("h")!, data }]])),
    RangeError,
    "h is F16 but its data is not a Uint16Array",
  );
  assertThrows(
    () => storedToFloat32({ dtype: "U8", shape: [1], data: new Uint8Array(1) }),
    RangeError,
    "Cannot read a tensor as float32: its dtype must be F32, F16 or BF16, got U8",
  );
  const i64 = new TextEncoder().encode(
    JSON.stringify({ x: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }),
  );
  const file = new Uint8Array(8 + i64.length + 8);
  new DataView(file.buffer).setBigUint64(0, BigInt(i64.length), true);
  file.set(i64, 8);
  assertThrows(
    () => decodeSafetensors(file),
    Error,
    'x has unsupported dtype "I64" (this reader handles F32, F16, BF16 and U8)',
  );
});

Deno.test("checkpoint float16: sampling weights in half precision (half the bytes), training state float32, CRC checked", async () => {
  const weights = (seed: number) =>
    new Map([["conv_in.w", {
      shape: [4, 64],
      data: Float32Array.from({ length: 256 }, (_, i) => Math.sin(seed * 1000 + i) * 0.3),
    }]]);
  const config = { unet: TINY, schedule: { kind: "linear" as const, T: 10 } };
  const ckpt = { config, ema: weights(1), params: weights(2), adamM: weights(3) };
  const full = encodeCheckpoint(ckpt);
  const half = encodeCheckpoint(ckpt, { float16: true });
  // the ema group shrinks from 1,024 to 512 bytes, the training state does not
  assertEquals(full.length - half.length, 512);
  const back = await loadCheckpoint(half);
  const rounded = _fromFloat16Bits(_toFloat16Bits(ckpt.ema.get("conv_in.w")!.data));
  assertEquals(back.ema.get("conv_in.w")!.data, rounded);
  assertEquals(back.params!.get("conv_in.w")!.data, ckpt.params.get("conv_in.w")!.data);
  assertEquals(back.adamM!.get("conv_in.w")!.data, ckpt.adamM.get("conv_in.w")!.data);
  // float16 is relative error ≤ 2^-11 for normal values: these weights (|w| ≤ 0.3, none below
  // 2^-14 except exact zeros, which stay exact) are within it
  const w = ckpt.ema.get("conv_in.w")!.data;
  for (let i = 0; i < w.length; i++) {
    assertTrue(Math.abs(rounded[i] - w[i]) <= Math.abs(w[i]) * 2 ** -11, `${i}`);
  }
  const st = decodeSafetensors(half);
  assertEquals(st.tensors.get("ema.conv_in.w")!.dtype, "F16");
  assertEquals(st.tensors.get("params.conv_in.w")!.dtype, "F32");
  const corrupt = half.slice();
  corrupt[corrupt.length - 1] ^= 1; // a bit of the last tensor (adam_m, float32)
  const emaAt = half.length - 1024 - 1; // a bit of the float16 ema group, just before adam_m
  const corruptHalf = half.slice();
  corruptHalf[emaAt] ^= 1;
  for (const bad of [corrupt, corruptHalf]) {
    await assertRejects(() => loadCheckpoint(bad), Error, "fail their CRC-32C check");
  }
  assertThrows(
    // @ts-expect-error: a string where a boolean belongs
    () => encodeCheckpoint(ckpt, { float16: "yes" }),
    TypeError,
    "Cannot encode checkpoint: options.float16 must be a boolean, got yes",
  );
});
