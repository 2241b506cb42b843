// Internal: the noise a random function uses: the caller's tensor, or one drawn from seed.
import { _checkSameShape, _checkSeed } from "./_checks.ts";
import { _randomNormal, _randomSeed } from "./_random.ts";
import type { Tensor } from "./types.ts";

/** The noise tensor to use (caller keeps ownership of a given tensor; check `owned`). */
export function _noiseFor(
  what: string,
  like: { readonly shape: readonly number[] },
  likeName: string,
  noise: Tensor | undefined,
  seed: number | undefined,
  stream = 0,
): { noise: Tensor; owned: boolean } {
  if (noise !== undefined) {
    return { noise: _checkSameShape(what, likeName, like, "noise", noise), owned: false };
  }
  _checkSeed(what, seed);
  return { noise: _randomNormal([...like.shape], seed ?? _randomSeed(), stream), owned: true };
}
