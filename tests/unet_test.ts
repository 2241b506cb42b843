// The U-Net: exact parameter counts, each layer against a float64 reference, the same outputs
// and gradients on every backend, dropout seeding, bad configurations.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { createUNet, timestepEmbedding, type UNetConfig, unetPresets } from "../mod.ts";
import { TINY } from "./_tiny.ts";
import { _conv3x3 } from "../src/_nn/conv2d.ts";
import { _groupNorm, _spread2x } from "../src/_nn/layers.ts";
import { _batchMatMul } from "../src/_nn/matmul.ts";
import { _uniformGenerator } from "../src/_random.ts";
import { assertClose, BACKENDS, backendTest, read, useBackend } from "./_helpers.ts";
import { assertEquals, assertThrows, assertTrue } from "./_assert.ts";

const FC_SEED = Number(Deno.env.get("DDPM_FC_SEED") ?? 42);

Deno.test("createUNet: the mnist and cifar10 presets have exactly the issue's parameter counts", async () => {
  await useBackend("cpu");
  const mnist = createUNet(unetPresets.mnist);
  assertEquals(mnist.numParams, 1_623_169);
  assertEquals([...mnist.params.values()].reduce((a, p) => a + p.size, 0), 1_623_169);
  mnist.dispose();
  const cifar = createUNet(unetPresets.cifar10);
  assertEquals(cifar.numParams, 35_746_307); // the paper's 35.7M
  cifar.dispose();
});

Deno.test("createUNet: the same seed gives the same weights, another seed others", async () => {
  await useBackend("cpu");
  const [a, b, c] = [
    createUNet(TINY, { seed: 3 }),
    createUNet(TINY, { seed: 3 }),
    createUNet(TINY, { seed: 4 }),
  ];
  const w = (u: typeof a) => u.params.get("down.0.res.0.conv1.w")!.dataSync();
  assertEquals(w(a), w(b));
  assertTrue(w(a).some((v, i) => v !== w(c)[i]), "seed 4 differs from seed 3");
  [a, b, c].forEach((u) => u.dispose());
});

// --- layers against float64 references ---------------------------------------------------

/** Uniform values in [-1, 1) from a seed, as float32. */
function _values(n: number, seed: number): Float32Array {
  const u = _uniformGenerator(seed, 7);
  return Float32Array.from({ length: n }, () => 2 * u() - 1);
}

backendTest("conv3x3 (stride 1 and 2, padding 1) matches a float64 loop", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 3, max: 9 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom(1 as const, 2 as const),
      fc.integer(),
      async (B, H, Ci, Co, s, seed) => {
        const [xv, wv, bv] = [
          _values(B * H * H * Ci, seed),
          _values(9 * Ci * Co, seed + 1),
          _values(Co, seed + 2),
        ];
        const Ho = Math.floor((H + 2 - 3) / s) + 1;
        const ref: number[] = [], scale: number[] = [];
        for (let b = 0; b < B; b++) {
          for (let y = 0; y < Ho; y++) {
            for (let x = 0; x < Ho; x++) {
              for (let o = 0; o < Co; o++) {
                let sum = bv[o], mag = Math.abs(bv[o]);
                for (let kh = 0; kh < 3; kh++) {
                  for (let kw = 0; kw < 3; kw++) {
                    const [iy, ix] = [s * y + kh - 1, s * x + kw - 1];
                    if (iy < 0 || ix < 0 || iy >= H || ix >= H) continue;
                    for (let c = 0; c < Ci; c++) {
                      const term = xv[((b * H + iy) * H + ix) * Ci + c] *
                        wv[((kh * 3 + kw) * Ci + c) * Co + o];
                      sum += term;
                      mag += Math.abs(term);
                    }
                  }
                }
                ref.push(sum);
                scale.push(mag);
              }
            }
          }
        }
        const got = await read(
          _conv3x3(
            tf.tensor4d(xv, [B, H, H, Ci]),
            tf.tensor4d(wv, [3, 3, Ci, Co]),
            tf.tensor1d(bv),
            s,
          ),
        );
        // float32 sums of ≤ 9·Ci + 1 terms: error ≤ (terms) · 2⁻²⁴ · Σ|terms| ≈ 3e-6 · Σ|terms|
        assertClose(got, ref, `conv3x3 B=${B} H=${H} Ci=${Ci} Co=${Co} s=${s}`, {
          atol: 1e-6,
          rtol: 1e-5,
          scale,
        });
      },
    ),
    { seed: FC_SEED, numRuns: 20 },
  );
});

backendTest("conv3x3 gradients (our conv-only formulas) match a float64 loop", async () => {
  // d/dx, d/dw and d/db of Σ r ⊙ (conv(x, w) + b): dx = Σ r·w over the outputs each input
  // feeds, dw = Σ r·x over the positions, db = Σ r; checked on odd and even sizes, strides 1
  // and 2, padding 1 on each side and TensorFlow's "same" at stride 2 (none before x).
  const cases = [[7, 1, "symmetric"], [8, 2, "symmetric"], [7, 2, "symmetric"], [8, 2, "same"]];
  for (const [H, s, padding] of cases as [number, 1 | 2, "symmetric" | "same"][]) {
    const [B, Ci, Co] = [2, 3, 4];
    const before = padding === "same" && s === 2 ? 0 : 1;
    const Ho = Math.floor((H + before + 1 - 3) / s) + 1;
    const [xv, wv, rv] = [
      _values(B * H * H * Ci, H),
      _values(9 * Ci * Co, H + 1),
      _values(B * Ho * Ho * Co, H + 2),
    ];
    const dx = new Float64Array(xv.length), dw = new Float64Array(wv.length);
    const sx = new Float64Array(xv.length), sw = new Float64Array(wv.length);
    const db = new Float64Array(Co), sb = new Float64Array(Co);
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < Ho; y++) {
        for (let x = 0; x < Ho; x++) {
          for (let o = 0; o < Co; o++) {
            const r = rv[((b * Ho + y) * Ho + x) * Co + o];
            db[o] += r;
            sb[o] += Math.abs(r);
            for (let kh = 0; kh < 3; kh++) {
              for (let kw = 0; kw < 3; kw++) {
                const [iy, ix] = [s * y + kh - before, s * x + kw - before];
                if (iy < 0 || ix < 0 || iy >= H || ix >= H) continue;
                for (let c = 0; c < Ci; c++) {
                  const xi = ((b * H + iy) * H + ix) * Ci + c,
                    wi = ((kh * 3 + kw) * Ci + c) * Co + o;
                  dx[xi] += r * wv[wi];
                  sx[xi] += Math.abs(r * wv[wi]);
                  dw[wi] += r * xv[xi];
                  sw[wi] += Math.abs(r * xv[xi]);
                }
              }
            }
          }
        }
      }
    }
    const r = tf.tensor4d(rv, [B, Ho, Ho, Co]);
    const g = tf.grads((x, w, bias) => tf.sum(tf.mul(_conv3x3(x, w, bias, s, padding), r)));
    const [gx, gw, gb] = g([
      tf.tensor4d(xv, [B, H, H, Ci]),
      tf.tensor4d(wv, [3, 3, Ci, Co]),
      tf.zeros([Co]),
    ]);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    const what = `H=${H} s=${s} ${padding}`;
    assertClose(await read(gx), dx, `dx ${what}`, { ...tol, scale: sx });
    assertClose(await read(gw), dw, `dw ${what}`, { ...tol, scale: sw });
    assertClose(await read(gb), db, `db ${what}`, { ...tol, scale: sb });
    r.dispose();
  }
});

backendTest(
  "_batchMatMul (and _matMul, its 2-D product) and its gradients match float64 loops",
  async () => {
    // d/da and d/db of Σ r ⊙ op(a)·op(b): da = r·op(b)ᵀ, db = op(a)ᵀ·r, then op's transpose;
    // on wasm these go through explicit transposes and per-slice 2-D products (src/_nn/matmul.ts)
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        async (B, N, K, M, tA, tB, seed) => {
          const [av, bv, rv] = [
            _values(B * N * K, seed),
            _values(B * K * M, seed + 1),
            _values(B * N * M, seed + 2),
          ];
          // op(a)[b, i, k] and op(b)[b, k, j] read from the stored layouts
          const ai = (b: number, i: number, k: number) => b * N * K + (tA ? k * N + i : i * K + k);
          const bi = (b: number, k: number, j: number) => b * K * M + (tB ? j * K + k : k * M + j);
          const y = new Float64Array(B * N * M),
            da = new Float64Array(av.length),
            db = new Float64Array(bv.length);
          const [sy, sa, sb] = [
            new Float64Array(y.length),
            new Float64Array(da.length),
            new Float64Array(db.length),
          ];
          for (let b = 0; b < B; b++) {
            for (let i = 0; i < N; i++) {
              for (let j = 0; j < M; j++) {
                const o = (b * N + i) * M + j;
                for (let k = 0; k < K; k++) {
                  const [p, q] = [av[ai(b, i, k)], bv[bi(b, k, j)]];
                  y[o] += p * q;
                  sy[o] += Math.abs(p * q);
                  da[ai(b, i, k)] += rv[o] * q;
                  sa[ai(b, i, k)] += Math.abs(rv[o] * q);
                  db[bi(b, k, j)] += p * rv[o];
                  sb[bi(b, k, j)] += Math.abs(p * rv[o]);
                }
              }
            }
          }
          const a = tf.tensor3d(av, tA ? [B, K, N] : [B, N, K]),
            bt = tf.tensor3d(bv, tB ? [B, M, K] : [B, K, M]);
          const r = tf.tensor3d(rv, [B, N, M]);
          const f = (x: tf.Tensor, z: tf.Tensor) =>
            _batchMatMul(x as tf.Tensor3D, z as tf.Tensor3D, tA, tB);
          const [ga, gb] = tf.grads((x, z) => tf.sum(tf.mul(f(x, z), r)))([a, bt]);
          // float32 sums of ≤ 6 products of values in [-1, 1]
          const tol = { atol: 1e-6, rtol: 1e-5 },
            what = `B=${B} N=${N} K=${K} M=${M} tA=${tA} tB=${tB}`;
          assertClose(await read(f(a, bt)), y, `value ${what}`, { ...tol, scale: sy });
          assertClose(await read(ga), da, `da ${what}`, { ...tol, scale: sa });
          assertClose(await read(gb), db, `db ${what}`, { ...tol, scale: sb });
          tf.dispose([a, bt, r, ga, gb]);
        },
      ),
      { seed: FC_SEED, numRuns: 25 },
    );
  },
);

backendTest(
  "_spread2x (nearest ×2 upsampling, zero insertion) and its gradient match loops",
  async () => {
    const [B, H, W, C] = [2, 3, 4, 5];
    const u = _uniformGenerator(21, 0);
    const xv = Float32Array.from({ length: B * H * W * C }, () => 2 * u() - 1);
    const gv = Float32Array.from({ length: B * 4 * H * W * C }, () => 2 * u() - 1); // dL/dy
    const x = tf.tensor4d(xv, [B, H, W, C]), dy = tf.tensor4d(gv, [B, 2 * H, 2 * W, C]);
    for (const mode of ["repeat", "zeros"] as const) {
      const want = new Float64Array(gv.length), wantGrad = new Float64Array(xv.length);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < 2 * H; i++) {
          for (let j = 0; j < 2 * W; j++) {
            for (let c = 0; c < C; c++) {
              const on = mode === "repeat" || (i % 2 === 0 && j % 2 === 0);
              const src = ((b * H + (i >> 1)) * W + (j >> 1)) * C + c;
              const dst = ((b * 2 * H + i) * 2 * W + j) * C + c;
              want[dst] = on ? xv[src] : 0;
              if (on) wantGrad[src] += gv[dst];
            }
          }
        }
      }
      assertClose(await read(_spread2x(x, mode)), want, `${mode} values`, { atol: 0, rtol: 0 });
      const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(_spread2x(v, mode), dy)))(x);
      // sums of ≤ 4 products of values in [-1, 1] in float32
      assertClose(await read(grad), wantGrad, `${mode} gradient`, { atol: 1e-6, rtol: 1e-6 });
    }
    tf.dispose([x, dy]);
  },
);

/** Float64 group norm of x [B, H·W, C] flattened NHWC, as the library defines it. */
function _refGroupNorm(
  xv: ArrayLike<number>,
  [B, H, W, C, G]: number[],
  gv: ArrayLike<number>,
  bv: ArrayLike<number>,
  eps = 1e-5,
): Float64Array {
  const ref = new Float64Array(xv.length);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < G; g++) {
      const idx: number[] = [];
      for (let p = 0; p < H * W; p++) {
        for (let c = g * (C / G); c < (g + 1) * (C / G); c++) idx.push((b * H * W + p) * C + c);
      }
      const mean = idx.reduce((a, i) => a + xv[i], 0) / idx.length;
      const v = idx.reduce((a, i) => a + (xv[i] - mean) ** 2, 0) / idx.length;
      for (const i of idx) ref[i] = (xv[i] - mean) / Math.sqrt(v + eps) * gv[i % C] + bv[i % C];
    }
  }
  return ref;
}

backendTest("groupNorm and its gradients match a float64 reference", async () => {
  const dims = [2, 3, 4, 8, 4], [B, H, W, C, G] = dims;
  const xv = _values(B * H * W * C, 5).map((v, i) => v * 3 + (i % 5)); // nonzero group means
  const gv = _values(C, 6), bv = _values(C, 7), rv = _values(xv.length, 8);
  const ref = _refGroupNorm(xv, dims, gv, bv);
  const x = tf.tensor4d(xv, [B, H, W, C]), gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv);
  const got = await read(_groupNorm(x, gamma, beta, G));
  // normalized values are O(1); float32 mean/variance over 24 values: ≈ 1e-6 relative
  assertClose(got, ref, "groupNorm", { atol: 1e-5, rtol: 1e-5 });
  // ε honoured (the paper's 1e-6): on values of spread 1e-3 (variance ~1e-6) ε moves the output
  // by ~30% between 1e-5 and 1e-6, far beyond the float32 error
  for (const eps of [1e-5, 1e-6]) {
    const small = xv.map((v) => v * 1e-3);
    const gotSmall = await read(_groupNorm(tf.tensor4d(small, [B, H, W, C]), gamma, beta, G, eps));
    assertClose(gotSmall, _refGroupNorm(small, dims, gv, bv, eps), `groupNorm ε ${eps}`, {
      atol: 1e-4,
      rtol: 1e-4,
    });
  }
  // gradients of L = Σ r ⊙ GN(x) against float64 central differences (h = 1e-5: error ~1e-10)
  const loss = (xs: ArrayLike<number>, gs: ArrayLike<number>, bs: ArrayLike<number>) =>
    _refGroupNorm(xs, dims, gs, bs).reduce((a, v, i) => a + v * rv[i], 0);
  const fd = (which: 0 | 1 | 2, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const args = [Array.from(xv), Array.from(gv), Array.from(bv)];
      const [up, down] = [args.map((a) => [...a]), args.map((a) => [...a])];
      up[which][i] += 1e-5;
      down[which][i] -= 1e-5;
      return (loss(up[0], up[1], up[2]) - loss(down[0], down[1], down[2])) / 2e-5;
    });
  const r = tf.tensor4d(rv, [B, H, W, C]);
  const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(_groupNorm(a, g, b, G), r))
  )([x, gamma, beta]);
  // dx sums 24 terms of size ~|r|·|γ|/σ; float32: 1e-4 absolute
  assertClose(await read(grads[0]), fd(0, xv.length), "d/dx", { atol: 1e-4, rtol: 1e-4 });
  assertClose(await read(grads[1]), fd(1, C), "d/dγ", { atol: 1e-4, rtol: 1e-4 });
  assertClose(await read(grads[2]), fd(2, C), "d/dβ", { atol: 1e-4, rtol: 1e-4 });
  tf.dispose([x, gamma, beta, r]);
});

backendTest("timestepEmbedding matches the float64 formula", async () => {
  const ts = [0, 1, 17, 500, 999];
  const dim = 32, half = 16;
  const ref: number[] = [];
  for (const t of ts) {
    const f = Array.from({ length: half }, (_, i) => Math.exp(-Math.log(10000) * i / (half - 1)));
    ref.push(...f.map((v) => Math.sin(t * v)), ...f.map((v) => Math.cos(t * v)));
  }
  const got = await read(timestepEmbedding(tf.tensor1d(ts, "int32"), dim));
  // sin/cos of arguments up to 999: float32 rounds t·f to 2⁻²⁴·999 ≈ 6e-5 absolute
  assertClose(got, ref, "timestepEmbedding", { atol: 1e-4, rtol: 0 });
});

// --- whole network on every backend -------------------------------------------------------

/** A tiny U-Net whose zero-initialised layers are randomised too, so every path matters. */
function _randomized(seed: number) {
  const unet = createUNet(TINY, { seed });
  let k = 0;
  for (const p of unet.params.values()) {
    p.assign(tf.tensor(_values(p.size, seed * 1000 + k++).map((v) => v * 0.3), p.shape));
  }
  return unet;
}

const _x = () => tf.tensor4d(_values(2 * 8 * 8, 99), [2, 8, 8, 1]);
const _t = () => tf.tensor1d([3, 870], "int32");

async function _forwardAndGrads(backend: string) {
  await useBackend(backend as "cpu");
  const unet = _randomized(1);
  const [x, t] = [_x(), _t()];
  const out = await read(unet(x, t));
  const names = [...unet.params.keys()];
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(unet(x, t))) as tf.Scalar, [
    ...unet.params.values(),
  ]);
  const g = new Map<string, Float32Array>();
  for (const [i, v] of [...unet.params.values()].entries()) {
    g.set(names[i], await read(grads[v.name]));
  }
  value.dispose();
  x.dispose();
  t.dispose();
  unet.dispose();
  return { out, g };
}

Deno.test({
  name: `U-Net: outputs and gradients agree on ${BACKENDS.join(", ")}`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const ref = await _forwardAndGrads("cpu");
    assertTrue(
      ref.out.some((v) => Math.abs(v) > 0.1),
      "randomised U-Net output is not trivially small",
    );
    for (const b of BACKENDS.filter((b) => b !== "cpu")) {
      const got = await _forwardAndGrads(b);
      // ~20 layers of float32 sums with different orders per backend: 1e-4 relative to the
      // output's magnitude (max |out| ≈ 1), far below any real bug (which moves O(1) values)
      const outScale = Math.max(...ref.out.map(Math.abs));
      assertClose(got.out, ref.out, `U-Net output on ${b}`, { atol: 1e-4 * outScale, rtol: 1e-4 });
      for (const [name, g] of ref.g) {
        const scale = Math.max(1e-3, ...g.map(Math.abs));
        assertClose(got.g.get(name)!, g, `gradient of ${name} on ${b}`, {
          atol: 2e-4 * scale,
          rtol: 1e-3,
        });
      }
    }
  },
});

backendTest(
  "U-Net: withDropout(seed) is deterministic per seed; the plain call has no dropout",
  async () => {
    const unet = _randomized(2);
    const [x, t] = [_x(), _t()];
    const plain = [await read(unet(x, t)), await read(unet(x, t))];
    assertEquals(plain[0], plain[1]);
    const d1 = [await read(unet.withDropout(7)(x, t)), await read(unet.withDropout(7)(x, t))];
    const d2 = await read(unet.withDropout(8)(x, t));
    assertEquals(d1[0], d1[1]);
    assertTrue(d1[0].some((v, i) => v !== d2[i]), "seed 8's masks differ from seed 7's");
    assertTrue(d1[0].some((v, i) => v !== plain[0][i]), "dropout changes the output");
    x.dispose();
    t.dispose();
    unet.dispose();
  },
);

backendTest("U-Net: no leak over forward passes and gradient steps", () => {
  const unet = createUNet(TINY);
  const [x, t] = [_x(), _t()];
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose(unet(x, t));
    const { value, grads } = tf.variableGrads(
      () => tf.mean(unet.withDropout(i)(x, t)) as tf.Scalar,
      [...unet.params.values()],
    );
    tf.dispose([value, ...Object.values(grads)]);
  }
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([x, t]);
  unet.dispose();
});

Deno.test("createUNet and the U-Net reject bad configurations and inputs, naming the field", async () => {
  await useBackend("cpu");
  const bad: [Partial<UNetConfig>, string][] = [
    [{ groups: 3 }, "groups must divide every normalized width"],
    [{ imageSize: 9 }, "imageSize must be divisible by 2^(chMult.length - 1) = 2, got 9"],
    [{ dropout: 1 }, "dropout must be in [0, 1), got 1"],
    [{ ch: 7 }, "ch must be even"],
    [{ chMult: [] }, "chMult must be a non-empty array"],
    [{ numResBlocks: 0 }, "numResBlocks must be a positive integer, got 0"],
    [{ inChannels: 1.5 }, "inChannels must be a positive integer, got 1.5"],
    [{ numHeads: 3 }, "numHeads 3 must divide the attention width 16"],
    [{ headDim: 5 }, "headDim 5 must divide the attention width 16"],
    [{ numHeads: 2, headDim: 8 }, "give numHeads or headDim, not both"],
    [{ groupNormEps: 0 }, "groupNormEps must be in (0, 1), got 0"],
    [
      { downsamplePadding: "valid" as "same" },
      'downsamplePadding must be "symmetric" or "same", got valid',
    ],
    [
      { timestepEmbedding: { flipSinToCos: true, freqShift: 4 } },
      "timestepEmbedding must be { flipSinToCos: boolean, freqShift in [0, 4) }",
    ],
  ];
  for (const [patch, msg] of bad) {
    assertThrows(() => createUNet({ ...TINY, ...patch }), RangeError, msg);
  }
  const unet = createUNet(TINY);
  assertThrows(
    () => unet(tf.zeros([2, 8, 8, 3]), tf.tensor1d([0, 1], "int32")),
    RangeError,
    "xt must be [B, 8, 8, 1], got [2,8,8,3]",
  );
  unet.dispose();
});
