import { existsSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { type Checkpoint, loadCheckpoint } from "../io/checkpoint.ts";
import { saveCheckpoint } from "../io/save_checkpoint.ts";
import { imageGrid } from "../io/image_grid.ts";
import { lossCurveSvg } from "../io/loss_curve.ts";
import { _atomicWrite } from "../_atomic_write.ts";
import { _progress } from "../_progress.ts";
import { _appendLine, _lockRunDir, _removeStaleTemps, _truncateLog } from "./_run_dir.ts";
import { trainLoop, type TrainLoopOptions, type TrainStepInfo } from "./train_loop.ts";
import { _checkLoopOptions } from "./_loop_options.ts";

export type { TrainStepInfo } from "./train_loop.ts";

/** Options of {@linkcode train}: the training loop's and an output folder. */
export interface TrainOptions extends
  Omit<
    TrainLoopOptions,
    "resumeFrom" | "onCheckpoint" | "onSamples" | "onSampleProgress" | "checkpointName"
  > {
  /** Folder for the checkpoint, the JSONL log, sample grids and the loss curve. */
  outDir: string;
  /**
   * Continue from `outDir/checkpoint.safetensors` (default false). `true` needs that file;
   * `"ifPresent"` starts a new run when there is none (also over the log of a run stopped before
   * its first checkpoint: there is nothing of it to continue). Without it, a folder that holds a
   * run is refused unless `overwrite` is set.
   */
  resume?: boolean | "ifPresent";
  /** Start a new run in a folder that holds one, replacing it (default false). */
  overwrite?: boolean;
  /** Draw a progress bar on stderr (default true). */
  progress?: boolean;
  /**
   * Told what the trainer decided about the folder: the step it resumes from, a torn log line
   * dropped, stale temporary files removed, a dead trainer's lock taken over (default:
   * console.warn, on stderr).
   */
  onNote?: (line: string) => void;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Steps done in total. */
  step: number;
  /** The losses of the steps this call ran. */
  losses: number[];
  /** Path of the final checkpoint. */
  checkpoint: string;
  /** The step the run continued from, when it was resumed. */
  resumedFrom?: number;
  /** Seconds spent, summed over resumed runs. */
  seconds: number;
  /** True if `signal` stopped the run before its last step (the checkpoint is of `step`). */
  stopped?: boolean;
}

/**
 * Trains a U-Net DDPM with L_simple (Algorithm 1 of Ho et al. 2020): Adam with linear warm-up (then
 * a constant, linear or cosine learning rate), global-norm gradient clipping, an EMA of the
 * weights, dropout, optional flips. Every `checkpointEvery` steps it writes
 * `outDir/checkpoint.safetensors` atomically (weights, EMA, Adam moments, config and state); each
 * step appends a line to `outDir/log.jsonl`; sample grids go to `outDir/samples/step-NNNNNN.png`
 * and the loss curve to `outDir/loss.svg`. The batches, t, ε and dropout masks are functions of
 * (seed, step), so a resumed run reproduces the uninterrupted run's losses exactly. A NaN or
 * infinite loss stops training with an error before the bad update, leaving the last checkpoint as
 * it was.
 *
 * @param options See {@linkcode TrainOptions}.
 * @returns The final step, the losses and the checkpoint path.
 * @throws {RangeError} On bad options, or data that does not fit the U-Net.
 * @throws {Error} On a non-finite loss (the message names the step and the last checkpoint).
 *
 * @example Two steps of a tiny U-Net on 8 MNIST digits, cropped to 8×8
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "@ddpm/core";
 * import { train } from "@ddpm/core/fs";
 * await initBackend("cpu");
 * const images = new Float32Array(8 * 8 * 8).fill(-1);
 * const result = await train({
 *   data: { images, shape: [8, 8, 8, 1], source: "blank" },
 *   unet: { imageSize: 8, inChannels: 1, ch: 8, chMult: [1, 2], numResBlocks: 1,
 *     attnResolutions: [], dropout: 0.1, groups: 4 },
 *   outDir: await Deno.makeTempDir(), steps: 2, batchSize: 4, sampleEvery: 0, progress: false,
 * });
 * assert.deepEqual([result.step, result.losses.length], [2, 2]);
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const o = _checkOptions(options);
  const ckptPath = join(o.outDir, "checkpoint.safetensors");
  const logPath = join(o.outDir, "log.jsonl");
  // the folder is this trainer's until it returns or dies: nothing races it
  const release = _lockRunDir(o.outDir, o.onNote);
  try {
    const stale = _removeStaleTemps(o.outDir);
    if (stale.files > 0) {
      o.onNote(
        `removed ${stale.files} stale temporary file${stale.files > 1 ? "s" : ""} ` +
          `(${(stale.bytes / 1e6).toFixed(1)} MB) left by an interrupted write`,
      );
    }
    const history: [number, number][] = [];
    let resumeFrom: Checkpoint | undefined;
    if (_resumeOrStart(o, ckptPath, logPath)) {
      resumeFrom = await loadCheckpoint(ckptPath);
      const step = resumeFrom.state?.step ?? 0;
      history.push(..._truncateLog(logPath, step, o.onNote));
      const loss = resumeFrom.state?.loss;
      o.onNote(
        `resuming ${ckptPath} at step ${step}` +
          (loss !== undefined ? ` (mean loss ${loss.toFixed(4)})` : ""),
      );
    } else {
      _atomicWrite(logPath, "");
    }
    const start = resumeFrom?.state?.step ?? 0;
    const bar = _progress(o.steps, Math.min(start, o.steps), o.progress && start < o.steps);
    const kept = () =>
      existsSync(ckptPath)
        ? `the checkpoint of the last saved step is kept (${ckptPath})`
        : "no checkpoint was written yet";
    let result;
    try {
      result = await trainLoop({
        ...o,
        resumeFrom,
        checkpointName: ckptPath,
        onCheckpoint: (ck) => saveCheckpoint(ckptPath, ck),
        onSampleProgress: (done, total, step) =>
          bar.sub(`sample grid of step ${step} (DDIM)`, done, total),
        onSamples: async (x, step) =>
          _atomicWrite(
            join(o.outDir, "samples", `step-${String(step).padStart(6, "0")}.png`),
            await imageGrid(x, { scale: 2 }),
          ),
        onStep: async (info: TrainStepInfo) => {
          history.push([info.step, info.loss]);
          _appendLine(logPath, JSON.stringify(info), kept());
          bar.update(info.step, info.loss);
          await o.onStep?.(info);
        },
      });
    } finally {
      bar.done();
    }
    if (result.losses.length > 0) {
      _atomicWrite(
        join(o.outDir, "loss.svg"),
        lossCurveSvg(history, { title: `Training loss (${o.data.source})` }),
      );
    }
    return {
      step: result.step,
      losses: result.losses,
      checkpoint: ckptPath,
      seconds: result.seconds,
      resumedFrom: resumeFrom ? start : undefined,
      ...(result.stopped ? { stopped: true } : {}),
    };
  } finally {
    release();
  }
}

type _Resolved = ReturnType<typeof _checkLoopOptions> & {
  outDir: string;
  resume: boolean | "ifPresent";
  overwrite: boolean;
  progress: boolean;
  onNote: (line: string) => void;
};

function _checkOptions(options: TrainOptions): _Resolved {
  const what = "Cannot train";
  const base = _checkLoopOptions(options);
  if (typeof options.outDir !== "string" || !options.outDir) {
    throw new RangeError(`${what}: outDir must be a folder path, got ${options.outDir}`);
  }
  const resume = options.resume ?? false;
  if (resume !== true && resume !== false && resume !== "ifPresent") {
    throw new RangeError(`${what}: resume must be true, false or "ifPresent", got ${resume}`);
  }
  return {
    ...base,
    outDir: options.outDir,
    resume,
    overwrite: options.overwrite ?? false,
    progress: options.progress ?? true,
    onNote: options.onNote ?? ((line: string) => console.warn(line)),
  };
}

/**
 * Whether to resume: a checkpoint is needed for `resume: true`; a folder holding a run needs
 * `resume` or `overwrite` (which removes the old checkpoint, so a crash cannot resume it).
 */
function _resumeOrStart(o: _Resolved, ckptPath: string, logPath: string): boolean {
  const hasCheckpoint = existsSync(ckptPath);
  if (o.resume === true && !hasCheckpoint) {
    throw new Error(
      `Cannot resume: ${o.outDir} has no checkpoint.safetensors to resume; start a new run ` +
        `without resume (--resume), or use resume "ifPresent" (--resume-or-start)`,
    );
  }
  if (o.resume && hasCheckpoint) return true;
  const hasLog = existsSync(logPath) && statSync(logPath).size > 0;
  if (o.resume === "ifPresent" && hasLog) {
    // a run stopped between its first log line and its first checkpoint: resuming it means
    // starting at step 0, the log cut back to that step like any resume's
    const lines = readFileSync(logPath, "utf8").split("\n").filter((l) => l.trim()).length;
    o.onNote(
      `${logPath} logs ${lines} step${lines === 1 ? "" : "s"} of a run that wrote no checkpoint; ` +
        `starting it over from step 0`,
    );
    return false;
  }
  if ((hasCheckpoint || hasLog) && !o.overwrite) {
    throw new Error(
      `Cannot train: ${o.outDir} holds a run (${
        hasCheckpoint ? "checkpoint.safetensors" : "log.jsonl"
      }); continue it with resume (--resume), or replace it with overwrite (--overwrite)`,
    );
  }
  if (hasCheckpoint) unlinkSync(ckptPath);
  return false;
}
