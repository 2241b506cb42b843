// Internal: the learning rate at each optimizer step — a linear warm-up, then constant (the
// paper's), or a linear or cosine decay to `lrFinal` between `decayStart` and the last step.

/** The kinds of decay after the warm-up (the trainer's and the command line's checks use it). */
export const _LR_DECAYS = ["constant", "linear", "cosine"] as const;

/** How the learning rate decays after the warm-up. */
export type _LrDecay = typeof _LR_DECAYS[number];

/** What {@linkcode _learningRate} needs (the trainer's resolved options). */
export interface _LrSchedule {
  /** Peak learning rate. */
  lr: number;
  /** Warm-up steps: lr · step / warmup until step = warmup. */
  warmup: number;
  /** The decay after the warm-up. */
  lrDecay: _LrDecay;
  /** The learning rate at the last step (linear and cosine). */
  lrFinal: number;
  /** The step where the decay starts (≥ warmup; the rate is lr up to it). */
  decayStart: number;
  /** The last step (the rate reaches lrFinal there). */
  steps: number;
}

/**
 * The learning rate of 1-based optimizer step `step`:
 *   warm(k)  = min(1, k / warmup)
 *   p(k)     = clamp((k - decayStart) / (steps - decayStart), 0, 1)     (0 if steps ≤ decayStart)
 *   constant: lr_k = lr · warm(k)
 *   linear:   lr_k = warm(k) · (lrFinal + (lr - lrFinal) · (1 - p))
 *   cosine:   lr_k = warm(k) · (lrFinal + (lr - lrFinal) · ½ (1 + cos π p))    (Loshchilov & Hutter 2017)
 * A constant stretch between warm-up and decay (decayStart > warmup) makes the
 * warm-up–stable–decay schedule, which also anneals a run resumed from a plateau.
 */
export function _learningRate(step: number, s: _LrSchedule): number {
  const warm = Math.min(1, step / s.warmup);
  if (s.lrDecay === "constant") return s.lr * warm;
  const span = s.steps - s.decayStart;
  const p = span > 0 ? Math.min(1, Math.max(0, (step - s.decayStart) / span)) : 0;
  const shape = s.lrDecay === "linear" ? 1 - p : 0.5 * (1 + Math.cos(Math.PI * p));
  return warm * (s.lrFinal + (s.lr - s.lrFinal) * shape);
}
