/**
 * The samplers by name, for the command-line tools, the evaluation and the web app: each entry
 * says what it is, how it spaces a given number of steps, and runs its progressive loop. A new
 * sampler is one file with its loop (over `_sampleLoop`, src/_loop.ts) and one entry here.
 *
 * @module
 */
import type { Schedule } from "./schedule.ts";
import type { EpsModel } from "./types.ts";
import type { SampleLoopOptions, SampleLoopStep } from "./_loop.ts";
import { _runToEnd } from "./_loop.ts";
import { pSampleLoopProgressive } from "./p_sample_loop.ts";
import { ddimSampleLoopProgressive } from "./ddim.ts";
import { dpmSolverSampleLoopProgressive } from "./dpm_solver.ts";
import { respace } from "./respace.ts";
import type { Tensor } from "./types.ts";

/** The names of the samplers. */
export type SamplerName = "ddpm" | "ddim" | "dpm++";

/** Every sampler's options: the loop's, DDIM's η and DPM-Solver++'s order. */
export interface SamplerOptions extends SampleLoopOptions {
  /** DDIM's η (ddim only; default 0). */
  eta?: number;
  /** DPM-Solver++'s order (dpm++ only; default 2). */
  order?: 1 | 2 | 3;
}

/** One entry of {@linkcode SAMPLERS}. */
export interface SamplerInfo {
  /** What it is, in one line. */
  readonly description: string;
  /** The spacing `respace` gets for a number of steps (e.g. "ddim50", "logsnr20"). */
  readonly spacing: string;
  /** Whether it draws noise at every step (ddpm, ddim with η > 0). */
  readonly stochastic: boolean;
  /** Its progressive loop: one `{ t, sample, predX0 }` per step. */
  readonly loop: (
    model: EpsModel,
    s: Schedule,
    opts: SamplerOptions,
  ) => AsyncGenerator<SampleLoopStep, void, undefined>;
}

/**
 * The samplers: `ddpm` (ancestral, Algorithm 2 of Ho et al. 2020), `ddim` (Song et al. 2021)
 * and `dpm++` (DPM-Solver++ multistep, Lu et al. 2022), with the respacing each is usually run
 * on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SAMPLERS } from "@ddpm/core";
 * assert.deepEqual(Object.keys(SAMPLERS), ["ddpm", "ddim", "dpm++"]);
 * assert.equal(SAMPLERS["dpm++"].spacing, "logsnr");
 * ```
 */
export const SAMPLERS: Readonly<Record<SamplerName, SamplerInfo>> = {
  ddpm: {
    description: "ancestral sampling, Algorithm 2 of Ho et al. 2020 (steps respaced evenly)",
    spacing: "",
    stochastic: true,
    loop: pSampleLoopProgressive,
  },
  ddim: {
    description: "DDIM (Song et al. 2021), deterministic at η = 0",
    spacing: "ddim",
    stochastic: false,
    loop: ddimSampleLoopProgressive,
  },
  "dpm++": {
    description: "DPM-Solver++ multistep (Lu et al. 2022), order 1–3, on log-SNR spacing",
    spacing: "logsnr",
    stochastic: false,
    loop: dpmSolverSampleLoopProgressive,
  },
};

/** The sampler names, in registry order. */
export const SAMPLER_NAMES: readonly SamplerName[] = Object.keys(SAMPLERS) as SamplerName[];

/**
 * The schedule a sampler runs on for `steps` steps of `base`: `base` itself when steps is absent
 * or T (ddpm), else `respace(base, spacing + steps)` with the sampler's spacing or the one given
 * ("ddim", "logsnr", "karras", "linspace", "trailing", or "" for even sections).
 *
 * @param base The trained schedule.
 * @param sampler The sampler's name.
 * @param steps The number of steps (default: ddpm all T, ddim 50, dpm++ 20).
 * @param spacing Overrides the sampler's spacing.
 * @returns The schedule to sample on.
 * @throws {RangeError} If the sampler or spacing is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeSchedule, samplingSchedule } from "@ddpm/core";
 * const base = makeSchedule({ kind: "linear", T: 1000 });
 * assert.equal(samplingSchedule(base, "dpm++").T, 20);
 * assert.equal(samplingSchedule(base, "ddim", 25, "trailing").timestepMap[24], 999);
 * ```
 */
export function samplingSchedule(
  base: Schedule,
  sampler: SamplerName,
  steps?: number,
  spacing?: string,
): Schedule {
  const info = SAMPLERS[sampler];
  if (!info) {
    throw new RangeError(
      `Cannot make a sampling schedule: sampler must be ${
        SAMPLER_NAMES.join(", ")
      }, got ${sampler}`,
    );
  }
  const spacings = ["", "ddim", "logsnr", "karras", "linspace", "trailing"];
  const sp = spacing ?? info.spacing;
  if (!spacings.includes(sp)) {
    throw new RangeError(
      `Cannot make a sampling schedule: spacing must be one of ${
        spacings.map((x) => JSON.stringify(x)).join(", ")
      }, got ${JSON.stringify(spacing)}`,
    );
  }
  const n = steps ?? (sampler === "ddpm" ? base.T : sampler === "ddim" ? 50 : 20);
  if (sp === "" && n === base.T) return base;
  return respace(base, `${sp}${n}`);
}

/**
 * Samples with the named sampler over every step of the schedule given and returns x_0.
 *
 * @param model The denoising model.
 * @param s The schedule (see {@linkcode samplingSchedule}).
 * @param opts The sampling options and `sampler` (default "ddim").
 * @returns The samples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { makeSchedule, sampleLoop, samplingSchedule } from "@ddpm/core";
 * const base = makeSchedule({ kind: "linear", T: 1000 });
 * const x = await sampleLoop((xt) => tf.zerosLike(xt), samplingSchedule(base, "dpm++", 10), {
 *   sampler: "dpm++", shape: [2, 3], seed: 1,
 * });
 * assert.deepEqual(x.shape, [2, 3]);
 * ```
 */
export async function sampleLoop(
  model: EpsModel,
  s: Schedule,
  opts: SamplerOptions & { sampler?: SamplerName },
): Promise<Tensor> {
  const name = opts?.sampler ?? "ddim";
  const info = SAMPLERS[name];
  if (!info) {
    throw new RangeError(
      `Cannot sample: sampler must be ${SAMPLER_NAMES.join(", ")}, got ${name}`,
    );
  }
  return await _runToEnd(info.loop(model, s, opts));
}

/**
 * A sampler and its settings as a model card recommends them, stored in a checkpoint
 * (`CheckpointConfig.sampler`, as diffusers' `scheduler_config.json`): `deno task sample`,
 * `deno task eval`, `loadPipeline` and the web app use it unless told otherwise.
 */
export interface SamplerChoice {
  /** The sampler. */
  name: SamplerName;
  /** Its model calls (absent: the sampler's usual count). */
  steps?: number;
  /** DDIM's η (ddim only; absent: 0). */
  eta?: number;
}

/**
 * The sampler to run: the one asked for, else the recommended one, else `fallback`. The
 * recommended steps and η apply only where its sampler runs and they were not given.
 */
export function _samplerChoice(
  given: { sampler?: SamplerName; steps?: number; eta?: number },
  recommended: SamplerChoice | undefined,
  fallback: SamplerName,
): { sampler: SamplerName; steps?: number; eta?: number } {
  const sampler = given.sampler ?? recommended?.name ?? fallback;
  const rec = recommended?.name === sampler ? recommended : undefined;
  const steps = given.steps ?? rec?.steps, eta = given.eta ?? rec?.eta;
  return {
    sampler,
    ...(steps === undefined ? {} : { steps }),
    ...(eta === undefined ? {} : { eta }),
  };
}

/** Why a recommended sampler is malformed, or undefined when it is well formed. */
export function _samplerChoiceProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "must be an object";
  const c = v as Record<string, unknown>;
  if (!SAMPLER_NAMES.includes(c.name as SamplerName)) {
    return `name must be one of ${SAMPLER_NAMES.join(", ")}`;
  }
  if (c.steps !== undefined && !(Number.isInteger(c.steps) && (c.steps as number) >= 1)) {
    return "steps must be a positive integer";
  }
  if (c.eta !== undefined) {
    if (c.name !== "ddim") return "eta applies to ddim only";
    if (!(typeof c.eta === "number" && Number.isFinite(c.eta) && c.eta >= 0)) {
      return "eta must be a number >= 0";
    }
  }
  const extra = Object.keys(c).filter((k) => !["name", "steps", "eta"].includes(k));
  return extra.length ? `has unknown fields ${extra.join(", ")}` : undefined;
}
