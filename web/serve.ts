// `deno task web`: builds the web app (esbuild, from npm; no CDN at run time) into web/dist —
// the three pages (sample, forward process, train in this tab) and their bundles, tfjs's wasm
// binaries, the bundled checkpoint and 1,000 built-in digits — and serves it at
// http://localhost:8000 with a small static server.
//
//   deno task web [--port 8000] [--build-only]
import * as esbuild from "esbuild";
import { parseArgs } from "node:util";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { loadMnist } from "../src/data/mnist.ts";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "web", "dist");

/** Builds web/dist; returns the folder. */
export async function buildWeb(): Promise<string> {
  mkdirSync(dist, { recursive: true });
  await esbuild.build({
    entryPoints: ["app", "forward", "train", "bench"].map((p) => join(root, "web", `${p}.ts`)),
    bundle: true,
    platform: "browser",
    format: "esm",
    outdir: dist,
    absWorkingDir: root,
    logLevel: "warning",
  });
  await esbuild.stop();
  for (const f of ["index.html", "forward.html", "train.html", "bench.html", "style.css"]) {
    copyFileSync(join(root, "web", f), join(dist, f));
  }
  _writeDigits(dist);
  for (const f of ["mnist.safetensors", "mnist-conditional.safetensors"]) {
    copyFileSync(join(root, "checkpoints", f), join(dist, f));
  }
  const wasmDir = dirname(
    createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"),
  );
  for (const f of readdirSync(wasmDir).filter((f) => f.endsWith(".wasm"))) {
    copyFileSync(join(wasmDir, f), join(dist, f));
  }
  return dist;
}

/**
 * The built-in digits for the forward-process and training pages: the first 1,000 MNIST training
 * digits and their labels as IDX files (the format decodeIdx reads).
 */
function _writeDigits(dir: string): void {
  const d = loadMnist({ limit: 1000 });
  const n = d.shape[0];
  const idx = (dims: number[], data: Uint8Array) => {
    const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
    head.setUint32(0, 0x800 + dims.length); // magic: unsigned bytes, dims.length dimensions
    dims.forEach((v, i) => head.setUint32(4 + 4 * i, v));
    const out = new Uint8Array(head.byteLength + data.length);
    out.set(new Uint8Array(head.buffer));
    out.set(data, head.byteLength);
    return out;
  };
  const pixels = Uint8Array.from(d.images, (v) => Math.round((v + 1) * 127.5));
  writeFileSync(join(dir, "digits.idx"), idx([n, 28, 28], pixels));
  writeFileSync(join(dir, "digits-labels.idx"), idx([n], Uint8Array.from(d.labels!)));
}

const _TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
};

/** Debian's Chromium, where the browser tests and benchmark drive the pages. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Chromium's arguments for the pages headless: no sandbox (root in CI) and WebGPU on
 * SwiftShader, Chromium's CPU Vulkan.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-webgpu-adapter=swiftshader",
];

/** Serves web/dist on 127.0.0.1:port; returns the server (call `shutdown()` to stop it). */
export function serveWeb(port: number): Deno.HttpServer {
  return Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname.replace(/^\/$/, "/index.html");
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(join(dist, path));
      return new Response(body, {
        headers: { "content-type": _TYPES[extname(path)] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

if (import.meta.main) {
  const { values: a } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8000" }, "build-only": { type: "boolean" } },
  });
  const port = Number(a.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`--port must be an integer in [1, 65535], got ${a.port}`);
    Deno.exit(1);
  }
  await buildWeb();
  console.log(`built ${dist}`);
  if (!a["build-only"]) {
    serveWeb(port);
    console.log(`serving the web app at http://localhost:${port}`);
  }
}
