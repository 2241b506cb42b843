// `deno task bench:browser`: the bundled mnist U-Net's forward pass at batch 1 and 8 in Chromium
// (Debian's, driven by playwright-core: WebGPU on SwiftShader, and wasm) against Deno (WebGPU on
// Mesa's llvmpipe, and wasm), timed in one run. Writes bench/browser.{md,json}.
//
//   deno task bench:browser [--reps 5] [--out bench]
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { initBackend } from "../src/backend.ts";
import { BUNDLED_MNIST_CHECKPOINT } from "../src/io/bundled.ts";
import { _atomicWrite } from "../src/_atomic_write.ts";
import { timeForward } from "../web/_forward_timing.ts";
import { buildWeb, CHROMIUM, CHROMIUM_ARGS, serveWeb } from "../web/serve.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: { reps: { type: "string", default: "5" }, out: { type: "string", default: "bench" } },
});
const reps = Number(a.reps), PORT = 8766;
const load = loadavg()[0];
type Row = { where: string; backend: string; adapter?: string; ms: Record<number, number> };
const rows: Row[] = [];

// Chromium first (each backend in a fresh page: one tfjs backend per page)
await buildWeb();
const server = serveWeb(PORT);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
try {
  for (const backend of ["wasm", "webgpu"]) {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${PORT}/bench.html?backend=${backend}&reps=${reps}`);
    await page.waitForFunction(() => document.body.dataset.bench, null, { timeout: 1_800_000 });
    const r = JSON.parse(await page.evaluate(() => document.body.dataset.bench!));
    if (r.error) throw new Error(`Chromium ${backend}: ${r.error}`);
    rows.push({ where: "Chromium", backend: r.backend, adapter: r.adapter, ms: r.ms });
    console.log(`Chromium ${backend}: ${JSON.stringify(r.ms)}`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.shutdown();
}
// then Deno, in this process (the same measurement)
for (const backend of ["wasm", "webgpu"] as const) {
  const info = await initBackend(backend);
  const ms = await timeForward(
    new Uint8Array(await (await fetch(BUNDLED_MNIST_CHECKPOINT)).arrayBuffer()),
    [1, 8],
    reps,
  );
  rows.push({ where: "Deno", backend: info.backend, adapter: info.adapter, ms });
  console.log(`Deno ${backend}: ${JSON.stringify(ms)}`);
}

const find = (where: string, backend: string) =>
  rows.find((r) => r.where === where && r.backend === backend)!;
const md = [
  "# The U-Net in the browser",
  "",
  `The bundled mnist U-Net's no-grad forward pass (ms, median of ${reps} after one warm-up call,`,
  "each read back), in Debian's Chromium (playwright-core) and in Deno, timed in one run",
  `(\`deno task bench:browser\`). Machine: ${cpus().length} cores (${
    cpus()[0]?.model ?? "?"
  }), no GPU; load average ${load.toFixed(2)} when the run started. WebGPU here is`,
  "SwiftShader in Chromium and Mesa's llvmpipe in Deno — both CPU renderers — so the WebGPU",
  "rows say how the same programs run, not what a GPU does; wasm is tfjs's XNNPACK build on one",
  "thread in both.",
  "",
  "| backend | batch | Chromium ms | Deno ms | Chromium / Deno |",
  "|---|---|---|---|---|",
  ...["wasm", "webgpu"].flatMap((b) =>
    [1, 8].map((B) => {
      const c = find("Chromium", b).ms[B], d = find("Deno", b).ms[B];
      return `| ${b} | ${B} | ${c.toFixed(0)} | ${d.toFixed(0)} | ${(c / d).toFixed(2)}× |`;
    })
  ),
  "",
  `Adapters: ${rows.map((r) => `${r.where} ${r.backend}: ${r.adapter ?? "—"}`).join("; ")}.`,
  "",
].join("\n");
_atomicWrite(`${a.out}/browser.md`, md);
_atomicWrite(`${a.out}/browser.json`, JSON.stringify({ reps, load, rows }, null, 2) + "\n");
new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", `${a.out}/browser.md`, `${a.out}/browser.json`],
}).outputSync();
console.log(md);
