/// <reference lib="dom" />
// The web app's sample page: the bundled class-conditional MNIST model or any checkpoint the user
// picks (one of `deno task convert`'s included: RGB, any size), any sampler of the library, the
// class, the guidance scale and the self-check of a class-conditional model, x_t and the predicted
// x0 drawn after every step, a slider back through the trajectory, and downloads.
import {
  type Checkpoint,
  encodeNpy,
  imageGrid,
  loadCheckpoint,
  loadPipeline,
  type Pipeline,
  SAMPLER_NAMES,
  type SamplerName,
  SAMPLERS,
  type SelfCheckTally,
  toUint8,
} from "../mod.ts";
import { $, drawGrid, readInt, useChosenBackend } from "./_draw.ts";

const form = $<HTMLFormElement>("form"), error = $("error"), status = $("status");
const progress = $<HTMLProgressElement>("progress"), scrub = $<HTMLInputElement>("scrub");
const samplerSelect = $<HTMLSelectElement>("sampler");
for (const name of SAMPLER_NAMES) {
  const o = document.createElement("option");
  o.value = name;
  o.textContent = `${name} — ${SAMPLERS[name].description}`;
  samplerSelect.append(o);
}
samplerSelect.value = "dpm++";

type Config = Checkpoint["config"];
let model: Pipeline | undefined;
/**
 * The checkpoint to sample next: the bundled class-conditional model (loaded at start, so its
 * class and guidance controls show at once), or the file picked.
 */
let chosen: Promise<Checkpoint> = loadCheckpoint(
  new URL("./mnist-conditional.safetensors", location.href),
);
/** Frames of the trajectory: [x_t, x̂0] as uint8 per step. */
let frames: [Uint8Array, Uint8Array][] = [];
let shape = [0, 28, 28, 1];

function showFrame(k: number) {
  const [xt, x0] = frames[k];
  drawGrid($<HTMLCanvasElement>("xt"), xt, shape);
  drawGrid($<HTMLCanvasElement>("x0"), x0, shape);
}
scrub.addEventListener("input", () => showFrame(Number(scrub.value)));

/**
 * After a model is loaded: the class and guidance controls of a class-conditional one (and its
 * self-check, where the checkpoint recommends one), and the sampler settings it recommends.
 */
function showConditioning(config: Config) {
  const K = config.unet.numClasses ?? 0;
  $("class-label").hidden = $("guidance-label").hidden = K === 0;
  $("self-check-label").hidden = K === 0 || config.selfCheck === undefined;
  $<HTMLInputElement>("self-check").checked = true;
  const select = $<HTMLSelectElement>("class");
  select.replaceChildren();
  const names = config.classes ?? Array.from({ length: K }, (_, k) => String(k));
  const options: [string, string][] = [
    ["all", `all (image i: class i mod ${K})`],
    ["none", "none (unconditional)"],
    ...names.map((n, k) => [String(k), n] as [string, string]),
  ];
  for (const [value, text] of options) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.append(o);
  }
  $<HTMLInputElement>("guidance").value = String(config.guidanceScale ?? 1);
  // the sampler its model card recommends, where the checkpoint names one
  const rec = config.sampler;
  if (rec) {
    samplerSelect.value = rec.name;
    if (rec.steps !== undefined) $<HTMLInputElement>("steps").value = String(rec.steps);
    $<HTMLInputElement>("eta").value = String(rec.eta ?? 0);
  }
}

/**
 * The classes, guidance scale and self-check to sample with (none for an unconditional model);
 * the guidance interval is the one the checkpoint recommends.
 */
function readConditioning(
  count: number,
): { classes?: number[]; guidanceScale?: number; selfCheck?: boolean } {
  const K = model!.config.unet.numClasses ?? 0;
  if (K === 0) return {};
  const raw = $<HTMLInputElement>("guidance").value, w = Number(raw);
  if (raw === "" || !(w >= 0)) {
    throw new RangeError(`guidance must be a number >= 0, got ${raw || "nothing"}`);
  }
  const choice = $<HTMLSelectElement>("class").value;
  const classes = Array.from(
    { length: count },
    (_, i) => choice === "all" ? i % K : choice === "none" ? -1 : Number(choice),
  );
  const selfCheck = model!.config.selfCheck !== undefined &&
    $<HTMLInputElement>("self-check").checked;
  return { classes, guidanceScale: w, selfCheck };
}

$<HTMLInputElement>("file").addEventListener("change", async () => {
  const file = $<HTMLInputElement>("file").files?.[0];
  if (!file) return;
  error.textContent = "";
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const ck = await loadCheckpoint(bytes); // checked here: a bad file is one message now
    chosen = Promise.resolve(ck);
    model?.dispose();
    model = undefined;
    const u = ck.config.unet;
    $("model").textContent = `${file.name}: ${u.imageSize}×${u.imageSize}×${u.inChannels}` +
      (u.numClasses ? `, ${u.numClasses} classes` : "");
    showConditioning(ck.config);
  } catch (err) {
    error.textContent = err instanceof Error ? err.message : String(err);
  }
});

// the bundled model's controls, unless a file was picked while it loaded
const bundled = chosen;
bundled.then(
  (ck) => chosen === bundled && showConditioning(ck.config),
  (err) =>
    chosen === bundled && (error.textContent = err instanceof Error ? err.message : String(err)),
);

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const button = $<HTMLButtonElement>("run");
  button.disabled = true;
  try {
    const sampler = samplerSelect.value as SamplerName;
    const steps = readInt("steps", 1, 1000), seed = readInt("seed", 0, 2 ** 31 - 1);
    const count = readInt("count", 1, 64);
    const eta = Number($<HTMLInputElement>("eta").value);
    if (!(eta >= 0)) {
      throw new RangeError(`η must be a number >= 0, got ${$<HTMLInputElement>("eta").value}`);
    }
    const backendShown = await useChosenBackend();
    if (!model) {
      status.textContent = "loading the checkpoint…";
      model = await loadPipeline(await chosen);
    }
    const conditioning = readConditioning(count);
    const u = model.config.unet;
    shape = [count, u.imageSize, u.imageSize, u.inChannels];
    frames = [];
    const t0 = performance.now();
    const stepText = (done: number, total: number) =>
      `${sampler}, step ${done} of ${total} · ${
        ((performance.now() - t0) / done).toFixed(0)
      } ms a step · backend ${backendShown}`;
    // the pipeline runs the self-check only for labelled images at a guidance above 0
    const checking = conditioning.selfCheck && conditioning.guidanceScale &&
      conditioning.classes!.some((k) => k >= 0);
    let text = "", tally: SelfCheckTally | undefined;
    const last = await model.sample({
      n: count,
      sampler,
      steps,
      seed,
      eta,
      ...conditioning,
      onFrame: async ({ done, total, sample, predX0 }) => {
        frames.push([await toUint8(sample), await toUint8(predX0)]); // toUint8 clips to [-1, 1]
        progress.max = total;
        progress.value = done;
        showFrame(frames.length - 1);
        status.textContent = text = stepText(done, total);
        // after the last step: the self-check, where one runs
        if (done === total && checking) {
          status.textContent = `${text} · self-check: the class network classifies each image…`;
        }
      },
      onSelfCheck: (t) => (tally = t),
    });
    if (tally) {
      // the images drawn again replace theirs: the checked batch is the last frame
      const checked = await toUint8(last);
      frames.push([checked, checked]);
      showFrame(frames.length - 1);
      status.textContent = `${text} · self-check: ${tally.redrawn} draw${
        tally.redrawn === 1 ? "" : "s"
      } again, ${tally.stillOther} still guessed another class`;
    }
    scrub.max = String(frames.length - 1);
    scrub.value = scrub.max;
    scrub.disabled = false;
    const png = await imageGrid(last, { scale: 2 });
    $<HTMLAnchorElement>("png").href = URL.createObjectURL(
      new Blob([png as BlobPart], { type: "image/png" }),
    );
    const npy = encodeNpy(await toUint8(last), shape);
    $<HTMLAnchorElement>("npy").href = URL.createObjectURL(new Blob([npy as BlobPart]));
    last.dispose();
    document.body.dataset.done = String(Date.now()); // for the browser tests
  } catch (err) {
    error.textContent = err instanceof Error ? err.message : String(err);
  } finally {
    button.disabled = false;
  }
});
