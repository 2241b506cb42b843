// Internal to `deno task bench:report`: the kernel-by-kernel section of bench/README.md (ours,
// from bench/kernel_profile.ts, beside PyTorch's, from bench/torch_profile.py) and the GPU cost
// model (from kernel_profile.ts's counts on webgpu).

/** One part of a profiled step, as kernel_profile.ts prints it. */
interface OurPart {
  wallMs: number;
  kernels: Record<string, { count: number; ms: number; flops: number; bytes: number }>;
  gpu?: {
    dispatches: number;
    uploads: number;
    uploadBytes: number;
    downloads: number;
    downloadBytes: number;
  };
}

/**
 * Whether a profile record wraps kernels that are recorded themselves: a custom-gradient op's
 * ("unnamed scope", or tf.op's "<name>__op" around a customGrad such as fusedConv2d); counting it
 * would count its kernels' time, bytes and FLOPs twice.
 */
export function _isWrapperRecord(name: string): boolean {
  return name === "unnamed scope" || name.endsWith("__op");
}

/** kernel_profile.ts's JSON. */
export interface OurProfile {
  backend: string;
  preset: string;
  batch: number;
  forward: OurPart;
  backward: OurPart;
  optimizer: OurPart;
  step: OurPart;
  samplingForward: OurPart;
  host?: { dispatchMs: number; syncMs: number };
}

/** torch_profile.py's JSON. */
export interface TorchProfile {
  torch: string;
  threads: number;
  forward: { wallMs: number; ops: Record<string, { count: number; ms: number }> };
  backward: { wallMs: number; ops: Record<string, { count: number; ms: number }> };
  optimizer: { wallMs: number; ops: Record<string, { count: number; ms: number }> };
}

const CATEGORIES = [
  "convolutions",
  "matrix products",
  "layout and copies",
  "elementwise and reductions",
] as const;
type Category = typeof CATEGORIES[number];

const _OURS: [RegExp, Category][] = [
  [/^(Conv2D|FusedConv2D|Conv2DBackprop(Input|Filter))$/, "convolutions"],
  [/^(BatchMatMul|_FusedMatMul|MatMul)$/, "matrix products"],
  [
    /^(Transpose|Concat|Slice|PadV2|Unpack|Pack|SplitV|Reverse|Tile|Cast|Reshape|ExpandDims|GatherV2|Identity|Fill|ZerosLike|OnesLike|StridedSlice|ResizeNearestNeighbor(Grad)?)$/,
    "layout and copies",
  ],
];
const _TORCH: [RegExp, Category][] = [
  [/^aten::(mkldnn_convolution|convolution_backward|_?convolution|conv2d)$/, "convolutions"],
  [/^aten::(bmm|mm|addmm|matmul|einsum|linear)$/, "matrix products"],
  [
    /^aten::(cat|copy_|empty|empty_like|empty_strided|as_strided_?|clone|contiguous|constant_pad_nd|slice|view|reshape|permute|transpose|t|expand|unsqueeze|select|narrow|upsample_nearest2d(_backward)?|zero_|fill_|zeros|zeros_like|ones|ones_like|stack|_to_copy|to|resize_|detach|detach_|unbind|split|chunk|_reshape_alias|_unsafe_view|alias)$/,
    "layout and copies",
  ],
];

function _category(
  name: string,
  table: [RegExp, Category][],
  torch: boolean,
): Category | "framework" {
  for (const [re, c] of table) if (re.test(name)) return c;
  // torch's non-aten entries (autograd engine, optimizer, profiler) are its own overhead
  return torch && !name.startsWith("aten::") ? "framework" : "elementwise and reductions";
}

function _byCategory(
  entries: Record<string, { ms: number }>,
  table: [RegExp, Category][],
  torch: boolean,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, e] of Object.entries(entries)) {
    const c = _category(name, table, torch);
    out[c] = (out[c] ?? 0) + e.ms;
  }
  return out;
}

const _sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
const _ms = (v: number | undefined) => (v === undefined ? "—" : v.toFixed(0));
const _x = (a?: number, b?: number) => (a !== undefined && b ? `${(a / b).toFixed(1)}×` : "—");

/** The kernel-by-kernel section: ours beside PyTorch's, forward and backward apart. */
export function _kernelSection(ours: OurProfile, torch?: TorchProfile): string[] {
  const lines = [
    "## One training step, kernel by kernel",
    "",
    `${ours.preset} at batch ${ours.batch}, ${ours.backend}, one thread each` +
    (torch ? ` (PyTorch ${torch.torch}, ${torch.threads} thread)` : "") +
    ": time spent in each kind of kernel (tfjs's `tf.profile` for ours, `torch.profiler`'s self " +
    "CPU time for PyTorch), the forward pass (the loss, dropout on) and the backward pass (the " +
    "gradients less the forward) profiled apart. Profiling adds each library's bookkeeping around " +
    "every kernel, so the sums exceed the timed medians above: read the table for where the time " +
    "goes, not for absolute times. `deno task bench:profile` prints ours alone.",
    "",
    "| kernels | forward ms | PyTorch | ratio | backward ms | PyTorch | ratio |",
    "|---|---|---|---|---|---|---|",
  ];
  const of = (p: OurPart) => _byCategory(p.kernels, _OURS, false);
  const tf = (p?: TorchProfile["forward"]) => (p ? _byCategory(p.ops, _TORCH, true) : undefined);
  const [oF, oB, tF, tB] = [
    of(ours.forward),
    of(ours.backward),
    tf(torch?.forward),
    tf(torch?.backward),
  ];
  for (const c of [...CATEGORIES, "framework"]) {
    if (c === "framework" && !torch) continue;
    const label = c === "framework" ? "PyTorch's autograd and dispatch (self time)" : c;
    lines.push(
      `| ${label} | ${_ms(oF[c] ?? 0)} | ${_ms(tF?.[c])} | ${_x(oF[c], tF?.[c])} | ${
        _ms(oB[c] ?? 0)
      } | ${_ms(tB?.[c])} | ${_x(oB[c], tB?.[c])} |`,
    );
  }
  const [sF, sB] = [_sum(oF), _sum(oB)];
  const [uF, uB] = [tF && _sum(tF), tB && _sum(tB)];
  lines.push(
    `| **all** | **${_ms(sF)}** | **${_ms(uF)}** | **${_x(sF, uF)}** | **${_ms(sB)}** | **${
      _ms(uB)
    }** | **${_x(sB, uB)}** |`,
    "",
    `Backward / forward: ours ${(sB / sF).toFixed(2)}×` +
      (uF && uB ? `, PyTorch's ${(uB / uF).toFixed(2)}×` : "") +
      ". The optimizer (clipping, Adam, EMA) takes " +
      `${_ms(_sum(of(ours.optimizer)))} ms of ours` +
      (torch ? ` and ${_ms(_sum(tf(torch.optimizer)!))} ms of PyTorch's.` : "."),
    "",
    "Our kernels that take the most time:",
    "",
    "| part | kernel | calls | ms | GFLOP/s |",
    "|---|---|---|---|---|",
  );
  for (const part of ["forward", "backward"] as const) {
    const top = Object.entries(ours[part].kernels).sort((a, b) => b[1].ms - a[1].ms).slice(0, 6);
    for (const [name, e] of top) {
      const rate = e.ms > 0 ? (e.flops / e.ms / 1e6).toFixed(1) : "—";
      lines.push(`| ${part} | ${name} | ${e.count} | ${e.ms.toFixed(0)} | ${rate} |`);
    }
  }
  if (torch) {
    lines.push(
      "",
      "PyTorch's ops that take the most time:",
      "",
      "| part | op | calls | ms |",
      "|---|---|---|---|",
    );
    for (const part of ["forward", "backward"] as const) {
      const top = Object.entries(torch[part].ops).sort((a, b) => b[1].ms - a[1].ms).slice(0, 4);
      for (const [name, e] of top) {
        lines.push(`| ${part} | ${name} | ${e.count} | ${e.ms.toFixed(0)} |`);
      }
    }
  }
  lines.push("");
  return lines;
}

/** A GPU the cost model prices. */
interface Gpu {
  name: string;
  /** Memory bandwidth, bytes/s. */
  bandwidth: number;
  /** FP32 (non-tensor-core) throughput, FLOP/s. */
  flops: number;
  /** Host ↔ GPU bandwidth, bytes/s. */
  link: number;
  source: string;
}

const GPUS: Gpu[] = [
  {
    name: "NVIDIA H200 (SXM)",
    bandwidth: 4.8e12,
    flops: 67e12,
    link: 64e9,
    source: "NVIDIA H200 datasheet: HBM3e 4.8 TB/s, FP32 67 TFLOPS; PCIe Gen5 ×16 64 GB/s",
  },
  {
    name: "laptop (GeForce RTX 4060 Laptop)",
    bandwidth: 256e9,
    flops: 15.1e12,
    link: 16e9,
    source:
      "NVIDIA specifications: 128-bit GDDR6 at 16 Gbps = 256 GB/s; 3,072 CUDA cores × 2 × 2.46 GHz ≈ 15.1 TFLOPS; PCIe 4.0 ×8 16 GB/s",
  },
];

/** One part's counts at a batch size, from two measured batch sizes (each count affine in B). */
function _at(a: OurProfile, b: OurProfile, part: keyof OurProfile, B: number) {
  const pa = a[part] as OurPart, pb = b[part] as OurPart;
  const lin = (x: number, y: number) => x + (y - x) * (B - a.batch) / (b.batch - a.batch);
  const tot = (p: OurPart, k: "flops" | "bytes") =>
    Object.values(p.kernels).reduce((s, e) => s + e[k], 0);
  return {
    dispatches: pb.gpu!.dispatches,
    uploads: pb.gpu!.uploads,
    uploadBytes: lin(pa.gpu!.uploadBytes, pb.gpu!.uploadBytes),
    downloads: pb.gpu!.downloads,
    bytes: lin(tot(pa, "bytes"), tot(pb, "bytes")),
    flops: lin(tot(pa, "flops"), tot(pb, "flops")),
  };
}

/**
 * The GPU cost model: per part, dispatches × host cost per dispatch + uploads × the same +
 * downloads × a sync + upload bytes / the link + bytes / memory bandwidth + FLOPs / FP32 peak.
 * `runs` are kernel_profile.ts on webgpu at two batch sizes per preset.
 */
export function _gpuSection(
  runs: { preset: string; small: OurProfile; large: OurProfile }[],
  B: number,
): string[] {
  const host = runs[0].large.host!;
  const lines = [
    "## What a GPU's step would cost",
    "",
    "Counted on the webgpu backend (Mesa's llvmpipe here: the counts do not depend on the device)",
    `at two batch sizes and extended to batch ${B} (each count is affine in the batch): programs`,
    "dispatched, uploads from and downloads to the host, bytes the kernels read and write, and",
    "FLOPs (2 per multiply-add in convolutions and products, 1 per output element elsewhere).",
    "Modelled time = (dispatches + uploads) × host cost per dispatch + downloads × one sync +",
    "upload bytes / host link + bytes / memory bandwidth + FLOPs / FP32 peak: a lower bound that",
    "assumes every kernel runs at the GPU's peak and nothing overlaps the host's work.",
    "",
    `Host costs measured here (tfjs-backend-webgpu in Deno): ${host.dispatchMs.toFixed(3)} ms per`,
    `dispatch, ${
      host.syncMs.toFixed(2)
    } ms per sync; the host side is the same code on a real GPU.`,
    ...GPUS.map((g) => `- ${g.name}: ${g.source}.`),
    "",
    "| preset | part | dispatches | uploads | downloads | MB moved | GFLOP | " +
    GPUS.map((g) => `${g.name} ms (dispatch / memory / compute)`).join(" | ") + " |",
    "|---|---|---|---|---|---|---|" + GPUS.map(() => "---").join("|") + "|",
  ];
  for (const r of runs) {
    for (const part of ["forward", "backward", "optimizer", "samplingForward"] as const) {
      const c = _at(r.small, r.large, part, B);
      const cells = GPUS.map((g) => {
        const dispatch = (c.dispatches + c.uploads) * host.dispatchMs + c.downloads * host.syncMs;
        const memory = (c.bytes / g.bandwidth + c.uploadBytes / g.link) * 1e3;
        const compute = c.flops / g.flops * 1e3;
        return `${(dispatch + memory + compute).toFixed(1)} (${dispatch.toFixed(1)} / ${
          memory.toFixed(1)
        } / ${compute.toFixed(1)})`;
      });
      const label = part === "samplingForward" ? "sampling step" : part;
      lines.push(
        `| ${r.preset} | ${label} | ${c.dispatches} | ${c.uploads} | ${c.downloads} | ${
          (c.bytes / 1e6).toFixed(0)
        } | ${(c.flops / 1e9).toFixed(1)} | ${cells.join(" | ")} |`,
      );
    }
  }
  lines.push("");
  return lines;
}

/**
 * The performance targets and where they stand: the mnist training step on two threads each
 * against PyTorch (`train`: ours / PyTorch's and the threads, from the timed rows; undefined if
 * not timed),
 * the backward pass against the forward (kernel time, from the profile), and a sampling step.
 */
export function _targetsSection(
  train: { ratio: number; threads: number } | undefined,
  ours: OurProfile,
  sampling?: { ratio: number; ms: number; torchMs: number; threads: number },
): string[] {
  const kernels = (p: OurPart) => Object.values(p.kernels).reduce((a, e) => a + e.ms, 0);
  const bwd = kernels(ours.backward) / kernels(ours.forward);
  const row = (what: string, now: number | undefined, limit: number) =>
    `| ${what} | ${limit}× | ${now === undefined ? "not timed" : `${now.toFixed(2)}×`} | ${
      now === undefined ? "—" : now <= limit ? "yes" : `no (${(now / limit).toFixed(2)}× over)`
    } |`;
  return [
    "## Targets",
    "",
    "| target | at most | now | holds |",
    "|---|---|---|---|",
    row(
      `mnist training step, batch 32, ${train?.threads ?? "N"} threads each: ours / PyTorch's`,
      train?.ratio,
      3,
    ),
    row(
      `backward / forward, kernel time (${ours.preset} batch ${ours.batch}, profile below)`,
      bwd,
      2.5,
    ),
    row(
      `sampling step, batch 64 on ${sampling?.threads ?? "N"} threads (ours ${
        sampling ? sampling.ms.toFixed(0) : "—"
      } ms: pSample split over workers as \`deno task sample --workers N\`; PyTorch ${
        sampling ? sampling.torchMs.toFixed(0) : "—"
      } ms: forward pass): ours / PyTorch's`,
      sampling?.ratio,
      3,
    ),
    "",
  ];
}
