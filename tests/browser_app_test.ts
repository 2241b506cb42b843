/// <reference lib="dom" />
// The web app in a real browser: Debian's chromium, driven by playwright-core, samples 2 digits of
// the bundled class-conditional model (its three networks: class, guide and "no class") on wasm
// and on WebGPU (SwiftShader), a model converted from diffusers (RGB)
// and another class-conditional one (class and guidance controls), picked as files; the pixels equal
// what Deno's in-process sampler gives for the same checkpoint, sampler, seed and classes; bad
// input shows one message.
import { chromium, type Page } from "playwright-core";
import { existsSync } from "node:fs";
import {
  BUNDLED_MNIST_CONDITIONAL,
  encodeCheckpoint,
  loadCheckpoint,
  loadPipeline,
  makeSchedule,
  toUint8,
} from "../mod.ts";
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, serveWeb } from "../web/serve.ts";
import { fromDiffusers } from "../mod.ts";
import { loadDiffusersFolder, saveCheckpoint } from "../fs.ts";
import { useBackend } from "./_helpers.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

const PORT = 8765;

/** Waits until the page sets document.body.dataset[flag] or shows an error (5 minutes at most). */
async function doneOrError(page: Page, flag: string): Promise<void> {
  await page.waitForFunction(
    (flag) => document.body.dataset[flag] || document.getElementById("error")!.textContent,
    flag,
    { timeout: 300_000 },
  );
}

/**
 * Deno's own samples (wasm), uint8, for the same settings as the page (DDIM, η 0, seed 0, 2
 * images; the checkpoint's recommended guidance interval, and its self-check unless turned off).
 */
async function denoSamples(
  steps: number,
  source: URL | string | Uint8Array,
  conditioning: { classes?: number[]; guidanceScale?: number; selfCheck?: boolean } = {},
): Promise<Uint8Array> {
  await useBackend("wasm");
  const pipe = await loadPipeline(source);
  const x = await pipe.sample({ n: 2, sampler: "ddim", steps, seed: 0, eta: 0, ...conditioning });
  const out = await toUint8(x);
  x.dispose();
  pipe.dispose();
  return out;
}

Deno.test({
  name:
    "browser: the sample page in Chromium (wasm and WebGPU) gives Deno's pixels; bad input is one message",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assertTrue(existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install chromium)`);
    await buildWeb();
    const server = serveWeb(PORT);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${PORT}/`);
      // the bundled model is class-conditional: its controls show once it is loaded, at the
      // guidance and η its checkpoint recommends
      await page.waitForFunction(() => !document.getElementById("class-label")!.hidden);
      const bundled = await loadCheckpoint(BUNDLED_MNIST_CONDITIONAL);
      assertEquals(
        Number(await page.inputValue("#guidance")),
        bundled.config.guidanceScale,
        "the recommended guidance",
      );
      assertEquals(
        Number(await page.inputValue("#eta")),
        bundled.config.sampler?.eta ?? 0,
        "the recommended η",
      );
      assertEquals(await page.inputValue("#class"), "all");
      const run = async (backend: string, steps: number, selfCheck = true) => {
        await page.evaluate(() => delete document.body.dataset.done);
        if (await page.isVisible("#self-check")) await page.setChecked("#self-check", selfCheck);
        await page.selectOption("#backend", backend);
        await page.selectOption("#sampler", "ddim");
        await page.fill("#steps", String(steps));
        await page.fill("#count", "2");
        await page.fill("#seed", "0");
        await page.fill("#eta", "0");
        await page.click("#run");
        await doneOrError(page, "done");
        assertEquals(await page.textContent("#error"), "");
        const npy = await page.evaluate(async () =>
          Array.from(
            new Uint8Array(
              await (await fetch((document.getElementById("npy") as HTMLAnchorElement).href))
                .arrayBuffer(),
            ),
          )
        );
        const bytes = Uint8Array.from(npy);
        const headerLength = bytes[8] | (bytes[9] << 8);
        return {
          pixels: bytes.subarray(10 + headerLength),
          status: await page.textContent("#status"),
        };
      };
      // wasm: the same XNNPACK binary as Deno's: the same pixels (class "all": a 0 and a 1)
      const all = { classes: [0, 1], guidanceScale: bundled.config.guidanceScale };
      const wasm = await run("wasm", 10);
      assertTrue(wasm.status!.includes("backend wasm"), wasm.status!);
      assertEquals(
        wasm.pixels,
        await denoSamples(10, BUNDLED_MNIST_CONDITIONAL, all),
        "wasm in Chromium = wasm in Deno",
      );
      // WebGPU on SwiftShader (3 steps: ≈ 13 s a step there; no self-check, whose class network
      // would take minutes there): float32 in another order, so pixels may differ by rounding; at
      // most 2 gray levels, on at most 1% of the pixels
      const gpu = await run("webgpu", 3, false);
      assertTrue(gpu.status!.includes("backend webgpu"), gpu.status!);
      const ref = await denoSamples(3, BUNDLED_MNIST_CONDITIONAL, { ...all, selfCheck: false });
      let off = 0;
      gpu.pixels.forEach((v, i) => {
        const d = Math.abs(v - ref[i]);
        assertTrue(d <= 2, `pixel ${i}: ${v} vs ${ref[i]}`);
        if (d > 0) off++;
      });
      assertTrue(off <= 0.01 * ref.length, `${off} of ${ref.length} pixels differ`);
      // a model converted from diffusers (8×8 RGB), picked as a file
      const dir = Deno.makeTempDirSync();
      const converted = `${dir}/diffusers_ddpm_tiny.safetensors`;
      saveCheckpoint(
        converted,
        fromDiffusers(
          loadDiffusersFolder(
            new URL("./fixtures/interop/diffusers_ddpm_tiny", import.meta.url).pathname,
          ),
        ),
      );
      await page.setInputFiles("#file", converted);
      await page.waitForFunction(() =>
        document.getElementById("model")!.textContent!.includes("8×8×3")
      );
      const rgb = await run("wasm", 4);
      assertEquals(rgb.pixels, await denoSamples(4, converted), "a converted RGB model");
      // a class-conditional model that recommends a self-check: class 1 at guidance 3 (the
      // controls appear with it); of 4 steps' blurs at seed 0 its class network guesses one as
      // another digit, so the self-check draws it again
      const wip = await loadCheckpoint(
        new URL("../checkpoints/wip/mnist-conditional.safetensors", import.meta.url),
      );
      wip.config.selfCheck = { timesteps: [400, 500], rounds: 1 };
      const conditional = `${dir}/mnist-conditional-checked.safetensors`;
      Deno.writeFileSync(conditional, encodeCheckpoint({ config: wip.config, ema: wip.ema }));
      await page.setInputFiles("#file", conditional);
      await page.waitForFunction(() => !document.getElementById("self-check-label")!.hidden);
      await page.selectOption("#class", "1");
      await page.fill("#guidance", "3");
      const ones = await run("wasm", 4);
      const classOne = { classes: [1, 1], guidanceScale: 3 };
      assertEquals(ones.pixels, await denoSamples(4, conditional, classOne), "class 1, guidance 3");
      const told = /self-check: (\d+) draws? again/.exec(ones.status!);
      assertTrue(told !== null && Number(told[1]) > 0, ones.status!);
      const unchecked = await run("wasm", 4, false);
      assertEquals(
        unchecked.pixels,
        await denoSamples(4, conditional, { ...classOne, selfCheck: false }),
        "class 1, guidance 3, no self-check",
      );
      assertTrue(!unchecked.status!.includes("self-check"), unchecked.status!);
      assertTrue(
        unchecked.pixels.some((v, i) => v !== ones.pixels[i]),
        "the self-check changed the rows drawn again",
      );
      await page.screenshot({ path: new URL("../out/web-sample.png", import.meta.url).pathname });
      await page.fill("#guidance", "-1");
      await page.click("#run");
      await page.waitForFunction(() => document.getElementById("error")!.textContent);
      assertEquals(await page.textContent("#error"), "guidance must be a number >= 0, got -1");
      await page.fill("#guidance", "3");
      // bad input: one clear message, and the page keeps working
      await page.fill("#steps", "0");
      await page.click("#run");
      await page.waitForFunction(() => document.getElementById("error")!.textContent);
      assertEquals(
        await page.textContent("#error"),
        "steps must be an integer in [1, 1000], got 0",
      );
      await page.fill("#steps", "4");
      await page.fill("#count", "10000");
      await page.click("#run");
      await page.waitForFunction(() =>
        document.getElementById("error")!.textContent!.startsWith("count")
      );
      assertEquals(
        await page.textContent("#error"),
        "count must be an integer in [1, 64], got 10000",
      );
      // a PNG picked as the checkpoint: one message, and the model loaded before stays
      await page.setInputFiles(
        "#file",
        new URL("../web/screenshot-sample.png", import.meta.url).pathname,
      );
      await page.waitForFunction(() =>
        document.getElementById("error")!.textContent!.startsWith("Cannot load checkpoint")
      );
      assertTrue(
        (await page.textContent("#model"))!.includes("mnist-conditional"),
        "the previous model is kept",
      );
      await page.fill("#count", "2");
      const again = await run("wasm", 4);
      assertEquals(again.pixels, ones.pixels, "the page keeps working with the model it had");
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});

Deno.test({
  name:
    "browser: the forward-process page (closed form = composed steps in distribution) and the train page (the 2-D loss falls; the mnist checkpoint downloads)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assertTrue(existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install chromium)`);
    await buildWeb();
    const server = serveWeb(PORT);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    try {
      const page = await browser.newPage();
      // forward process: at each t, both x_t have the moments q(x_t | x_0) gives, within 5
      // standard errors of 784 pixels
      await page.goto(`http://127.0.0.1:${PORT}/forward.html`);
      const statsAt = async (t: number) => {
        await page.evaluate((t) => {
          const input = document.getElementById("t") as HTMLInputElement;
          input.value = String(t);
          input.dispatchEvent(new Event("change"));
        }, t);
        await page.waitForFunction(
          (t) =>
            JSON.parse(document.body.dataset.stats ?? "{}").t === t &&
            "meanComposed" in JSON.parse(document.body.dataset.stats!),
          t,
          { timeout: 60_000 },
        );
        return JSON.parse(await page.evaluate(() => document.body.dataset.stats!));
      };
      const linear = makeSchedule({ kind: "linear", T: 1000 });
      for (const t of [100, 999]) {
        const st = await statsAt(t);
        const abar = linear.alphasCumprod[t];
        assertEquals(st.abar, abar);
        const se = 5 * Math.sqrt(1 - abar) / 28; // the noise's mean over 784 pixels, 5σ
        for (const k of ["meanClosed", "meanComposed"]) {
          assertTrue(
            Math.abs(st[k] - Math.sqrt(abar) * st.meanX0) < se,
            `${k} at t ${t}: ${JSON.stringify(st)}`,
          );
        }
        // the variance across pixels: at t = 999 the image is almost pure noise (1 ± 5·√(2/784))
        if (t === 999) {
          for (const k of ["varClosed", "varComposed"]) {
            assertTrue(Math.abs(st[k] - 1) < 0.26, `${k}: ${st[k]}`);
          }
        }
      }
      await page.screenshot({ path: new URL("../out/web-forward.png", import.meta.url).pathname });
      await page.fill("#digit", "5000");
      await page.dispatchEvent("#digit", "change");
      await page.waitForFunction(() => document.getElementById("error")!.textContent);
      assertEquals(
        await page.textContent("#error"),
        "digit must be an integer in [0, 999], got 5000",
      );

      // train in this tab: the 2-D MLP's loss falls over 100 steps; 2 mnist steps download a
      // checkpoint that loadCheckpoint reads
      await page.goto(`http://127.0.0.1:${PORT}/train.html`);
      await page.selectOption("#backend", "wasm");
      await page.fill("#toy-steps", "100");
      await page.fill("#toy-every", "50");
      await page.click("#toy-run");
      await doneOrError(page, "toyLosses");
      assertEquals(await page.textContent("#error"), "");
      const losses: number[] = JSON.parse(
        await page.evaluate(() => document.body.dataset.toyLosses!),
      );
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      assertEquals(losses.length, 100);
      assertTrue(mean(losses.slice(80)) < 0.8 * mean(losses.slice(0, 20)), `losses ${losses}`);
      await page.fill("#mnist-steps", "2");
      await page.fill("#mnist-batch", "2");
      await page.fill("#mnist-every", "2");
      await page.click("#mnist-run");
      await doneOrError(page, "mnistDone");
      assertEquals(await page.textContent("#error"), "");
      const bytes = Uint8Array.from(
        await page.evaluate(async () =>
          Array.from(
            new Uint8Array(
              await (await fetch(
                (document.getElementById("mnist-download") as HTMLAnchorElement).href,
              )).arrayBuffer(),
            ),
          )
        ),
      );
      const ck = await loadCheckpoint(bytes);
      assertEquals(ck.state?.step, 2);
      assertEquals(ck.config.unet.ch, 32);
      await page.screenshot({
        path: new URL("../out/web-train.png", import.meta.url).pathname,
        fullPage: true,
      });
      await page.fill("#toy-steps", "0");
      await page.click("#toy-run");
      await page.waitForFunction(() => document.getElementById("error")!.textContent);
      assertEquals(
        await page.textContent("#error"),
        "toy-steps must be an integer in [1, 20000], got 0",
      );
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
