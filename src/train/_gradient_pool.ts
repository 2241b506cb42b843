// Internal: data-parallel gradients. The batch is cut into one shard per worker; this thread
// computes the first shard while Web Workers (src/train/_gradient_worker.ts), each with its own
// tfjs and a copy of the weights sent every step, compute the others; the shards' gradients,
// weighted by their share of the batch, sum to the whole batch's. tfjs-backend-wasm runs on one
// thread in Deno and Bun, so this is how training uses more than one core.
import * as tf from "@tensorflow/tfjs-core";
import type { ScheduleKind } from "../schedule.ts";
import type { UNet, UNetConfig } from "../unet/unet.ts";
import { _shardCuts } from "../_shards.ts";
import { type _GradientSource, type _LossSpec, _shardGradients } from "./_step.ts";

/** What a worker is told once: the network's shape, the schedule and the backend. */
export interface _PoolInit {
  unet: UNetConfig;
  schedule: { kind: ScheduleKind; T: number };
  backend: "wasm" | "cpu";
}

/** One shard's job: the weights (flat, in the network's parameter order) and its rows. */
export interface _ShardStep {
  weights: Float32Array;
  /** Rows [start, start + count) of the batch of `of` images, [count, H, W, C] flat. */
  x0: Float32Array;
  shape: number[];
  seed: number;
  rows: { start: number; of: number };
  /** The class labels of these rows (conditional networks). */
  y?: Int32Array;
  /** The loss (and, importance-sampled, the whole batch's t and weights). */
  loss?: _LossSpec;
  /** L_simple's target for these rows in place of ε, x0's shape flat (a distillation). */
  target?: Float32Array;
}

/** Gradients from `workers` threads (this one and workers - 1 Web Workers). */
export interface _GradientPool {
  readonly workers: number;
  readonly gradients: _GradientSource;
  /** Stops the workers. */
  close(): void;
}

/**
 * Starts workers - 1 Web Workers and waits until each has built its U-Net. The batch size of
 * every step must be at least `workers`.
 */
export async function _gradientPool(init: _PoolInit, workers: number): Promise<_GradientPool> {
  const threads = await Promise.all(
    Array.from({ length: workers - 1 }, (_, w) => _startWorker(init, w + 1)),
  );
  const gradients: _GradientSource = async (net, schedule, x0, seed, y, lossSpec, target) => {
    const B = x0.shape[0];
    if (B < workers) {
      throw new RangeError(
        `Cannot train: the batch (${B}) must hold at least one image per worker (${workers})`,
      );
    }
    const cuts = _shardCuts(B, workers);
    const size = x0.size / B;
    const weights = await _flatWeights(net);
    const images = await x0.data() as Float32Array;
    const targets = target && await target.data() as Float32Array;
    const pending = threads.map((th, i) => {
      const [start, end] = [cuts[i + 1], cuts[i + 2]];
      return th.step({
        weights,
        x0: images.slice(start * size, end * size),
        shape: [end - start, ...x0.shape.slice(1)],
        seed,
        rows: { start, of: B },
        y: y?.slice(start, end),
        loss: lossSpec,
        ...(targets ? { target: targets.slice(start * size, end * size) } : {}),
      });
    });
    // shard 0 here, while the workers compute theirs
    const mine = tf.tidy(() => tf.slice(x0, 0, cuts[1]));
    const myTarget = target && tf.tidy(() => tf.slice(target, 0, cuts[1]));
    const local = _shardGradients(
      net,
      schedule,
      mine,
      seed,
      { start: 0, of: B },
      y?.slice(0, cuts[1]),
      lossSpec,
      myTarget,
    );
    tf.dispose([mine, ...(myTarget ? [myTarget] : [])]);
    const parts = await Promise.all(pending);
    // L = Σ_w (B_w / B) · L_w, and so ∇L
    const share = (w: number) => (cuts[w + 1] - cuts[w]) / B;
    const loss = tf.tidy(() =>
      parts.reduce(
        (sum, p, i) => tf.add(sum, p.loss * share(i + 1)),
        tf.mul(local.loss, share(0)),
      ) as tf.Scalar
    );
    const grads = new Map<string, tf.Tensor>();
    let offset = 0;
    for (const [name, v] of net.params) {
      const at = offset;
      grads.set(
        name,
        tf.tidy(() =>
          parts.reduce((sum, p, i) => {
            const gi = tf.tensor(p.grads.subarray(at, at + v.size), v.shape, "float32");
            return tf.add(sum, tf.mul(gi, share(i + 1)));
          }, tf.mul(local.grads.get(name)!, share(0)))
        ),
      );
      offset += v.size;
    }
    // each example's loss, in batch order (hybrid and vlb)
    const terms = local.terms &&
      tf.tidy(() => tf.concat([local.terms!, ...parts.map((p) => tf.tensor1d(p.terms!))]));
    tf.dispose([local.loss, ...local.grads.values(), ...(local.terms ? [local.terms] : [])]);
    return { loss, grads, ...(terms ? { terms: terms as tf.Tensor1D } : {}) };
  };
  return {
    workers,
    gradients,
    close: () => threads.forEach((th) => th.terminate()),
  };
}

/** The network's parameters, concatenated in its parameter order. */
async function _flatWeights(net: UNet): Promise<Float32Array> {
  const out = new Float32Array(net.numParams);
  let offset = 0;
  for (const v of net.params.values()) {
    out.set(await v.data() as Float32Array, offset);
    offset += v.size;
  }
  return out;
}

interface _Thread {
  step(job: _ShardStep): Promise<{ loss: number; grads: Float32Array; terms?: Float32Array }>;
  terminate(): void;
}

/** One worker, answering one message at a time. */
function _startWorker(init: _PoolInit, index: number): Promise<_Thread> {
  const worker = new Worker(new URL("./_gradient_worker.ts", import.meta.url), { type: "module" });
  let waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void } | undefined;
  const fail = (message: string) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(new Error(`training worker ${index}: ${message}`));
  };
  worker.onmessage = (e) => {
    if (e.data.kind === "error") return fail(e.data.message);
    const w = waiting;
    waiting = undefined;
    w?.resolve(e.data);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    fail(e.message);
  };
  const ask = <T>(message: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      waiting = { resolve: resolve as (m: unknown) => void, reject };
      worker.postMessage(message);
    });
  return ask({ kind: "init", init }).then(() => ({
    step: (job) => ask({ kind: "step", job }),
    terminate: () => {
      fail("stopped");
      worker.terminate();
    },
  }));
}
