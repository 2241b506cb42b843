/**
 * The self-check of conditional sampling (`CheckpointConfig.selfCheck`): every labelled row is
 * classified by the class network itself ({@linkcode diffusionClassify}) and drawn again, with
 * fresh noise, where the network's own guess is another class — up to `rounds` times; a row
 * still guessed otherwise keeps its last draw. Shared by the pipeline and the CLI's shards, so
 * that a row's image does not depend on how the batch was split.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { EpsModel, Tensor } from "./types.ts";
import type { Schedule } from "./schedule.ts";
import { diffusionClassify } from "./diffusion_classify.ts";

/**
 * The self-check a checkpoint recommends: the diffusion classifier's timesteps and how many times
 * a row may be drawn again.
 */
export interface SelfCheck {
  /** Timesteps at which the class network classifies a sample (distinct, in [0, T − 1]). */
  timesteps: number[];
  /** How many times a row may be drawn again (≥ 1). */
  rounds: number;
  /**
   * How much better another class must fit before a row is drawn again, as a share of the asked
   * class's error: a row is drawn again where e_asked − min_{k ≠ asked} e_k > margin · e_asked
   * (in [0, 1); default 0: wherever another class errs least).
   */
  margin?: number;
}

/** Why a recorded self-check is malformed, or undefined when it is well formed. */
export function _selfCheckProblem(v: unknown, T: number): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "must be an object";
  const c = v as Record<string, unknown>;
  const ts = c.timesteps;
  if (
    !Array.isArray(ts) || ts.length === 0 || new Set(ts).size !== ts.length ||
    ts.some((t) => !Number.isInteger(t) || t < 0 || t >= T)
  ) {
    return `timesteps must be distinct integers in [0, ${T - 1}]`;
  }
  if (!(Number.isInteger(c.rounds) && (c.rounds as number) >= 1)) {
    return "rounds must be a positive integer";
  }
  const m = c.margin;
  if (m !== undefined && !(typeof m === "number" && m >= 0 && m < 1)) {
    return "margin must be a number in [0, 1)";
  }
  const extra = Object.keys(c).filter((k) => !["timesteps", "rounds", "margin"].includes(k));
  return extra.length ? `has unknown fields ${extra.join(", ")}` : undefined;
}

/** What the self-check classifies with: the class network alone, its schedule and classes. */
export interface _Checker<Net extends EpsModel = EpsModel> {
  net: Net;
  base: Schedule;
  numClasses: number;
}

/** `_selfChecked`'s `classify`: the checker's errors [n, K] at the self-check's timesteps. */
export function _classifierOf(
  checker: _Checker,
  timesteps: number[],
  seed: number,
): (x: Tensor, rows: { start: number; of: number }) => Promise<Float32Array> {
  return async (x, rows) =>
    (await diffusionClassify(checker.net, checker.base, x, {
      numClasses: checker.numClasses,
      timesteps,
      seed,
      rows,
    })).errors;
}

/**
 * Whether another class fits row i better than the class asked for by more than the margin:
 * e_asked − min_{k ≠ asked} e_k > margin · e_asked, with `errors` [n, K] row-major.
 */
export function _guessedOther(
  errors: Float32Array,
  K: number,
  i: number,
  asked: number,
  margin: number,
): boolean {
  const row = errors.subarray(i * K, (i + 1) * K);
  let best = Infinity;
  for (let k = 0; k < K; k++) if (k !== asked && row[k] < best) best = row[k];
  return row[asked] - best > margin * row[asked];
}

/** The seed of round r's redraws: the sampling seed's high bits, so no other seed's chains. */
export function _redrawSeed(seed: number, round: number): number {
  return seed + round * 2 ** 32;
}

/** What a self-check did: the draws made again, and the rows still guessed as another class. */
export interface SelfCheckTally {
  /** Rows drawn again, counted once per round. */
  redrawn: number;
  /** Rows the class network still guessed as another class after the last round. */
  stillOther: number;
}

/** The tallies of several parts (absent: a part that drew no labelled row) added up. */
export function _sumTallies(tallies: readonly (SelfCheckTally | undefined)[]): SelfCheckTally {
  return {
    redrawn: tallies.reduce((a, t) => a + (t?.redrawn ?? 0), 0),
    stillOther: tallies.reduce((a, t) => a + (t?.stillOther ?? 0), 0),
  };
}

/** A self-check's tally as a line for the notes of sample and eval. */
export function _tallyText(tally: SelfCheckTally, n: number): string {
  const { redrawn, stillOther } = tally;
  return `self-check: ${redrawn} draw${redrawn === 1 ? "" : "s"} again for ${n} images; ` +
    `${stillOther} still guessed another class by the class network`;
}

/**
 * Rows [start, start + count) of a batch of `of` after the self-check. `classify(x, rows)`
 * returns the network's guess for images x (rows `rows` of the batch); `redraw(row, seed)` draws
 * one row again ([1, ...image]). `classes` are the whole batch's labels (−1: no class, never
 * checked). Disposes `x` and returns a new tensor.
 */
export async function _selfChecked(
  x: Tensor,
  at: { start: number; of: number; classes: readonly number[]; seed: number },
  check: SelfCheck,
  classify: (x: Tensor, rows: { start: number; of: number }) => Promise<Float32Array>,
  redraw: (row: number, seed: number) => Promise<Tensor>,
): Promise<{ samples: Tensor; tally: SelfCheckTally }> {
  const count = x.shape[0], size = x.size / count;
  const data = Float32Array.from(await x.data() as Float32Array);
  const shape = x.shape;
  const asked = (i: number) => at.classes[at.start + i];
  const margin = check.margin ?? 0;
  // round 0 classifies the whole part at once; later rounds the rows drawn again, one at a time
  const errors0 = await classify(x, { start: at.start, of: at.of });
  x.dispose();
  const K = errors0.length / count;
  let wrong = Array.from({ length: count }, (_, i) => i).filter((i) =>
    asked(i) >= 0 && _guessedOther(errors0, K, i, asked(i), margin)
  );
  const tally = { redrawn: 0, stillOther: 0 };
  for (let round = 1; round <= check.rounds && wrong.length > 0; round++) {
    const next: number[] = [];
    for (const i of wrong) {
      const row = await redraw(at.start + i, _redrawSeed(at.seed, round));
      const errors = await classify(row, { start: at.start + i, of: at.of });
      data.set(await row.data() as Float32Array, i * size);
      row.dispose();
      tally.redrawn++;
      if (_guessedOther(errors, K, 0, asked(i), margin)) next.push(i);
    }
    wrong = next;
  }
  tally.stillOther = wrong.length;
  return { samples: tf.tensor(data, shape), tally };
}
