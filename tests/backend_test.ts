// initBackend("auto"): a real GPU adapter gets webgpu; a CPU-emulated one (Mesa llvmpipe or
// lavapipe on machines without a GPU) is passed over for wasm, with the reason recorded.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../mod.ts";
import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test({
  name: 'initBackend("auto") skips a CPU-emulated WebGPU adapter for wasm, and says why',
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const adapter = await navigator.gpu?.requestAdapter();
    const i = adapter?.info;
    const desc = [i?.vendor, i?.architecture, i?.device, i?.description].join(" ");
    const software = !adapter || /llvmpipe|lavapipe|swiftshader|software/i.test(desc);
    const info = await initBackend("auto");
    if (software) {
      assertEquals(info.backend, "wasm");
      assertTrue(
        adapter === null || adapter === undefined ||
          /CPU emulation/.test(info.tried[0].error ?? ""),
        JSON.stringify(info.tried),
      );
    } else {
      assertEquals(info.backend, "webgpu", `adapter ${desc}: ${JSON.stringify(info.tried)}`);
    }
    assertEquals(tf.getBackend(), info.backend);
    // asked for by name, the emulated adapter is still used
    if (adapter) assertEquals((await initBackend("webgpu")).backend, "webgpu");
  },
});

Deno.test({
  name: "wasm: tf.clone shares the data (no copy), and the data outlives the original",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await initBackend("wasm");
    const backend = tf.backend() as unknown as { dataIdMap: { get(id: object): unknown } };
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    const info = (t: tf.Tensor) =>
      backend.dataIdMap.get((t as unknown as { dataId: object }).dataId);
    assertTrue(info(a) === info(b), "clone shares a's buffer");
    a.dispose();
    assertEquals(Array.from(await b.data()), [1, 2, 3]);
    // a gradient through ops that save their inputs (clones) is unchanged
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(b);
    assertEquals(Array.from(await g.data()), [2, 4, 6]);
    tf.dispose([b, g]);
  },
});

Deno.test("initBackend on webgpu gives a headless Linux process its XDG_RUNTIME_DIR (no complaint from the graphics stack)", () => {
  // a child without the variable: initBackend sets one of its own before the adapter request
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const code = `import { initBackend } from "${new URL("../mod.ts", import.meta.url).href}";
    await initBackend("webgpu"); console.log(Deno.env.get("XDG_RUNTIME_DIR"));`;
  const out = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    env,
    clearEnv: true,
  }).outputSync();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  assertTrue(!stderr.includes("XDG_RUNTIME_DIR"), stderr);
  const stdout = new TextDecoder().decode(out.stdout);
  assertTrue(stdout.includes("ddpm-xdg-"), stdout);
});
