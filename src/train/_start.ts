// Internal: how a run starts — resuming a checkpoint (it must match this run; the importance
// sampler's history with it) or fine-tuning from another's EMA weights.
import * as tf from "@tensorflow/tfjs-core";
import { type Checkpoint, loadCheckpoint } from "../io/checkpoint.ts";
import type { UNet, UNetConfig } from "../unet/unet.ts";
import { createLossHistory, type LossHistory } from "../importance_sampling.ts";
import { _isCheckpoint } from "./_loop_options.ts";

export function _checkResumable(
  ck: Checkpoint,
  config: {
    unet: UNetConfig;
    schedule: unknown;
    train: {
      batchSize: number;
      seed: number;
      workers: number;
      emaDecay: number;
      emaWarmup?: boolean;
    };
  },
  path: string,
): void {
  const want = _canonical(_whatIsTrained(config.unet, config.schedule, config.train));
  const got = _canonical(_whatIsTrained(ck.config.unet, ck.config.schedule, ck.config.train));
  if (want !== got) {
    throw new RangeError(
      `Cannot resume from ${path}: it was trained with ${got}, but this run asks for ${want}`,
    );
  }
  if (!ck.params || !ck.adamM || !ck.adamV || !ck.state) {
    throw new RangeError(
      `Cannot resume from ${path}: it holds no optimizer state (a released model?)`,
    );
  }
  const { batchSize, seed } = ck.config.train as { batchSize: number; seed: number };
  if (batchSize !== config.train.batchSize || seed !== config.train.seed) {
    console.warn(
      `Resuming ${path} with batch size ${config.train.batchSize} and seed ${config.train.seed} ` +
        `(it was written with ${batchSize} and ${seed}): the run will not match an uninterrupted one.`,
    );
  }
  const ema = (t: { emaDecay?: number; emaWarmup?: boolean }) =>
    `${t.emaDecay ?? 0.9999}${t.emaWarmup === false ? " without" : " with"} its warm-up`;
  const emaBefore = ema(ck.config.train as { emaDecay?: number; emaWarmup?: boolean });
  if (emaBefore !== ema(config.train)) {
    console.warn(
      `Resuming ${path} with EMA decay ${ema(config.train)} (it was written with ${emaBefore}): ` +
        `the EMA weights will not match an uninterrupted run's.`,
    );
  }
  const before = (ck.config.train as { workers?: number }).workers ?? 1;
  if (before !== config.train.workers) {
    console.warn(
      `Resuming ${path} with ${config.train.workers} worker(s) (it was written with ${before}): ` +
        `the losses will match an uninterrupted run up to float rounding, not bit for bit.`,
    );
  }
}

/**
 * What a resume must keep: the network, the schedule, the loss, whether the null class has a
 * teacher and which parameters are trained (absent fields: defaults).
 */
function _whatIsTrained(unet: unknown, schedule: unknown, train: unknown) {
  const t = train as
    | { loss?: string; minSnrGamma?: number; nullTeacher?: string; trainOnly?: string[] }
    | undefined;
  return {
    unet,
    schedule,
    loss: t?.loss ?? "simple",
    minSnrGamma: t?.minSnrGamma ?? null,
    nullTeacher: t?.nullTeacher !== undefined,
    trainOnly: t?.trainOnly ?? null,
  };
}

/** JSON with object keys sorted, for comparing configurations. */
function _canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a < b ? -1 : 1))
        : x,
  );
}

/** The importance sampler's loss history from a checkpoint's state (loss vlb). */
export function _readHistory(ck: Checkpoint, T: number, name: string): LossHistory {
  const h = createLossHistory(T);
  const saved = ck.state?.lossHistory;
  if (
    !saved || saved.perTerm !== h.perTerm || saved.losses?.length !== T * h.perTerm ||
    saved.counts?.length !== T
  ) {
    throw new RangeError(
      `Cannot resume from ${name}: a loss "vlb" run's checkpoint must hold its loss history ` +
        `(state.lossHistory with ${T} × ${h.perTerm} losses)`,
    );
  }
  h.losses.set(saved.losses);
  h.counts.set(saved.counts);
  return h;
}

/**
 * A checkpoint given as a path, URL or loaded object, and how errors name it (the path, or
 * `unnamed` for an object).
 */
export async function _sourceCheckpoint(
  source: string | URL | Checkpoint,
  unnamed: string,
): Promise<{ ck: Checkpoint; where: string }> {
  if (_isCheckpoint(source)) return { ck: source, where: unnamed };
  return { ck: await loadCheckpoint(source), where: String(source) };
}

/** Loads the EMA weights of a checkpoint into each network (a fine-tune's start). */
export async function _initFrom(source: string | URL | Checkpoint, nets: UNet[]): Promise<void> {
  const { ck, where } = await _sourceCheckpoint(source, "the checkpoint");
  for (const net of nets) {
    for (const [name, v] of net.params) {
      const w = ck.ema.get(name);
      if (!w) continue; // a parameter the source lacks keeps its initial value
      if (!tf.util.arraysEqual(w.shape, v.shape)) {
        throw new RangeError(
          `Cannot train: initFrom ${where} has ${name} of shape [${w.shape}], the U-Net needs [${v.shape}]`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, "float32")));
    }
  }
  const unknown = [...ck.ema.keys()].filter((n) => !nets[0].params.has(n));
  if (unknown.length > 0) {
    throw new RangeError(
      `Cannot train: initFrom ${where} has weights this U-Net does not: ${
        unknown.slice(0, 5).join(", ")
      }`,
    );
  }
}
