// Internal: what every training loss reads before it computes — its timesteps (given, or uniform
// on [0, T-1] from stream 1 of the seed), its class labels, and its ε (given, or stream 2), so
// epsLoss and hybridLoss draw exactly the same t and ε for one seed.
import type { Schedule } from "./schedule.ts";
import type { Tensor, Tensor1D } from "./types.ts";
import { _readTimesteps } from "./_timesteps.ts";
import { _checkSeed } from "./_checks.ts";
import { _noiseFor } from "./_noise.ts";
import { _randomInts, _randomSeed } from "./_random.ts";
import type { ClassLabels } from "./guidance.ts";
import { _LOSS_NOISE, _LOSS_TIMESTEPS } from "./_streams.ts";
import { _readClasses } from "./_conditioning.ts";

/** Reads and checks a loss's t, classes and ε for x0 (ε owned: the caller disposes it). */
export function _lossInputs(
  what: string,
  s: Schedule,
  x0: Tensor,
  args: { t?: Tensor1D; noise?: Tensor; seed?: number; classes?: ClassLabels },
): { ts: number | Int32Array; classes?: Int32Array; z: { noise: Tensor; owned: boolean } } {
  _checkSeed(what, args.seed);
  const seed = args.seed ?? _randomSeed();
  const B = x0.shape[0];
  const ts = _readTimesteps(what, s, args.t ?? _randomInts(B, s.T, seed, _LOSS_TIMESTEPS), B);
  const classes = _readClasses(what, args.classes, B);
  const z = _noiseFor(what, x0, "x0", args.noise, seed, _LOSS_NOISE);
  return { ts, classes, z };
}
