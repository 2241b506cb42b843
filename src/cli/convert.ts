// `deno task convert`: PyTorch U-Nets in, ours out, and ours out to diffusers.
//
//   deno task convert --from diffusers --in DIR --out MODEL.safetensors
//   deno task convert --from improved-diffusion --in STATE_DICT.safetensors --image-size N
//                     --out MODEL.safetensors [--num-heads H]
//   deno task convert --to diffusers --in MODEL.safetensors --out DIR
//   [--schedule linear|cosine|quadratic|sigmoid] [--T 1000]: the schedule the model was trained with
import { parseArgs } from "node:util";
import { decodeSafetensors } from "../io/safetensors.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { saveCheckpoint } from "../io/save_checkpoint.ts";
import { _readFileBytes } from "../_platform.ts";
import { fromDiffusers, toDiffusers } from "../convert/diffusers.ts";
import { fromImprovedDiffusion } from "../convert/improved_diffusion.ts";
import { loadDiffusersFolder, saveDiffusersFolder } from "../convert/diffusers_folder.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { ScheduleKind } from "../schedule.ts";
import { _choiceArg, _cliArgs, _intArg, _outArg, _run } from "./_args.ts";

const USAGE = `Usage:
  deno task convert --from diffusers --in DIR --out MODEL.safetensors
      DIR: a diffusers UNet2DModel folder (config.json, diffusion_pytorch_model.safetensors)
  deno task convert --from improved-diffusion --in STATE_DICT.safetensors --image-size N
      --out MODEL.safetensors [--num-heads H]
      improved-diffusion's model.state_dict() saved as safetensors; --num-heads: the model's
      num_heads (default 1, UNetModel's; improved-diffusion's scripts default to 4)
  deno task convert --to diffusers --in MODEL.safetensors --out DIR
      a @ddpm/core checkpoint's EMA weights as a folder UNet2DModel.from_pretrained(DIR) loads
Options of --from:
  --schedule KIND  linear, cosine, quadratic or sigmoid: the one it was trained with  [linear]
  --T N            its timesteps  [diffusers: the config's num_train_timesteps, else 1000]`;

await _run(async () => {
  const { values: a } = parseArgs({
    args: _cliArgs(),
    options: {
      from: { type: "string" },
      to: { type: "string" },
      in: { type: "string" },
      out: { type: "string" },
      "image-size": { type: "string" },
      "num-heads": { type: "string" },
      schedule: { type: "string" },
      T: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (a.help || (!a.from && !a.to)) return console.log(USAGE);
  if (a.from && a.to) throw new RangeError("give --from or --to, not both");
  if (!a.in) throw new RangeError("--in is required (the model to convert)");
  if (!a.out) throw new RangeError("--out is required (where to write)");
  if (a.to) {
    _choiceArg("to", a.to, ["diffusers"] as const);
    const ckpt = await loadCheckpoint(a.in);
    saveDiffusersFolder(a.out, toDiffusers(ckpt));
    return console.log(
      `wrote ${a.out}/config.json and ${a.out}/diffusion_pytorch_model.safetensors ` +
        `(UNet2DModel, ${_count(ckpt)} parameters)`,
    );
  }
  const from = _choiceArg("from", a.from!, ["diffusers", "improved-diffusion"] as const);
  const out = _outArg("out", a.out, [".safetensors"]);
  const kind = a.schedule === undefined ? undefined : _choiceArg(
    "schedule",
    a.schedule,
    ["linear", "cosine", "quadratic", "sigmoid"] as const satisfies readonly ScheduleKind[],
  );
  const T = a.T === undefined ? undefined : _intArg("T", a.T, 1);
  let ckpt: Checkpoint;
  if (from === "diffusers") {
    const folder = loadDiffusersFolder(a.in);
    ckpt = fromDiffusers(folder);
    ckpt.config.schedule = { kind: kind ?? "linear", T: T ?? ckpt.config.schedule.T };
  } else {
    if (a["image-size"] === undefined) {
      throw new RangeError("--image-size is required with --from improved-diffusion");
    }
    const st = decodeSafetensors(await _readFileBytes(a.in));
    ckpt = fromImprovedDiffusion(st.tensors, {
      imageSize: _intArg("image-size", a["image-size"], 1),
      numHeads: a["num-heads"] === undefined ? undefined : _intArg("num-heads", a["num-heads"], 1),
      schedule: { kind: kind ?? "linear", T: T ?? 1000 },
    });
  }
  saveCheckpoint(out, ckpt);
  const u = ckpt.config.unet;
  console.log(
    `wrote ${out}: ${u.imageSize}×${u.imageSize}×${u.inChannels} U-Net, ch ${u.ch} × [${u.chMult}], ` +
      `${_count(ckpt)} parameters${u.numClasses ? `, ${u.numClasses} classes` : ""}; ` +
      `sample it with: deno task sample --checkpoint ${out}`,
  );
});

function _count(ckpt: Checkpoint): string {
  let n = 0;
  for (const t of ckpt.ema.values()) n += t.data.length;
  return n.toLocaleString("en-US");
}
