// Internal: every random stream of the library, in one table. A draw is a function of (seed,
// stream) alone (splitmix32, src/_random.ts), so the streams of one seed are independent and a
// seed reproduces every number on every backend; keeping them here keeps them from colliding.
//
//   stream                      what it draws                                    where
//   0                           x_T of a sampling loop                           _loop.ts
//   t + 1                       the noise of sampling step t                     _loop.ts
//   t + 1                       the noise of bound term t (vlbBound)             vlb.ts
//   1                           epsLoss's timesteps                              eps_loss.ts, train/_step.ts
//   2                           epsLoss's ε                                      eps_loss.ts, train/_step.ts
//   i (creation order)          the U-Net's initial weights, parameter i         unet/unet.ts
//   0x10000                     the class embedding's rows                       unet/unet.ts
//   0x10000 + k + 1             ε of bpdEstimate's stratum k                     eval/bpd_estimate.ts
//   0x100000 + epoch            the trainer's epoch permutation                  _batches.ts
//   0x200000 + step             the trainer's flips                              _batches.ts
//   0x300000 + step             the trainer's dropped labels (class dropout)     _batches.ts
//   0x300000 + step             the digit classifier's shift at a step           eval/train_classifier.ts
//                               (its own training run: the same numbers as class dropout, never
//                               drawn in one run together)
//   0x400000 + t                ε of the diffusion classifier at timestep t      diffusion_classify.ts
//
// The U-Net's parameters count from 0 and stay far below 0x10000 (a few hundred); sampling and
// the bound count t + 1 ≤ T ≤ 0x10000 by the schedules' own limit. Dropout masks come from
// tfjs's seeded dropout, keyed by the step's seed and the block.

/** x_T of a sampling loop. */
export const _SAMPLER_START = 0;
/** The noise of sampling step t (and of the bound's term t). */
export const _stepNoise = (t: number): number => t + 1;
/** epsLoss's timesteps. */
export const _LOSS_TIMESTEPS = 1;
/** epsLoss's ε. */
export const _LOSS_NOISE = 2;
/** The class embedding's initial rows. */
export const _LABEL_EMBEDDING = 0x10000;
/** ε of bpdEstimate's stratum k. */
export const _bpdStratum = (k: number): number => 0x10000 + k + 1;
/** The trainer's permutation of epoch e. */
export const _epoch = (e: number): number => 0x100000 + e;
/** The trainer's flips at a step. */
export const _flips = (step: number): number => 0x200000 + step;
/** The trainer's dropped labels at a step. */
export const _classDrop = (step: number): number => 0x300000 + step;
/** The digit classifier's random shift at a step of its own training. */
export const _classifierShift = (step: number): number => 0x300000 + step;
/** ε of the diffusion classifier at timestep t. */
export const _classifyNoise = (t: number): number => 0x400000 + t;
