// Internal: the noise a random function uses: the caller's tensor, or one drawn from seed.
import type * as tf from "@tensorflow/tfjs-core";
import { _checkSameShape, _checkSeed } from "./_checks.ts";
import { _randomNormal, _randomSeed } from "./_random.ts";

/** The noise tensor to use (caller keeps ownership of a given tensor; check `owned`). */
export function _noiseFor(
  what: string,
  like: tf.Tensor,
  likeName: string,
  noise: tf.Tensor | undefined,
  seed: number | undefined,
  stream = 0,
): { noise: tf.Tensor; owned: boolean } {
  if (noise !== undefined) {
    return { noise: _checkSameShape(what, likeName, like, "noise", noise), owned: false };
  }
  _checkSeed(what, seed);
  return { noise: _randomNormal(like.shape, seed ?? _randomSeed(), stream), owned: true };
}
