/// <reference lib="dom" />
// The forward-process page: a built-in digit, x_t drawn from the closed form q(x_t | x_0) beside
// x_t made by composing the single steps q(x_k | x_{k−1}) for k = 0 … t, ᾱ_t and the SNR read
// out, and ᾱ_t of the four schedules plotted.
import * as tf from "@tensorflow/tfjs-core";
import {
  chartSvg,
  forwardNoise,
  forwardStep,
  initBackend,
  makeSchedule,
  type Schedule,
  type ScheduleKind,
  toUint8,
} from "../mod.ts";
import { $, drawGrid, loadDigits, readInt } from "./_draw.ts";

const KINDS: ScheduleKind[] = ["linear", "cosine", "quadratic", "sigmoid"];
const T = 1000;
const schedules = Object.fromEntries(KINDS.map((k) => [k, makeSchedule({ kind: k, T })])) as Record<
  ScheduleKind,
  Schedule
>;
await initBackend("cpu"); // one 28×28 image: the plain-JS kernels are fast enough and exact
const digits = await loadDigits();
const error = $("error");
const shape = [1, 28, 28, 1];

/** Mean and variance of an image's pixels. */
function moments(x: Float32Array): [number, number] {
  const m = x.reduce((a, v) => a + v, 0) / x.length;
  return [m, x.reduce((a, v) => a + (v - m) ** 2, 0) / x.length];
}

async function update(compose: boolean) {
  error.textContent = "";
  try {
    const index = readInt("digit", 0, digits.n - 1), t = readInt("t", 0, T - 1);
    const seed = readInt("seed", 0, 2 ** 31 - 1);
    const kind = $<HTMLSelectElement>("schedule").value as ScheduleKind;
    const s = schedules[kind];
    const x0 = tf.tensor4d(digits.images.subarray(index * 784, (index + 1) * 784), [1, 28, 28, 1]);
    const closed = tf.tidy(() =>
      forwardNoise(s, { x0, t, noise: tf.randomNormal(shape, 0, 1, "float32", seed) })
    );
    drawGrid($("x0"), await toUint8(x0), shape);
    drawGrid($("closed"), await toUint8(tf.clipByValue(closed, -1, 1)), shape);
    const abar = s.alphasCumprod[t];
    $("readout").textContent = `t = ${t} · ᾱ_t = ${abar.toFixed(4)} · √ᾱ_t = ${
      Math.sqrt(abar).toFixed(4)
    } · SNR = ᾱ/(1 − ᾱ) = ${(abar / (1 - abar)).toPrecision(4)} (${
      (10 * Math.log10(abar / (1 - abar))).toFixed(1)
    } dB)`;
    const stats: Record<string, number> = { t, abar };
    [stats.meanX0] = moments(await x0.data() as Float32Array);
    [stats.meanClosed, stats.varClosed] = moments(await closed.data() as Float32Array);
    if (compose) {
      // t + 1 single steps from x0, each with its own noise
      let x: tf.Tensor = x0.clone();
      for (let k = 0; k <= t; k++) {
        const next = tf.tidy(() =>
          forwardStep(s, {
            xPrev: x,
            t: k,
            noise: tf.randomNormal(shape, 0, 1, "float32", seed * 1009 + k + 1),
          })
        );
        x.dispose();
        x = next;
      }
      drawGrid($("composed"), await toUint8(tf.clipByValue(x, -1, 1)), shape);
      [stats.meanComposed, stats.varComposed] = moments(await x.data() as Float32Array);
      x.dispose();
    }
    tf.dispose([x0, closed]);
    $("chart").innerHTML = chartSvg(
      [
        ...KINDS.map((k) => ({
          label: k,
          points: Array.from(
            { length: 100 },
            (_, i) => [i * 10, schedules[k].alphasCumprod[i * 10]] as [number, number],
          ),
        })),
        { label: `t = ${t}`, points: [[t, abar]], kind: "dots" as const, color: "#000" },
      ],
      {
        title: "ᾱ_t of the schedules (T = 1000)",
        xLabel: "t",
        yLabel: "ᾱ_t",
        width: 560,
        height: 320,
      },
    );
    document.body.dataset.stats = JSON.stringify(stats); // for the browser tests
  } catch (err) {
    error.textContent = err instanceof Error ? err.message : String(err);
  }
}

for (const id of ["digit", "schedule", "seed"]) {
  $(id).addEventListener("change", () => update(true));
}
$("t").addEventListener("input", () => update(false)); // the closed form follows the slider
$("t").addEventListener("change", () => update(true)); // the composition when it is let go
await update(true);
