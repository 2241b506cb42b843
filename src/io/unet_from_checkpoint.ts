import { _checkUnconditionalPair, type Checkpoint } from "./checkpoint.ts";
import { setWeights } from "./weights.ts";
import { createUNet, type UNet } from "../unet/unet.ts";
import { withUnconditional } from "../with_unconditional.ts";

/**
 * The network a checkpoint samples with: its U-Net with the EMA weights; where the checkpoint
 * carries a separate unconditional network (`config.unconditionalUnet`), the two paired by
 * {@linkcode withUnconditional}, so that ε(x, ∅) comes from that network. `config`, `params` and
 * `withDropout` are the conditional network's; `dispose()` frees both.
 *
 * @param ck A loaded checkpoint.
 * @returns The network, ready to sample with.
 * @throws {RangeError} If the weights do not fit the configuration, or a paired unconditional
 *   network is conditional or makes other images than the conditional one.
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
  const uConfig = ck.config.unconditionalUnet;
  if (uConfig === undefined || ck.unconditional === undefined) return unet;
  let uncond: UNet;
  try {
    uncond = _withWeights(createUNet(uConfig, { T }), ck.unconditional);
  } catch (e) {
    unet.dispose();
    throw e;
  }
  try {
    _checkUnconditionalPair(ck.config, (why) => new RangeError(`Cannot pair the networks: ${why}`));
  } catch (e) {
    unet.dispose();
    uncond.dispose();
    throw e;
  }
  const paired = withUnconditional(unet, uncond);
  return Object.assign((...a: Parameters<UNet>) => paired(...a), {
    config: unet.config,
    numParams: unet.numParams + uncond.numParams,
    params: unet.params,
    withDropout: unet.withDropout,
    dispose: () => {
      unet.dispose();
      uncond.dispose();
    },
  });
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
