// `deno task export`: keep only what sampling needs (EMA weights, config, state) from a
// training checkpoint: a quarter of its size. This is how checkpoints/mnist.safetensors was made.
//
//   deno task export --checkpoint out/train/checkpoint.safetensors --out model.safetensors
//
// A conditional model may carry a separate unconditional network for guidance's ε(x, ∅)
// (`--unconditional bundled` or a checkpoint path): its EMA weights are stored beside the
// conditional ones, and guidance 0 then samples exactly as that network does. A model may also carry
// a weaker guide network for autoguidance (`--autoguide PATH --autoguide-weight W`, Karras et al.
// 2024): every call then extrapolates from the guide's prediction towards the model's; with
// `--autoguide-unconditional W0` the separate unconditional network's ε(x, ∅) is autoguided too,
// by the guide's null class.
// `--float16` stores the weights in half precision: half the bytes, for shipping a model.
// `--sampler NAME [--steps N] [--eta X]` records the sampler its model card recommends, which
// `deno task sample`, `deno task eval`, `loadPipeline` and the web app then use by default.
import { parseArgs } from "node:util";
import {
  _checkGuidePair,
  _checkUnconditionalPair,
  type CheckpointConfig,
  loadCheckpoint,
} from "../io/checkpoint.ts";
import type { SelfCheck } from "../self_check.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../io/bundled.ts";
import { saveCheckpoint } from "../io/save_checkpoint.ts";
import {
  _choiceArg,
  _cliArgs,
  _guidanceIntervalArg,
  _intArg,
  _nonNegativeArg,
  _run,
} from "./_args.ts";
import { SAMPLER_NAMES } from "../samplers.ts";

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      guidance: { type: "string" },
      "guidance-interval": { type: "string" },
      unconditional: { type: "string" },
      autoguide: { type: "string" },
      "autoguide-weight": { type: "string" },
      "autoguide-unconditional": { type: "string" },
      float16: { type: "boolean" },
      sampler: { type: "string" },
      steps: { type: "string" },
      eta: { type: "string" },
      "self-check": { type: "string" },
      "self-check-rounds": { type: "string" },
      "self-check-margin": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (a.help || !a.checkpoint || !a.out) {
    return console.log(
      "Usage: deno task export --checkpoint TRAINING.safetensors --out MODEL.safetensors " +
        "[--guidance W] [--guidance-interval LO,HI] [--unconditional bundled|PATH] " +
        "[--autoguide PATH --autoguide-weight W [--autoguide-unconditional W0]] [--float16] [--sampler NAME [--steps N] " +
        "[--eta X]] [--self-check T1,T2,… [--self-check-rounds R] [--self-check-margin M] | --self-check none]\n" +
        "  --guidance W  the guidance scale `deno task sample` uses by default (conditional models)\n" +
        "  --guidance-interval LO,HI  the timesteps where that guidance applies by default\n" +
        "  --unconditional  a separate unconditional network for guidance's ε(x, ∅): the bundled " +
        "mnist model or a checkpoint's EMA weights (conditional models)\n" +
        "  --autoguide PATH  a weaker guide network for autoguidance (a checkpoint's EMA weights, " +
        "the same labels and images), with --autoguide-weight W: ε_guide + W·(ε − ε_guide)\n" +
        "  --autoguide-unconditional W0  also autoguide the separate unconditional network's " +
        "ε(x, ∅) by the guide's null class: ε_guide(x, ∅) + W0·(ε_u − ε_guide(x, ∅))\n" +
        "  --float16  store the weights in half precision (IEEE binary16, rounded to nearest): " +
        "half the file\n" +
        "  --sampler NAME  the sampler (ddpm, ddim or dpm++) used by default, with --steps N " +
        "model calls and --eta X (ddim's η)\n" +
        "  --self-check T1,T2,…  classify each labelled sample with the class network itself at " +
        "these timesteps and draw it again where it guesses another class, up to " +
        "--self-check-rounds R times (default 3), where another class's error is below the " +
        "asked class's by more than --self-check-margin M of it (default 0); none: no " +
        "self-check (conditional models)",
    );
  }
  const ck = await loadCheckpoint(a.checkpoint);
  const config = { ...ck.config };
  if (a.guidance !== undefined) {
    if (!ck.config.unet.numClasses) {
      throw new RangeError(
        `--guidance needs a class-conditional checkpoint, ${a.checkpoint} is not`,
      );
    }
    config.guidanceScale = _nonNegativeArg("guidance", a.guidance);
  }
  if (a["guidance-interval"] !== undefined) {
    config.guidanceInterval = _guidanceIntervalArg(a["guidance-interval"], config);
  }
  if (a.sampler === undefined && (a.steps !== undefined || a.eta !== undefined)) {
    throw new RangeError("--steps and --eta go with --sampler: name the sampler they are for");
  }
  if (a.sampler !== undefined) {
    const name = _choiceArg("sampler", a.sampler, SAMPLER_NAMES);
    if (a.eta !== undefined && name !== "ddim") {
      throw new RangeError(`--eta is DDIM's η: it needs --sampler ddim, got --sampler ${name}`);
    }
    config.sampler = {
      name,
      ...(a.steps === undefined ? {} : { steps: _intArg("steps", a.steps, 1) }),
      ...(a.eta === undefined ? {} : { eta: _nonNegativeArg("eta", a.eta) }),
    };
  }
  if (
    a["self-check"] === undefined &&
    (a["self-check-rounds"] !== undefined || a["self-check-margin"] !== undefined)
  ) {
    throw new RangeError(
      "--self-check-rounds and --self-check-margin go with --self-check: name its timesteps",
    );
  }
  if (a["self-check"] === "none") delete config.selfCheck;
  else if (a["self-check"] !== undefined) config.selfCheck = _selfCheckSpec(a, config);
  let unconditional = ck.unconditional, guide = ck.guide;
  if (a.unconditional !== undefined) {
    if (!ck.config.unet.numClasses) {
      throw new RangeError(
        `--unconditional needs a class-conditional checkpoint, ${a.checkpoint} is not`,
      );
    }
    const u = await loadCheckpoint(
      a.unconditional === "bundled" ? BUNDLED_MNIST_CHECKPOINT : a.unconditional,
    );
    config.unconditionalUnet = u.config.unet;
    unconditional = u.ema;
    _checkUnconditionalPair(config, (why) => new RangeError(`--unconditional: ${why}`));
  }
  if ((a.autoguide === undefined) !== (a["autoguide-weight"] === undefined)) {
    throw new RangeError("--autoguide and --autoguide-weight go together: give both or neither");
  }
  if (a.autoguide !== undefined) {
    const g = await loadCheckpoint(a.autoguide);
    const weight = Number(a["autoguide-weight"]);
    if (!Number.isFinite(weight) || a["autoguide-weight"]?.trim() === "") {
      throw new RangeError(
        `--autoguide-weight must be a finite number, got ${JSON.stringify(a["autoguide-weight"])}`,
      );
    }
    config.autoguidance = { unet: g.config.unet, weight };
    guide = g.ema;
    _checkGuidePair(config, (why) => new RangeError(`--autoguide: ${why}`));
  }
  if (a["autoguide-unconditional"] !== undefined) {
    if (config.autoguidance === undefined) {
      throw new RangeError(
        "--autoguide-unconditional needs a guide network: give --autoguide PATH " +
          "--autoguide-weight W (or export a checkpoint that has one)",
      );
    }
    config.autoguidance = {
      ...config.autoguidance,
      unconditionalWeight: _nonNegativeArg(
        "autoguide-unconditional",
        a["autoguide-unconditional"],
      ),
    };
    _checkGuidePair(config, (why) => new RangeError(`--autoguide-unconditional: ${why}`));
  }
  const float16 = a.float16 ?? false;
  saveCheckpoint(a.out, { config, state: ck.state, ema: ck.ema, unconditional, guide }, {
    float16,
  });
  console.log(
    `wrote ${a.out}: ${float16 ? "float16 " : ""}EMA weights of step ${ck.state?.step ?? "?"}` +
      (a.unconditional ? `, with the unconditional network of ${a.unconditional}` : "") +
      (a.autoguide
        ? `, autoguided by ${a.autoguide} at weight ${config.autoguidance?.weight}`
        : "") +
      (config.autoguidance?.unconditionalWeight !== undefined
        ? `, ε(x, ∅) autoguided at weight ${config.autoguidance.unconditionalWeight}`
        : "") +
      (config.sampler
        ? `, sampling with ${config.sampler.name}` +
          (config.sampler.steps ? ` ${config.sampler.steps} steps` : "") +
          (config.sampler.eta !== undefined ? ` η ${config.sampler.eta}` : "")
        : "") +
      (config.selfCheck
        ? `, self-checked at t ∈ {${config.selfCheck.timesteps.join(", ")}} ` +
          `(up to ${config.selfCheck.rounds} draws again` +
          (config.selfCheck.margin ? `, margin ${config.selfCheck.margin})` : ")")
        : ""),
  );
});

/** --self-check T1,T2,… and --self-check-rounds R, checked against the checkpoint. */
function _selfCheckSpec(
  a: { "self-check"?: string; "self-check-rounds"?: string; "self-check-margin"?: string },
  config: CheckpointConfig,
): SelfCheck {
  if (!config.unet.numClasses) {
    throw new RangeError("--self-check needs a class-conditional checkpoint");
  }
  const v = a["self-check"]!, T = config.schedule.T;
  const parts = v.split(",").map((p) => p.trim());
  const timesteps = parts.map(Number);
  if (
    parts.some((p) => !/^\d+$/.test(p)) || timesteps.some((t) => t >= T) ||
    new Set(timesteps).size !== timesteps.length
  ) {
    throw new RangeError(
      `--self-check must be none or distinct timesteps T1,T2,… (each < T = ${T}), got ${v}`,
    );
  }
  const rounds = a["self-check-rounds"] === undefined
    ? 3
    : _intArg("self-check-rounds", a["self-check-rounds"], 1);
  const m = a["self-check-margin"];
  if (m === undefined) return { timesteps, rounds };
  const margin = Number(m);
  if (m.trim() === "" || !(margin >= 0 && margin < 1)) {
    throw new RangeError(`--self-check-margin must be a number in [0, 1), got ${m}`);
  }
  return { timesteps, rounds, margin };
}
