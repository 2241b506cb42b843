import { _checkGuidePair, _checkUnconditionalPair, type Checkpoint } from "./checkpoint.ts";
import { setWeights } from "./weights.ts";
import { createUNet, type UNet } from "../unet/unet.ts";
import { withUnconditional } from "../with_unconditional.ts";
import { withAutoguidance } from "../with_autoguidance.ts";
import type { EpsModel } from "../types.ts";

/**
 * The network a checkpoint samples with: its U-Net with the EMA weights; where the checkpoint
 * carries a guide network (`config.autoguidance`), the two combined by
 * {@linkcode withAutoguidance}; where it carries a separate unconditional network
 * (`config.unconditionalUnet`), that paired by {@linkcode withUnconditional}, so that ε(x, ∅)
 * comes from it (autoguided by the guide's null class at `config.autoguidance.unconditionalWeight`
 * where that is set). `config`, `params` and `withDropout` are the checkpoint's own network's;
 * `dispose()` frees every network.
 *
 * @param ck A loaded checkpoint.
 * @returns The network, ready to sample with.
 * @throws {RangeError} If the weights do not fit the configuration, a paired unconditional
 *   network is conditional or makes other images than the conditional one, or a guide takes
 *   other labels or makes other images than the network.
 *
 * @example The bundled model as a network
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { BUNDLED_MNIST_CHECKPOINT, initBackend, loadCheckpoint, unetFromCheckpoint } from "@ddpm/core";
 * await initBackend("cpu");
 * const unet = unetFromCheckpoint(await loadCheckpoint(BUNDLED_MNIST_CHECKPOINT));
 * const eps = unet(tf.zeros([1, 28, 28, 1]), tf.tensor1d([999], "int32"));
 * assert.deepEqual(eps.shape, [1, 28, 28, 1]);
 * unet.dispose();
 * ```
 */
export function unetFromCheckpoint(ck: Checkpoint): UNet {
  const T = ck.config.schedule.T;
  const unet = _withWeights(createUNet(ck.config.unet, { T }), ck.ema);
  const uConfig = ck.config.unconditionalUnet, ag = ck.config.autoguidance;
  const others: UNet[] = [];
  const disposeAll = () => [unet, ...others].forEach((n) => n.dispose());
  let model: EpsModel = unet, guide: UNet | undefined;
  try {
    if (ag !== undefined && ck.guide !== undefined) {
      _checkGuidePair(ck.config, (why) => new RangeError(`Cannot autoguide the network: ${why}`));
      guide = _withWeights(createUNet(ag.unet, { T }), ck.guide);
      others.push(guide);
      model = withAutoguidance(unet, guide, ag.weight);
    }
    if (uConfig !== undefined && ck.unconditional !== undefined) {
      _checkUnconditionalPair(
        ck.config,
        (why) => new RangeError(`Cannot pair the networks: ${why}`),
      );
      const uncond = _withWeights(createUNet(uConfig, { T }), ck.unconditional);
      others.push(uncond);
      // ε(x, ∅) autoguided by the guide's null class (called without labels), where asked
      // (weight 1, the default, is the unconditional network itself)
      const none = guide === undefined
        ? uncond
        : withAutoguidance(uncond, guide, ag?.unconditionalWeight ?? 1);
      model = withUnconditional(model, none);
    }
  } catch (e) {
    disposeAll();
    throw e;
  }
  if (others.length === 0) return unet;
  const combined = model;
  return Object.assign((...a: Parameters<UNet>) => combined(...a), {
    config: unet.config,
    numParams: others.reduce((n, o) => n + o.numParams, unet.numParams),
    params: unet.params,
    withDropout: unet.withDropout,
    dispose: disposeAll,
  });
}

/** The checkpoint's own network alone (its EMA weights), without a guide or a paired network. */
export function _ownNetwork(ck: Checkpoint): UNet {
  return _withWeights(createUNet(ck.config.unet, { T: ck.config.schedule.T }), ck.ema);
}

function _withWeights(unet: UNet, weights: Checkpoint["ema"]): UNet {
  try {
    setWeights(unet.params, weights);
  } catch (e) {
    unet.dispose();
    throw e;
  }
  return unet;
}
