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
