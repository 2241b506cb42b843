// A DDPM on a 2-D data set with a small MLP ε-model: trains with epsLoss (Algorithm 1) and
// samples with pSampleLoop (Algorithm 2), then writes a PNG with the data and the samples
// side by side. About 80 s on a 2-core CPU (2,000 steps, wasm backend).
//
//   deno run -A examples/toy2d.ts [--data swissroll|moons|gaussians] [--steps 2000]
//                                 [--backend auto|webgpu|wasm|cpu] [--out out/toy2d.png]
//   bun examples/toy2d.ts --steps 200        (the same, under Bun)
import * as tf from "@tensorflow/tfjs-core";
import { encode } from "fast-png";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  type BackendName,
  epsLoss,
  type EpsModel,
  initBackend,
  makeSchedule,
  pSampleLoop,
} from "../mod.ts";

type DataName = "swissroll" | "moons" | "gaussians";

function _args(argv: string[]) {
  const opts = {
    data: "swissroll" as DataName,
    steps: 2000,
    backend: "wasm",
    out: "out/toy2d.png",
    seed: 0,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ""), argv[i + 1]];
    if (!(k in opts) || v === undefined) {
      throw new Error(`toy2d: unknown or incomplete option ${argv[i]}`);
    }
    (opts as Record<string, unknown>)[k] = ["steps", "seed"].includes(k) ? Number(v) : v;
  }
  if (!["swissroll", "moons", "gaussians"].includes(opts.data)) {
    throw new Error(`toy2d: --data must be swissroll, moons or gaussians, got ${opts.data}`);
  }
  if (!Number.isInteger(opts.steps) || opts.steps < 1) {
    throw new Error(`toy2d: --steps must be >= 1`);
  }
  return opts;
}

/** n points of a 2-D data set, scaled to about [-1, 1]². */
function makeData(name: DataName, n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n * 2);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (let i = 0; i < n; i++) {
    let x: number, y: number;
    if (name === "swissroll") {
      const t = 1.5 * Math.PI * (1 + 2 * rand());
      [x, y] = [t * Math.cos(t) / 10 + 0.03 * gauss(), t * Math.sin(t) / 10 + 0.03 * gauss()];
    } else if (name === "moons") {
      const a = Math.PI * rand(), upper = rand() < 0.5;
      [x, y] = upper
        ? [Math.cos(a) - 0.5, Math.sin(a) - 0.25]
        : [0.5 - Math.cos(a), 0.25 - Math.sin(a)];
      [x, y] = [x * 0.8 + 0.04 * gauss(), y * 0.8 + 0.04 * gauss()];
    } else {
      const k = Math.floor(8 * rand()), a = k * Math.PI / 4;
      [x, y] = [0.8 * Math.cos(a) + 0.05 * gauss(), 0.8 * Math.sin(a) + 0.05 * gauss()];
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/**
 * An MLP ε-model: [sinusoidal(x), sinusoidal(y), sinusoidal(t)] → 128 → 128 → 128 → 2 with
 * SiLU. Sinusoidal features of the coordinates (as tiny-diffusion uses) let a small MLP
 * learn the thin structures of these data sets quickly.
 */
function makeMlp(T: number, seed: number): { model: EpsModel; vars: tf.Variable[] } {
  const dims = [16 + 16 + 16, 128, 128, 128, 2];
  const vars: tf.Variable[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    const scale = Math.sqrt(2 / dims[l]); // He initialisation
    vars.push(tf.variable(tf.randomNormal([dims[l], dims[l + 1]], 0, scale, "float32", seed + l)));
    vars.push(tf.variable(tf.zeros([dims[l + 1]])));
  }
  const freqs = tf.tensor1d(Array.from({ length: 8 }, (_, i) => Math.exp(-Math.log(1000) * i / 8)));
  const model: EpsModel = (x, t) =>
    tf.tidy(() => {
      // sinusoidal embedding of t/T·1000: [B, 16]
      const arg = tf.mul(tf.reshape(tf.mul(tf.cast(t, "float32"), 1000 / T), [-1, 1]), freqs);
      // sinusoidal features of each coordinate, scaled by 25: [B, 16] each
      const xs = tf.split(tf.mul(x, 25), 2, 1).map((c) => tf.mul(c, freqs));
      let h: tf.Tensor = tf.concat([
        ...xs.flatMap((c) => [tf.sin(c), tf.cos(c)]),
        tf.sin(arg),
        tf.cos(arg),
      ], 1); // [B, 48]
      for (let l = 0; l < vars.length; l += 2) {
        h = tf.add(tf.matMul(h as tf.Tensor2D, vars[l] as tf.Variable<tf.Rank.R2>), vars[l + 1]);
        if (l + 2 < vars.length) h = tf.mul(h, tf.sigmoid(h)); // SiLU
      }
      return h;
    });
  return { model, vars };
}

/** Draws two scatter panels (data, samples) into an RGB PNG. */
function scatterPng(panels: Float32Array[], size = 320): Uint8Array {
  const w = size * panels.length, h = size;
  const px = new Uint8Array(w * h * 3).fill(255);
  panels.forEach((pts, p) => {
    for (let y = 0; y < h; y++) px.fill(200, (y * w + p * size) * 3, (y * w + p * size) * 3 + 3); // divider
    for (let i = 0; i < pts.length; i += 2) {
      const cx = Math.round((pts[i] / 1.6 + 1) / 2 * (size - 1)) + p * size;
      const cy = Math.round((1 - pts[i + 1] / 1.6) / 2 * (size - 1));
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const [x, y] = [cx + dx, cy + dy];
          if (x < p * size || x >= (p + 1) * size || y < 0 || y >= h) continue;
          const o = (y * w + x) * 3;
          [px[o], px[o + 1], px[o + 2]] = p === 0 ? [40, 90, 200] : [220, 70, 40];
        }
      }
    }
  });
  return encode({ width: w, height: h, data: px, channels: 3, depth: 8 });
}

if (import.meta.main) {
  const g = globalThis as unknown as { Deno?: { args: string[] }; process: { argv: string[] } };
  const opts = _args(g.Deno?.args ?? g.process.argv.slice(2));
  const info = await initBackend(opts.backend as BackendName | "auto");
  console.log(`backend: ${info.backend} (${info.runtime})`);
  let r = opts.seed + 1;
  const rand = () => { // mulberry32
    r = (r + 0x6d2b79f5) | 0;
    let t = Math.imul(r ^ (r >>> 15), 1 | r);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = makeData(opts.data, 8192, rand);
  const s = makeSchedule({ kind: "linear", T: 100 });
  const { model, vars } = makeMlp(s.T, opts.seed);
  // Adam with the learning rate decayed on a cosine from 2e-3 to 0
  const lr = (step: number) => 2e-3 * 0.5 * (1 + Math.cos(Math.PI * step / opts.steps));
  const optimizer = tf.train.adam(lr(0));
  const dataT = tf.tensor2d(data, [8192, 2]);
  const start = performance.now();
  for (let step = 1; step <= opts.steps; step++) {
    const idx = tf.tensor1d(Array.from({ length: 256 }, () => Math.floor(rand() * 8192)), "int32");
    const x0 = tf.gather(dataT, idx);
    (optimizer as unknown as { learningRate: number }).learningRate = lr(step);
    const loss = optimizer.minimize(
      () => epsLoss(model, s, { x0, seed: opts.seed * 100003 + step }),
      true,
      vars,
    );
    if (step % 500 === 0 || step === opts.steps) {
      const sec = (performance.now() - start) / 1000;
      console.log(
        `step ${step}/${opts.steps}  loss ${(await loss!.data())[0].toFixed(4)}  ${
          (step / sec).toFixed(0)
        } steps/s`,
      );
    }
    tf.dispose([idx, x0, loss!]);
  }
  const samples = await pSampleLoop(model, s, {
    shape: [2000, 2],
    seed: opts.seed,
    clipDenoised: false,
  });
  const pts = await samples.data() as Float32Array;
  samples.dispose();
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, scatterPng([data.subarray(0, 4000), pts]));
  console.log(
    `wrote ${opts.out} (data left, 2000 samples right) in ${
      ((performance.now() - start) / 1000).toFixed(1)
    } s`,
  );
}
