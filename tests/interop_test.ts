// Interoperability with PyTorch projects: improved-diffusion's and diffusers' U-Nets, converted,
// compute the ε their own code computed (fixtures written by tests/fixtures/interop/
// make_fixtures.py with the projects' code and Debian's PyTorch), on every backend.
import * as tf from "@tensorflow/tfjs-core";
import {
  createUNet,
  decodeSafetensors,
  encodeSafetensors,
  fromDiffusers,
  fromImprovedDiffusion,
  getWeights,
  setWeights,
  type StoredTensor,
  storedToFloat32,
  toDiffusers,
  unetPresets,
} from "../mod.ts";
import { loadDiffusersFolder, saveDiffusersFolder } from "../fs.ts";
import { TINY } from "./_tiny.ts";
import { _toFloat16Bits } from "../src/io/_float16.ts";
import { assertClose, backendTest, read } from "./_helpers.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

const FIXTURES = new URL("./fixtures/interop/", import.meta.url);
const load = (name: string) => decodeSafetensors(Deno.readFileSync(new URL(name, FIXTURES)));

/** NCHW float data [B, C, H, W] → an NHWC tensor. */
function nhwc(t: StoredTensor): tf.Tensor4D {
  return tf.tidy(() =>
    tf.transpose(tf.tensor4d(t.data as Float32Array, t.shape as [number, number, number, number]), [
      0,
      2,
      3,
      1,
    ])
  );
}

/** The bytes of a float32 array (for bit-for-bit comparisons). */
const bits = (a: Float32Array | Uint16Array | Uint8Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Runs a converted checkpoint on the fixture's inputs and compares with its ε: within 1e-4 of the
 * largest |ε| (the bound). Both sides are float32: the difference is the order of the
 * sums (GroupNorm statistics, attention softmax, 3×3 convolutions over up to 96 channels).
 */
async function assertSameEps(
  ckpt: ReturnType<typeof fromImprovedDiffusion>,
  io: ReturnType<typeof load>,
): Promise<number> {
  const unet = createUNet(ckpt.config.unet, { T: ckpt.config.schedule.T });
  // every converted weight is one of the network's, and every parameter is converted
  assertEquals([...ckpt.ema.keys()].sort(), [...unet.params.keys()].sort());
  setWeights(unet.params, ckpt.ema);
  const get = (n: string) => io.tensors.get(n)!;
  const x = nhwc(get("x")), eps = nhwc(get("eps"));
  const t = tf.tensor1d(Array.from(get("t").data), "int32");
  const y = io.tensors.has("y") ? tf.tensor1d(Array.from(get("y").data), "int32") : undefined;
  const out = unet(x, t, y);
  const [got, want] = [await read(out), await read(eps)];
  const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  // measured 0.8e-6 … 2.6e-6 of the largest |ε| on cpu, wasm and webgpu; the bound is 1e-4
  assertClose(got, want, "ε", { atol: 1e-5 * scale, rtol: 0 });
  tf.dispose([x, eps, t, y, out].filter((v) => v !== undefined) as tf.Tensor[]);
  unet.dispose();
  return scale;
}

backendTest(
  "improved-diffusion: UNetModel (2 heads, scale-shift norm, learned σ, 3 classes) computes its own ε",
  async () => {
    const io = load("improved_diffusion_tiny.io.safetensors");
    const kwargs = JSON.parse(io.metadata.kwargs);
    const ckpt = fromImprovedDiffusion(load("improved_diffusion_tiny.safetensors").tensors, {
      imageSize: 8,
      numHeads: kwargs.num_heads,
    });
    const u = ckpt.config.unet;
    assertEquals(
      [
        u.ch,
        u.chMult,
        u.numResBlocks,
        u.attnResolutions,
        u.outChannels,
        u.numClasses,
        u.scaleShiftNorm,
      ],
      [32, [1, 1], 1, [4], 6, 3, true],
    );
    await assertSameEps(ckpt, io);
  },
);

for (
  const [name, legacy, heads] of [["diffusers_ddpm_tiny", true, 1], [
    "diffusers_default_tiny",
    false,
    8,
  ]] as const
) {
  backendTest(
    `diffusers: ${name} (${
      legacy ? "legacy attention names" : "to_q/to_k/to_v/to_out.0"
    }) computes its own ε`,
    async () => {
      const folder = loadDiffusersFolder(new URL(name, FIXTURES).pathname);
      const ckpt = fromDiffusers(folder);
      await assertSameEps(ckpt, load(`${name}.io.safetensors`));
      if (heads !== 1) assertEquals(ckpt.config.unet.headDim, heads);
    },
  );
}

Deno.test("diffusers: export reproduces diffusers' own state_dict and config; ours → diffusers → ours is bit for bit", () => {
  for (const name of ["diffusers_ddpm_tiny", "diffusers_default_tiny"]) {
    const folder = loadDiffusersFolder(new URL(name, FIXTURES).pathname);
    const ckpt = fromDiffusers(folder);
    const out = toDiffusers(ckpt);
    // the same tensors, names (the legacy ones renamed to the current), shapes and bytes
    const rename = (n: string) =>
      n.replace(".query.", ".to_q.").replace(".key.", ".to_k.").replace(".value.", ".to_v.")
        .replace(".proj_attn.", ".to_out.0.");
    const original = new Map([...folder.tensors].map(([n, t]) => [rename(n), t]));
    // a diffusers class embedding has no "no class" row: the export adds the (zero) null row
    // as class K and marks it, so the original's rows come first
    const classes = original.get("class_embedding.weight");
    if (classes) {
      const [K, width] = classes.shape;
      const rows = new Float32Array((K + 1) * width);
      rows.set(classes.data as Float32Array);
      original.set("class_embedding.weight", { dtype: "F32", shape: [K + 1, width], data: rows });
      assertEquals(out.metadata.ddpm_core_null_class, "last");
    }
    assertEquals([...out.tensors.keys()].sort(), [...original.keys()].sort());
    for (const [n, t] of out.tensors) {
      assertEquals(t.shape, original.get(n)!.shape, n);
      assertEquals(bits(t.data), bits(original.get(n)!.data), n);
    }
    // every config field diffusers' own file has, with the same value
    for (const [k, v] of Object.entries(folder.config)) {
      const want = k === "num_class_embeds" ? (v as number) + 1 : v;
      if (k !== "_diffusers_version") assertEquals(out.config[k], want, k);
    }
    const back = fromDiffusers(out);
    assertEquals(back.config, ckpt.config);
    for (const [n, t] of ckpt.ema) assertEquals(bits(back.ema.get(n)!.data), bits(t.data), n);
  }
});

Deno.test("diffusers: a half-precision state_dict (F16, or BF16) converts to the same weights as its float32 values", () => {
  const folder = loadDiffusersFolder(new URL("diffusers_default_tiny", FIXTURES).pathname);
  for (const dtype of ["F16", "BF16"] as const) {
    const half = new Map<string, StoredTensor>(), same = new Map<string, StoredTensor>();
    for (const [n, t] of folder.tensors) {
      const data = t.data as Float32Array;
      // binary16 by rounding; bfloat16 by keeping each float32's top 16 bits
      const patterns = dtype === "F16"
        ? _toFloat16Bits(data)
        : Uint16Array.from(new Uint32Array(Float32Array.from(data).buffer), (w) => w >>> 16);
      half.set(n, { dtype, shape: t.shape, data: patterns });
      same.set(n, { dtype: "F32", shape: t.shape, data: storedToFloat32(half.get(n)!) });
    }
    if (dtype === "F16") {
      // a folder saved with variant="fp16" holds diffusion_pytorch_model.fp16.safetensors
      const dir = Deno.makeTempDirSync();
      Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(folder.config));
      Deno.writeFileSync(
        `${dir}/diffusion_pytorch_model.fp16.safetensors`,
        encodeSafetensors(half),
      );
      assertEquals(loadDiffusersFolder(dir).tensors, half);
    }
    const a = fromDiffusers({ ...folder, tensors: half });
    const b = fromDiffusers({ ...folder, tensors: same });
    for (const [n, t] of b.ema) {
      assertEquals(bits(a.ema.get(n)!.data), bits(t.data), `${dtype} ${n}`);
    }
  }
  const u8 = new Map(folder.tensors);
  u8.set("conv_in.bias", { dtype: "U8", shape: [16], data: new Uint8Array(16) });
  assertThrows(
    () => fromDiffusers({ ...folder, tensors: u8 }),
    RangeError,
    "tensor conv_in.bias is U8, expected F32, F16 or BF16 (floating point)",
  );
});

backendTest(
  "diffusers: the presets (and a conditional one, its null row kept) go ours → diffusers → ours bit for bit",
  async () => {
    for (const unet of [unetPresets.mnist, { ...TINY, numClasses: 3 }, { ...TINY, numHeads: 2 }]) {
      const net = createUNet(unet, { seed: 3 });
      const ckpt = {
        config: { unet, schedule: { kind: "linear" as const, T: 1000 } },
        ema: await getWeights(net.params),
      };
      net.dispose();
      const folder = Deno.makeTempDirSync();
      saveDiffusersFolder(folder, toDiffusers(ckpt));
      const back = fromDiffusers(loadDiffusersFolder(folder));
      const { numHeads, ...rest } = unet as typeof unet & { numHeads?: number };
      // numHeads is written as diffusers' attention_head_dim: the same heads, as headDim
      assertEquals(
        back.config.unet,
        numHeads ? { ...rest, headDim: TINY.ch * 2 / numHeads } : unet,
      );
      for (const [n, t] of ckpt.ema) assertEquals(bits(back.ema.get(n)!.data), bits(t.data), n);
    }
  },
);

Deno.test("converters: every tensor accounted for, each problem one clear error", () => {
  const folder = loadDiffusersFolder(new URL("diffusers_default_tiny", FIXTURES).pathname);
  const withTensors = (edit: (m: Map<string, StoredTensor>) => void) => {
    const m = new Map(folder.tensors);
    edit(m);
    return { ...folder, tensors: m };
  };
  const withConfig = (extra: Record<string, unknown>) => ({
    ...folder,
    config: { ...folder.config, ...extra },
  });
  const cases: [() => unknown, string][] = [
    [
      () => fromDiffusers(withTensors((m) => m.set("extra.weight", m.get("conv_in.bias")!))),
      "Cannot convert diffusers model: unknown tensor extra.weight",
    ],
    [
      () => fromDiffusers(withTensors((m) => m.delete("mid_block.attentions.0.to_q.weight"))),
      "Cannot convert diffusers model: missing tensor mid_block.attentions.0.to_q.weight",
    ],
    [
      () =>
        fromDiffusers(
          withTensors((m) =>
            m.set("conv_in.weight", {
              dtype: "F32",
              shape: [16, 1, 3, 2],
              data: new Float32Array(96),
            })
          ),
        ),
      "Cannot convert diffusers model: tensor conv_in.weight has shape [16,1,3,2], expected [16,1,3,3]",
    ],
    [
      () => fromDiffusers(withConfig({ _class_name: "UNet2DConditionModel" })),
      'Cannot convert diffusers model: _class_name "UNet2DConditionModel" is not supported (only UNet2DModel)',
    ],
    [
      () => fromDiffusers(withConfig({ down_block_types: ["SkipDownBlock2D", "DownBlock2D"] })),
      'Cannot convert diffusers model: down_block_types ["SkipDownBlock2D","DownBlock2D"] is not supported',
    ],
    [
      () => fromDiffusers(withConfig({ up_block_types: ["UpBlock2D", "UpBlock2D"] })),
      "attention at the same levels as down_block_types",
    ],
    [
      () => fromDiffusers(withConfig({ time_embedding_type: "fourier" })),
      'Cannot convert diffusers model: time_embedding_type "fourier" is not supported (only "positional")',
    ],
    [
      () => fromDiffusers(withConfig({ block_out_channels: [16, 24] })),
      "block_out_channels [16,24] is not supported (each a multiple of the first, 16)",
    ],
    [
      () =>
        toDiffusers({
          config: {
            unet: { ...TINY, numHeads: 2, attnResolutions: [8, 4] },
            schedule: { kind: "linear", T: 10 },
          },
          ema: new Map(),
        }),
      "Cannot export to diffusers: numHeads 2 gives heads of 4, 8 channels in different blocks",
    ],
  ];
  const id = load("improved_diffusion_tiny.safetensors").tensors;
  const idWith = (edit: (m: Map<string, StoredTensor>) => void) => {
    const m = new Map(id);
    edit(m);
    return m;
  };
  cases.push(
    [
      () => fromImprovedDiffusion(new Map(), { imageSize: 8 }),
      "Cannot convert improved-diffusion checkpoint: not an improved-diffusion UNetModel state_dict",
    ],
    [
      () =>
        fromImprovedDiffusion(
          idWith((m) => {
            for (const n of [...m.keys()]) if (n.startsWith("input_blocks.2.")) m.delete(n);
          }),
          { imageSize: 8, numHeads: 2 },
        ),
      "input_blocks.2 is neither a residual block nor a strided-conv downsampling",
    ],
    [
      () => fromImprovedDiffusion(id, { imageSize: 8, numHeads: 3 }),
      "Cannot convert improved-diffusion checkpoint: numHeads must be a positive integer dividing 32, got 3",
    ],
    [
      () =>
        fromImprovedDiffusion(
          idWith((m) => m.set("output_blocks.9.0.qkv.weight", m.get("out.0.bias")!)),
          { imageSize: 8, numHeads: 2 },
        ),
      "Cannot convert improved-diffusion checkpoint: unknown tensor output_blocks.9.0.qkv.weight",
    ],
    [
      () =>
        fromImprovedDiffusion(idWith((m) => m.delete("output_blocks.1.2.conv.weight")), {
          imageSize: 8,
          numHeads: 2,
        }),
      "Cannot convert improved-diffusion checkpoint: missing tensor output_blocks.1.2.conv.weight",
    ],
  );
  for (const [f, message] of cases) assertThrows(f, RangeError, message);
});

Deno.test("diffusers: the paper's CIFAR-10 model in diffusers' layout (google/ddpm-cifar10-32) is the cifar10 preset", () => {
  // the fields of google/ddpm-cifar10-32's config.json (the paper's TensorFlow checkpoint,
  // converted by diffusers): Ho's timestep embedding, GroupNorm ε 1e-6, SAME downsampling
  const published = {
    _class_name: "UNet2DModel",
    act_fn: "silu",
    attention_head_dim: null,
    block_out_channels: [128, 256, 256, 256],
    center_input_sample: false,
    down_block_types: ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    downsample_padding: 0,
    flip_sin_to_cos: false,
    freq_shift: 1,
    in_channels: 3,
    layers_per_block: 2,
    mid_block_scale_factor: 1,
    norm_eps: 1e-6,
    norm_num_groups: 32,
    out_channels: 3,
    sample_size: 32,
    time_embedding_type: "positional",
    up_block_types: ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
  };
  const unet = {
    ...unetPresets.cifar10,
    dropout: 0,
    groupNormEps: 1e-6,
    downsamplePadding: "same" as const,
  };
  const exported = toDiffusers({
    config: { unet, schedule: { kind: "linear", T: 1000 } },
    ema: new Map(),
  }, {
    weights: false,
  });
  // every published field: so its state_dict has the names and shapes this layout gives (the
  // round trips above check names and shapes layout by layout on the small fixtures)
  for (const [k, v] of Object.entries(published)) assertEquals(exported.config[k], v, k);
});
