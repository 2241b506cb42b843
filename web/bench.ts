/// <reference lib="dom" />
// The browser benchmark page (bench/browser_bench.ts drives it): ?backend=wasm|webgpu&reps=N
// times the bundled U-Net's forward pass at batch 1 and 8 and leaves the result in
// document.body.dataset.bench.
import { initBackend } from "../mod.ts";
import { timeForward } from "./_forward_timing.ts";

const q = new URLSearchParams(location.search);
try {
  const info = await initBackend((q.get("backend") ?? "wasm") as "wasm");
  const ms = await timeForward(
    new URL("./mnist.safetensors", location.href),
    [1, 8],
    Number(q.get("reps") ?? "5"),
  );
  document.body.dataset.bench = JSON.stringify({
    backend: info.backend,
    adapter: info.adapter,
    ms,
  });
} catch (err) {
  document.body.dataset.bench = JSON.stringify({ error: String(err) });
}
