// Internal: a worker of the data-parallel trainer (src/train/_gradient_pool.ts): its own tfjs and
// U-Net; each step it takes the weights and its shard of the batch, and answers with the shard's
// loss and gradients (flat, in the network's parameter order).
// Messages in: { kind: "init", init } then { kind: "step", job }; out: { kind: "ready" },
// { kind: "grads", loss, grads, terms? }, or { kind: "error", message }.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend.ts";
import { makeSchedule, type Schedule } from "../schedule.ts";
import { createUNet, type UNet } from "../unet/unet.ts";
import type { _PoolInit, _ShardStep } from "./_gradient_pool.ts";
import { _shardGradients } from "./_step.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
let net: UNet | undefined;
let schedule: Schedule | undefined;

scope.onmessage = async (
  e: MessageEvent<{ kind: "init"; init: _PoolInit } | { kind: "step"; job: _ShardStep }>,
) => {
  try {
    if (e.data.kind === "init") {
      const { init } = e.data;
      await initBackend(init.backend);
      net = createUNet(init.unet, { T: init.schedule.T });
      schedule = makeSchedule(init.schedule);
      scope.postMessage({ kind: "ready" });
      return;
    }
    const { job } = e.data;
    let offset = 0;
    for (const v of net!.params.values()) {
      const w = job.weights.subarray(offset, offset + v.size);
      tf.tidy(() => v.assign(tf.tensor(w, v.shape, "float32")));
      offset += v.size;
    }
    const x0 = tf.tensor(job.x0, job.shape, "float32");
    const target = job.target && tf.tensor(job.target, job.shape, "float32");
    const { loss, grads, terms } = _shardGradients(
      net!,
      schedule!,
      x0,
      job.seed,
      job.rows,
      job.y,
      job.loss,
      target,
    );
    tf.dispose([x0, ...(target ? [target] : [])]);
    const flat = new Float32Array(net!.numParams);
    offset = 0;
    for (const [name, v] of net!.params) {
      flat.set(await grads.get(name)!.data() as Float32Array, offset);
      offset += v.size;
    }
    const value = (await loss.data())[0];
    const termData = terms && await terms.data() as Float32Array;
    tf.dispose([loss, ...grads.values(), ...(terms ? [terms] : [])]);
    scope.postMessage({ kind: "grads", loss: value, grads: flat, terms: termData }, [flat.buffer]);
  } catch (err) {
    scope.postMessage({
      kind: "error",
      message: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
  }
};
