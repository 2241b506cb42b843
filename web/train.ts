/// <reference lib="dom" />
// The train-in-this-tab page: the 2-D toy (swiss roll, two moons, 8 Gaussians) with a small MLP,
// its loss curve and a scatter of fresh samples updated live; and the mnist U-Net on the built-in
// digits (trainLoop, in memory), with a progress bar, its loss curve, a sample grid every N steps
// and the checkpoint to download (`deno task sample --checkpoint` reads it).
import * as tf from "@tensorflow/tfjs-core";
import {
  type Checkpoint,
  createToyMlp,
  encodeCheckpoint,
  epsLoss,
  lossCurveSvg,
  makeSchedule,
  pSampleLoop,
  toUint8,
  toy2dData,
  type Toy2dName,
  trainLoop,
  unetPresets,
} from "../mod.ts";
import { $, drawGrid, loadDigits, readInt, useChosenBackend } from "./_draw.ts";

const error = $("error");

/** Draws 2-D points (data in blue, samples in red) on a canvas, [-1.6, 1.6]². */
function scatter(canvas: HTMLCanvasElement, data: Float32Array, samples?: Float32Array) {
  const size = canvas.width = canvas.height = 320;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  const dot = (pts: Float32Array, color: string) => {
    ctx.fillStyle = color;
    for (let i = 0; i < pts.length; i += 2) {
      ctx.fillRect((pts[i] / 1.6 + 1) / 2 * size - 1, (1 - pts[i + 1] / 1.6) / 2 * size - 1, 2, 2);
    }
  };
  dot(data, "rgba(40, 90, 200, 0.35)");
  if (samples) dot(samples, "rgba(220, 70, 40, 0.8)");
}

async function trainToy(button: HTMLButtonElement) {
  const steps = readInt("toy-steps", 1, 20000), every = readInt("toy-every", 1, 20000);
  const backendShown = await useChosenBackend();
  const name = $<HTMLSelectElement>("toy-data").value as Toy2dName;
  const data = toy2dData(name, 4096, 0);
  const s = makeSchedule({ kind: "linear", T: 100 });
  const mlp = createToyMlp(s.T, 0);
  const optimizer = tf.train.adam(2e-3);
  const dataT = tf.tensor2d(data, [4096, 2]);
  const losses: [number, number][] = [];
  const t0 = performance.now();
  scatter($("toy-scatter"), data);
  try {
    for (let step = 1; step <= steps; step++) {
      const loss = tf.tidy(() => {
        const idx = tf.randomUniform([256], 0, 4096, "int32", `batch:${step}`);
        return optimizer.minimize(
          () => epsLoss(mlp.model, s, { x0: tf.gather(dataT, idx), seed: step }),
          true,
          mlp.variables,
        )!;
      });
      losses.push([step, (await loss.data())[0]]);
      loss.dispose();
      if (step % every === 0 || step === steps) {
        const x = await pSampleLoop(mlp.model, s, {
          shape: [1000, 2],
          seed: step,
          clipDenoised: false,
        });
        scatter($("toy-scatter"), data, await x.data() as Float32Array);
        x.dispose();
        $("toy-loss").innerHTML = lossCurveSvg(losses, {
          title: "2-D toy: loss",
          width: 480,
          height: 280,
        });
        $("toy-status").textContent = `step ${step} of ${steps} · loss ${
          losses[step - 1][1].toFixed(4)
        } · ${
          (step / ((performance.now() - t0) / 1000)).toFixed(1)
        } steps/s · backend ${backendShown}`;
        await new Promise((r) => setTimeout(r, 0)); // let the page draw
      }
    }
    document.body.dataset.toyLosses = JSON.stringify(losses.map(([, l]) => l)); // for the tests
  } finally {
    tf.dispose([dataT]);
    mlp.dispose();
    optimizer.dispose();
    button.disabled = false;
  }
}

let digits: Awaited<ReturnType<typeof loadDigits>> | undefined;

async function trainDigits(button: HTMLButtonElement) {
  const steps = readInt("mnist-steps", 1, 100000), batchSize = readInt("mnist-batch", 1, 64);
  const sampleEvery = readInt("mnist-every", 0, 100000);
  const backendShown = await useChosenBackend();
  digits ??= await loadDigits();
  const losses: [number, number][] = [];
  let last: Checkpoint | undefined;
  const progress = $<HTMLProgressElement>("mnist-progress");
  progress.max = steps;
  try {
    await trainLoop({
      data: {
        images: digits.images,
        shape: [digits.n, 28, 28, 1],
        labels: digits.labels,
        source: "the built-in digits",
      },
      unet: unetPresets.mnist,
      steps,
      batchSize,
      sampleEvery,
      sampleCount: 4,
      checkpointEvery: steps,
      onStep: (info) => {
        losses.push([info.step, info.loss]);
        progress.value = info.step;
        $("mnist-status").textContent = `step ${info.step} of ${steps} · loss ${
          info.loss.toFixed(4)
        } · ${(info.seconds / info.step).toFixed(2)} s a step · backend ${backendShown}`;
        $("mnist-loss").innerHTML = lossCurveSvg(losses, {
          title: "mnist: loss",
          width: 480,
          height: 280,
        });
      },
      onSamples: async (x, step) => {
        drawGrid($("mnist-samples"), await toUint8(x), x.shape);
        $("mnist-samples-caption").textContent = `EMA samples at step ${step} (DDIM, 50 steps)`;
      },
      onCheckpoint: (ck) => {
        last = ck;
      },
    });
    const bytes = encodeCheckpoint(last!);
    const link = $<HTMLAnchorElement>("mnist-download");
    link.href = URL.createObjectURL(new Blob([bytes as BlobPart]));
    link.hidden = false;
    document.body.dataset.mnistDone = String(steps); // for the tests
  } finally {
    button.disabled = false;
  }
}

for (const [id, run] of [["toy-run", trainToy], ["mnist-run", trainDigits]] as const) {
  $(id).addEventListener("click", async () => {
    const button = $<HTMLButtonElement>(id);
    error.textContent = "";
    button.disabled = true;
    try {
      await run(button);
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      button.disabled = false;
    }
  });
}
