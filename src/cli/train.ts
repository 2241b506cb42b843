// `deno task train`: train a U-Net DDPM on MNIST (default) or a folder of images.
//
//   deno task train [--data mnist|fashion-mnist|<folder>] [--preset mnist|cifar10] [--steps 1000]
//                   [--batch 32] [--lr 2e-4] [--warmup N] [--lr-decay constant|linear|cosine]
//                   [--lr-final 0] [--decay-start N] [--ema-decay 0.9999] [--no-ema-warmup] [--flip]
//                   [--backend auto|webgpu|wasm|cpu] [--out out/train] [--seed 0] [--resume]
//                   [--checkpoint-every 500] [--sample-every 1000] [--workers N]
//                   [--conditional] [--class-dropout 0.1] [--init-from FILE|bundled]
//                   [--null-teacher FILE|bundled] [--train-only PREFIX,...]
//                   [--schedule linear|cosine] [--learn-sigma] [--loss simple|hybrid|vlb]
//                   [--min-snr GAMMA]
//   bun src/cli/train.ts ...        (the same, under Bun)
import { parseArgs } from "node:util";
import process from "node:process";
import { initBackend } from "../backend.ts";
import { loadMnist } from "../data/mnist.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { FASHION_MNIST_CLASSES, loadIdx } from "../data/idx.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import type { UNetConfig } from "../unet/unet.ts";
import { unetPresets } from "../unet/presets.ts";
import { train } from "../train/train.ts";
import { _LR_DECAYS } from "../_lr.ts";
import { _duration } from "../_progress.ts";
import {
  _backendArg,
  _choiceArg,
  _cliArgs,
  _intArg,
  _nonNegativeArg,
  _numArg,
  _run,
} from "./_args.ts";
import { _defaultWorkers } from "../_shards.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { _stopOnSignal } from "./_stop_on_signal.ts";

/** Where Debian's dataset-fashion-mnist puts the IDX files. */
const _FASHION_DIR = "/usr/share/datasets/fashion-mnist";

const HELP = `Train a DDPM U-Net (Ho et al. 2020).

Options:
  --data SOURCE           training images: "mnist" (the built-in digits, train split),
                          "fashion-mnist" (Debian's dataset-fashion-mnist), a folder of
                          IDX files (train-images-idx3-ubyte[.gz] + labels), or a folder
                          of PNG/JPEG files (resized and center-cropped; one subfolder
                          per class gives labels)                               [mnist]
  --preset mnist|cifar10  U-Net shape (mnist: 28×28×1, 1.6M params; cifar10: 32×32×3, 35.7M)
                          [mnist for MNIST and IDX data, else cifar10]
  --steps N               optimizer steps                                       [1000]
  --batch N               batch size                                            [32]
  --lr X                  peak Adam learning rate                               [2e-4]
  --warmup N              linear warm-up steps                    [min(5000, steps/10)]
  --lr-decay KIND         after the warm-up: constant, or a linear or cosine decay
                          to --lr-final at the last step                        [constant]
  --lr-final X            learning rate at the last step (linear, cosine)       [0]
  --decay-start N         step where the decay starts (before it: --lr) [the warm-up's end]
  --ema-decay X           EMA decay                                             [0.9999]
  --no-ema-warmup         the decay is --ema-decay from the first step, so the EMA starts
                          at the starting weights (for --init-from), instead of warming
                          up as min(decay, (1 + step)/(10 + step))
  --flip                  random horizontal flips
  --backend NAME          auto, webgpu, wasm or cpu                             [auto]
  --out DIR               checkpoint, log.jsonl, samples/, loss.svg             [out/train]
  --seed N                seed of weights, batches, noise, dropout              [0]
  --resume                continue from DIR/checkpoint.safetensors (which must exist)
  --resume-or-start       continue if DIR holds a checkpoint, else start a new run
  --overwrite             start a new run in a DIR that holds one, replacing it
  --checkpoint-every N    steps between checkpoints                             [500]
  --sample-every N        steps between sample grids (0: never)                 [1000]
  --workers N             threads sharing each step's batch (wasm, cpu; the same
                          result up to float rounding)    [cores, at most 4; webgpu 1]
  --conditional           class-conditional: labels from the data (MNIST digits, or one
                          subfolder per class), for classifier-free guidance
  --class-dropout X       share of each batch trained as "no class" (conditional)  [0.1]
  --init-from FILE        start from the EMA weights of a checkpoint ("bundled": the
                          bundled MNIST model) with a fresh Adam; parameters it lacks
                          (the class embedding) keep their initial values
  --null-teacher FILE     the "no class" examples regress onto this checkpoint's ε
                          ("bundled": the bundled MNIST model) instead of the drawn ε,
                          keeping the unconditional branch at the teacher's (conditional)
  --train-only PREFIXES   train only the parameters whose names start with one of
                          these (comma-separated, e.g. label_emb); the rest stay put
  --schedule KIND         noise schedule, T = 1000: linear (Ho et al.) or cosine
                          (Nichol & Dhariwal)                                   [linear]
  --learn-sigma           learn the reverse variance (Improved DDPM): the U-Net outputs
                          ε and v, sampled with its learned variance
  --loss KIND             simple (L_simple), hybrid (L_simple + 0.001·L_vlb) or vlb
                          (L_vlb, importance-sampled t)  [hybrid with --learn-sigma, else simple]
  --min-snr GAMMA         min-SNR-γ weighting of L_simple (Hang et al. 2023), e.g. 5:
                          each example's error weighted by min(SNR_t, γ)/SNR_t   [off]
  --limit N               use only the first N images (quick runs)
  --help                  this text

Ctrl-C (or SIGTERM) stops after the step in progress and writes its checkpoint, so
--resume continues from that step; a second Ctrl-C quits at once.`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      data: { type: "string", default: "mnist" },
      preset: { type: "string" },
      steps: { type: "string", default: "1000" },
      batch: { type: "string", default: "32" },
      lr: { type: "string", default: "2e-4" },
      warmup: { type: "string" },
      "lr-decay": { type: "string", default: "constant" },
      "lr-final": { type: "string", default: "0" },
      "decay-start": { type: "string" },
      "ema-decay": { type: "string", default: "0.9999" },
      "no-ema-warmup": { type: "boolean", default: false },
      flip: { type: "boolean", default: false },
      backend: { type: "string", default: "auto" },
      out: { type: "string", default: "out/train" },
      seed: { type: "string", default: "0" },
      resume: { type: "boolean", default: false },
      "resume-or-start": { type: "boolean", default: false },
      overwrite: { type: "boolean", default: false },
      "checkpoint-every": { type: "string", default: "500" },
      "sample-every": { type: "string", default: "1000" },
      limit: { type: "string" },
      workers: { type: "string" },
      conditional: { type: "boolean", default: false },
      "class-dropout": { type: "string", default: "0.1" },
      "init-from": { type: "string" },
      "null-teacher": { type: "string" },
      "train-only": { type: "string" },
      schedule: { type: "string", default: "linear" },
      "learn-sigma": { type: "boolean", default: false },
      loss: { type: "string" },
      "min-snr": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (a.help) return console.log(HELP);
  const grayscale28 = a.data === "mnist" || a.data === "fashion-mnist" || _isIdxFolder(a.data);
  const presetName = a.preset ?? (grayscale28 ? "mnist" : "cifar10");
  const preset = unetPresets[_choiceArg("preset", presetName, ["mnist", "cifar10"] as const)];
  const limit = a.limit === undefined ? undefined : _intArg("limit", a.limit, 1);
  const info = await initBackend(_backendArg(a.backend));
  const data = await _loadData(a.data, preset, limit);
  const classDropout = _nonNegativeArg("class-dropout", a["class-dropout"]);
  if (a.conditional && (!data.labels || !data.classNames?.length)) {
    throw new RangeError(
      `--conditional needs labelled data (MNIST, or a folder with one subfolder per class), but ${data.source} has no labels`,
    );
  }
  const learnSigma = a["learn-sigma"];
  const loss = _choiceArg(
    "loss",
    a.loss ?? (learnSigma ? "hybrid" : "simple"),
    [
      "simple",
      "hybrid",
      "vlb",
    ] as const,
  );
  if ((loss !== "simple") !== learnSigma) {
    throw new RangeError(
      learnSigma
        ? `--learn-sigma trains with --loss hybrid or vlb, got --loss ${loss}`
        : `--loss ${loss} trains a learned variance: add --learn-sigma`,
    );
  }
  const schedule = _choiceArg("schedule", a.schedule, ["linear", "cosine"] as const);
  const unet = {
    ...preset,
    ...(a.conditional ? { numClasses: data.classNames!.length } : {}),
    ...(learnSigma ? { learnSigma } : {}),
  };
  const batch = _intArg("batch", a.batch, 1);
  const workers = a.workers === undefined
    ? _defaultWorkers(info.backend, batch)
    : _intArg("workers", a.workers, 1);
  console.log(
    `backend ${info.backend}${info.adapter ? ` (${info.adapter})` : ""} · data ${data.source}: ` +
      `${data.shape[0]} images ${data.shape[1]}×${data.shape[2]}×${
        data.shape[3]
      } · preset ${presetName}${a.conditional ? ` · ${unet.numClasses} classes` : ""}${
        schedule !== "linear" ? ` · ${schedule} schedule` : ""
      }${learnSigma ? ` · learned σ, loss ${loss}` : ""} · ${workers} thread${
        workers > 1 ? "s" : ""
      }`,
  );
  const stop = _stopOnSignal("the step in progress, writing its checkpoint");
  const result = await train({
    data,
    unet,
    schedule: { kind: schedule, T: 1000 },
    loss,
    minSnrGamma: a["min-snr"] === undefined ? undefined : _numArg("min-snr", a["min-snr"]),
    outDir: a.out,
    steps: _intArg("steps", a.steps, 1),
    batchSize: batch,
    lr: _numArg("lr", a.lr),
    warmup: a.warmup === undefined ? undefined : _intArg("warmup", a.warmup, 1),
    lrDecay: _choiceArg("lr-decay", a["lr-decay"], _LR_DECAYS),
    lrFinal: _nonNegativeArg("lr-final", a["lr-final"]),
    decayStart: a["decay-start"] === undefined
      ? undefined
      : _intArg("decay-start", a["decay-start"], 1),
    emaDecay: _numArg("ema-decay", a["ema-decay"]),
    emaWarmup: !a["no-ema-warmup"],
    flip: a.flip,
    seed: _intArg("seed", a.seed, 0),
    resume: a["resume-or-start"] ? "ifPresent" : a.resume,
    overwrite: a.overwrite,
    checkpointEvery: _intArg("checkpoint-every", a["checkpoint-every"], 1),
    sampleEvery: _intArg("sample-every", a["sample-every"], 0),
    workers,
    classDropout,
    initFrom: a["init-from"] === "bundled" ? BUNDLED_MNIST_CHECKPOINT : a["init-from"],
    nullTeacher: a["null-teacher"] === "bundled" ? BUNDLED_MNIST_CHECKPOINT : a["null-teacher"],
    trainOnly: a["train-only"]?.split(",").map((p) => p.trim()),
    signal: stop.signal,
  });
  const last = result.losses.slice(-50);
  console.log(
    `${
      result.stopped ? "stopped" : "done"
    }: step ${result.step}, mean loss of the last ${last.length} steps ` +
      `${(last.reduce((x, y) => x + y, 0) / Math.max(1, last.length)).toFixed(4)}, ` +
      `${_duration(result.seconds)} in all · checkpoint ${result.checkpoint}`,
  );
  if (result.stopped) {
    console.log("continue it with the same command and --resume");
    process.exit(stop.exitCode()!);
  }
});

/** The training data named by --data. */
async function _loadData(
  spec: string,
  preset: Readonly<UNetConfig>,
  limit: number | undefined,
): Promise<Dataset> {
  if (spec === "mnist") return loadMnist({ split: "train", limit });
  if (spec === "fashion-mnist") {
    if (!existsSync(_FASHION_DIR)) {
      throw new Error(
        `--data fashion-mnist reads ${_FASHION_DIR}: install it with apt-get install dataset-fashion-mnist`,
      );
    }
    return await loadIdx(_FASHION_DIR, { classNames: [...FASHION_MNIST_CLASSES], limit });
  }
  if (_isIdxFolder(spec)) return await loadIdx(spec, { limit });
  return await loadImageFolder(spec, {
    size: preset.imageSize,
    channels: preset.inChannels as 1 | 3,
    limit,
  });
}

/** Whether a folder holds the IDX training images (gzipped or not). */
function _isIdxFolder(dir: string): boolean {
  return ["", ".gz"].some((ext) => existsSync(join(dir, `train-images-idx3-ubyte${ext}`)));
}
