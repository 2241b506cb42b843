// Internal: the null class's teacher of a class-conditional run (`nullTeacher`). The examples of a
// batch trained as "no class" regress onto a teacher network's ε prediction at their x_t instead
// of onto the drawn ε — a distillation (Hinton et al. 2015) that keeps the unconditional branch
// ε(x, ∅) at the teacher's (Learning without Forgetting, Li & Hoiem 2016), for a conditional
// model fine-tuned from an unconditional one.
import * as tf from "@tensorflow/tfjs-core";
import type { Checkpoint } from "../io/checkpoint.ts";
import { setWeights } from "../io/weights.ts";
import { createUNet, type UNet, type UNetConfig } from "../unet/unet.ts";
import type { Schedule, ScheduleKind } from "../schedule.ts";
import { NULL_CLASS } from "../guidance.ts";
import { _qSample } from "../_formulas.ts";
import { _callModel } from "../_model.ts";
import { type _LossSpec, _stepDraws } from "./_step.ts";
import { _sourceCheckpoint } from "./_start.ts";

/**
 * The teacher's network with its EMA weights. It must take the run's images (same size and
 * channels), predict ε alone (no learned variance) and have been trained on the run's schedule.
 */
export async function _loadNullTeacher(
  source: string | URL | Checkpoint,
  unet: UNetConfig,
  schedule: { kind: ScheduleKind; T: number },
): Promise<UNet> {
  const what = "Cannot train: nullTeacher";
  const { ck, where } = await _sourceCheckpoint(source, "(a checkpoint)");
  const u = ck.config.unet;
  if (u.imageSize !== unet.imageSize || u.inChannels !== unet.inChannels) {
    throw new RangeError(
      `${what} ${where} takes ${u.imageSize}×${u.imageSize}×${u.inChannels} images, the run ${unet.imageSize}×${unet.imageSize}×${unet.inChannels}`,
    );
  }
  if (u.learnSigma) {
    throw new RangeError(`${what} ${where} must predict ε alone, got a learned variance`);
  }
  const s = ck.config.schedule as { kind?: string; T?: number } | undefined;
  if (s?.kind !== schedule.kind || s?.T !== schedule.T) {
    throw new RangeError(
      `${what} ${where} was trained on schedule ${s?.kind} T = ${s?.T}, the run uses ${schedule.kind} T = ${schedule.T}`,
    );
  }
  const net = createUNet(u, { T: schedule.T });
  setWeights(net.params, ck.ema);
  return net;
}

/**
 * L_simple's target for a step's whole batch: the step's ε (the draws of `_stepDraws`), with
 * the rows whose label is NULL_CLASS replaced by the teacher's ε prediction (no dropout; a
 * conditional teacher is asked for "no class") at those rows' x_t. Undefined when no row is
 * NULL_CLASS (the target is ε).
 */
export function _nullTeacherTarget(
  teacher: UNet,
  schedule: Schedule,
  x0: tf.Tensor,
  seed: number,
  y: Int32Array,
  loss: _LossSpec,
): tf.Tensor | undefined {
  const rows = [...y.keys()].filter((i) => y[i] === NULL_CLASS);
  if (rows.length === 0) return undefined;
  const B = x0.shape[0];
  const { t, eps } = _stepDraws(schedule, B, x0.shape.slice(1), seed, loss);
  try {
    return tf.tidy(() => {
      const at = tf.tensor1d(rows, "int32");
      const tNull = Int32Array.from(rows, (i) => t[i]);
      const xt = _qSample(schedule, tf.gather(x0, at), tf.gather(eps, at), tNull);
      const cond = teacher.config.numClasses
        ? { classes: new Int32Array(rows.length).fill(NULL_CLASS), w: 1 }
        : undefined;
      const pred = _callModel("train", teacher, xt, tf.tensor1d(tNull, "int32"), true, cond);
      // row i of the target: ε's row i, or the teacher's row j where rows[j] = i
      const pick = Int32Array.from({ length: B }, (_, i) => i);
      rows.forEach((i, j) => pick[i] = B + j);
      return tf.gather(tf.concat([eps, pred]), tf.tensor1d(pick, "int32"));
    });
  } finally {
    eps.dispose();
  }
}
