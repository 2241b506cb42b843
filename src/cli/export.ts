// `deno task export`: keep only what sampling needs (EMA weights, config, state) from a
// training checkpoint: a quarter of its size. This is how checkpoints/mnist.safetensors was made.
//
//   deno task export --checkpoint out/train/checkpoint.safetensors --out model.safetensors
import { parseArgs } from "node:util";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { saveCheckpoint } from "../io/save_checkpoint.ts";
import { _cliArgs, _nonNegativeArg, _run } from "./_args.ts";

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      guidance: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (a.help || !a.checkpoint || !a.out) {
    return console.log(
      "Usage: deno task export --checkpoint TRAINING.safetensors --out MODEL.safetensors " +
        "[--guidance W]\n  --guidance W  the guidance scale `deno task sample` uses by default " +
        "(conditional models)",
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
  saveCheckpoint(a.out, { config, state: ck.state, ema: ck.ema });
  console.log(`wrote ${a.out}: EMA weights of step ${ck.state?.step ?? "?"}`);
});
