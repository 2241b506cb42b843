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
  createToyMlp,
  epsLoss,
  initBackend,
  makeSchedule,
  pSampleLoop,
  TOY2D_NAMES,
  toy2dData,
  type Toy2dName,
} from "../mod.ts";

function _args(argv: string[]) {
  const opts = {
    data: "swissroll" as Toy2dName,
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
  if (!TOY2D_NAMES.includes(opts.data)) {
    throw new Error(`toy2d: --data must be swissroll, moons or gaussians, got ${opts.data}`);
  }
  if (!Number.isInteger(opts.steps) || opts.steps < 1) {
    throw new Error(`toy2d: --steps must be >= 1`);
  }
  return opts;
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
  const data = toy2dData(opts.data, 8192, opts.seed);
  const s = makeSchedule({ kind: "linear", T: 100 });
  const { model, variables: vars } = createToyMlp(s.T, opts.seed);
  // Adam with the learning rate decayed on a cosine from 2e-3 to 0
  const lr = (step: number) => 2e-3 * 0.5 * (1 + Math.cos(Math.PI * step / opts.steps));
  const optimizer = tf.train.adam(lr(0));
  const dataT = tf.tensor2d(data, [8192, 2]);
  const start = performance.now();
  for (let step = 1; step <= opts.steps; step++) {
    const idx = tf.randomUniform([256], 0, 8192, "int32", `batch:${opts.seed}:${step}`);
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
