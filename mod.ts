/**
 * @ddpm/core — Denoising Diffusion Probabilistic Models (Ho et al. 2020) in TypeScript,
 * over `@tensorflow/tfjs-core`. This entry point is platform-neutral (Deno, Bun, Node and web
 * pages: bytes in, bytes out); what needs a file system is in `@ddpm/core/fs`.
 *
 * Layers: the schedule ({@linkcode makeSchedule}), closed forms ({@linkcode forwardNoise},
 * {@linkcode posterior}, …), losses ({@linkcode epsLoss}, {@linkcode vlbBound}), samplers
 * ({@linkcode pSampleLoop}, {@linkcode ddimSampleLoop}, {@linkcode dpmSolverSampleLoop}, by name
 * in {@linkcode SAMPLERS}) with class labels and classifier-free guidance, the U-Net
 * ({@linkcode createUNet}), checkpoints as bytes ({@linkcode encodeCheckpoint},
 * {@linkcode loadCheckpoint}) and the evaluation. The model is always an argument: any
 * `(xt, t, y?) => eps` function.
 *
 * @example Train-free sampling with a model that predicts zero noise
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, makeSchedule, pSampleLoop } from "@ddpm/core";
 * await initBackend("cpu");
 * const s = makeSchedule({ kind: "linear", T: 100 });
 * const x0 = await pSampleLoop((xt) => tf.zerosLike(xt), s, { shape: [4, 2], seed: 0 });
 * assert.deepEqual(x0.shape, [4, 2]);
 * ```
 *
 * @module
 */
export { initBackend } from "./src/backend.ts";
export type { BackendInfo, BackendName, InitBackendOptions } from "./src/backend.ts";
export { makeSchedule } from "./src/schedule.ts";
export type { Schedule, ScheduleKind, ScheduleSpec } from "./src/schedule.ts";
export { respace } from "./src/respace.ts";
export type { TimestepArg } from "./src/_timesteps.ts";
export type { EpsModel, Prediction, Scalar, Tensor, Tensor1D, VarianceKind } from "./src/types.ts";
export { forwardNoise } from "./src/forward_noise.ts";
export type { ForwardNoiseArgs } from "./src/forward_noise.ts";
export { forwardStep } from "./src/forward_step.ts";
export type { ForwardStepArgs } from "./src/forward_step.ts";
export { qMeanVariance } from "./src/q_mean_variance.ts";
export type { GaussianParams } from "./src/q_mean_variance.ts";
export { posterior } from "./src/posterior.ts";
export type { PosteriorArgs } from "./src/posterior.ts";
export {
  predictEpsFromV,
  predictEpsFromX0,
  predictV,
  predictX0FromEps,
  predictX0FromV,
} from "./src/parameterization.ts";
export { normalKl } from "./src/normal_kl.ts";
export type { NormalKlArgs } from "./src/normal_kl.ts";
export { discretizedGaussianLogLikelihood } from "./src/discretized_gaussian_log_likelihood.ts";
export type { DiscretizedGaussianArgs } from "./src/discretized_gaussian_log_likelihood.ts";
export { epsLoss } from "./src/eps_loss.ts";
export { hybridLoss } from "./src/hybrid_loss.ts";
export type { HybridLossArgs } from "./src/hybrid_loss.ts";
export {
  createLossHistory,
  importanceProbabilities,
  importanceTimesteps,
  updateLossHistory,
} from "./src/importance_sampling.ts";
export type { LossHistory } from "./src/importance_sampling.ts";
export type { EpsLossArgs } from "./src/eps_loss.ts";
export { priorBpd, vlbBound, vlbTerm } from "./src/vlb.ts";
export type { VlbBound, VlbBoundOptions, VlbTermArgs } from "./src/vlb.ts";
export { pMeanVariance } from "./src/p_mean_variance.ts";
export { learnedLogVariance } from "./src/learned_variance.ts";
export type { LearnedLogVarianceArgs } from "./src/learned_variance.ts";
export type { PMeanVariance, ReverseOptions } from "./src/p_mean_variance.ts";
export { pSample } from "./src/p_sample.ts";
export type { PSampleArgs } from "./src/p_sample.ts";
export { pSampleLoop, pSampleLoopProgressive } from "./src/p_sample_loop.ts";
export type { SampleLoopOptions, SampleLoopStep } from "./src/_loop.ts";
export { ddimSample, ddimSampleLoop, ddimSampleLoopProgressive } from "./src/ddim.ts";
export type { DdimSampleArgs } from "./src/ddim.ts";
export { dpmSolverSampleLoop, dpmSolverSampleLoopProgressive } from "./src/dpm_solver.ts";
export type { DpmSolverOptions } from "./src/dpm_solver.ts";
export { dynamicThreshold } from "./src/dynamic_threshold.ts";
export { withUnconditional } from "./src/with_unconditional.ts";
export { withAutoguidance } from "./src/with_autoguidance.ts";
export { diffusionClassify } from "./src/diffusion_classify.ts";
export type {
  DiffusionClassification,
  DiffusionClassifyOptions,
} from "./src/diffusion_classify.ts";
export type { SelfCheck, SelfCheckTally } from "./src/self_check.ts";
export { sampleLoop, SAMPLER_NAMES, SAMPLERS, samplingSchedule } from "./src/samplers.ts";
export type { SamplerChoice, SamplerInfo, SamplerName, SamplerOptions } from "./src/samplers.ts";
export type { DynamicThresholdOptions } from "./src/dynamic_threshold.ts";
export type { Variable } from "./src/types.ts";
export { createUNet } from "./src/unet/unet.ts";
export type { CreateUNetOptions, ResolvedUNetConfig, UNet, UNetConfig } from "./src/unet/unet.ts";
export { classifierFreeGuidance, NULL_CLASS } from "./src/guidance.ts";
export type { ClassLabels, GuidanceOptions } from "./src/guidance.ts";
export { unetPresets } from "./src/unet/presets.ts";
export { unetLayout } from "./src/unet/layout.ts";
export type { UNetBlock, UNetPlace } from "./src/unet/layout.ts";
export {
  HO_TIMESTEP_EMBEDDING,
  timestepEmbedding,
  type TimestepEmbeddingVariant,
} from "./src/unet/timestep_embedding.ts";
export type { Dataset } from "./src/data/dataset.ts";
export { trainLoop } from "./src/train/train_loop.ts";
export type { TrainLoopOptions, TrainLoopResult, TrainStepInfo } from "./src/train/train_loop.ts";
export { encodeCheckpoint, loadCheckpoint } from "./src/io/checkpoint.ts";
export { unetFromCheckpoint } from "./src/io/unet_from_checkpoint.ts";
export type { Checkpoint, CheckpointConfig, TrainState, Weights } from "./src/io/checkpoint.ts";
export { decodeSafetensors, encodeSafetensors, storedToFloat32 } from "./src/io/safetensors.ts";
export type { Safetensors, StoredTensor } from "./src/io/safetensors.ts";
export {
  type DiffusersModel,
  fromDiffusers,
  type FromDiffusersOptions,
  toDiffusers,
} from "./src/convert/diffusers.ts";
export {
  fromImprovedDiffusion,
  type ImprovedDiffusionOptions,
} from "./src/convert/improved_diffusion.ts";
export { getWeights, setWeights } from "./src/io/weights.ts";
export { imageGrid, toUint8 } from "./src/io/image_grid.ts";
export type { ImageGridOptions } from "./src/io/image_grid.ts";
export { encodeNpy } from "./src/io/npy.ts";
export { lossCurveSvg } from "./src/io/loss_curve.ts";
export type { LossCurveOptions } from "./src/io/loss_curve.ts";
export { decodeIdx, FASHION_MNIST_CLASSES } from "./src/data/decode_idx.ts";
export type { IdxArray } from "./src/data/decode_idx.ts";
export { BUNDLED_MNIST_CHECKPOINT } from "./src/io/bundled.ts";
export { BUNDLED_MNIST_CONDITIONAL } from "./src/io/bundled.ts";
export { BUNDLED_MNIST_CLASSIFIER } from "./src/io/bundled.ts";
export { chartSvg } from "./src/io/chart_svg.ts";
export type { ChartOptions, ChartSeries } from "./src/io/chart_svg.ts";
export { bpdEstimate } from "./src/eval/bpd_estimate.ts";
export type { BpdEstimate, BpdEstimateOptions, Stratum } from "./src/eval/bpd_estimate.ts";
export { CLASSIFIER_FEATURES, createMnistClassifier } from "./src/eval/classifier.ts";
export type { MnistClassifier } from "./src/eval/classifier.ts";
export { trainClassifier } from "./src/eval/train_classifier.ts";
export type { TrainClassifierOptions, TrainClassifierResult } from "./src/eval/train_classifier.ts";
export { classifierAccuracy } from "./src/eval/classifier_accuracy.ts";
export { encodeClassifier, loadMnistClassifier } from "./src/eval/classifier_weights.ts";
export { featureStats, frechetDistance } from "./src/eval/frechet_distance.ts";
export type { FeatureStats } from "./src/eval/frechet_distance.ts";
export { classifierOutputs, sampleQuality } from "./src/eval/sample_quality.ts";
export type {
  ClassifierOutputs,
  SampleQuality,
  SampleQualityOptions,
} from "./src/eval/sample_quality.ts";
export { nearestNeighbours } from "./src/eval/nearest_neighbours.ts";
export { createToyMlp, TOY2D_NAMES, toy2dData, type Toy2dName, type ToyMlp } from "./src/toy2d.ts";
export {
  loadPipeline,
  type Pipeline,
  type PipelineFrame,
  type PipelineSampleOptions,
} from "./src/pipeline.ts";
