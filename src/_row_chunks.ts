// Internal: a batch's rows sampled in chunks, advanced in lockstep. One model call on a large
// batch overflows wasm's memory (256 MNIST images did); each chunk is its own chain with the
// `rows` option, so it draws exactly the noise (and takes the labels) of its rows in the whole
// batch and the images are those of one call. Shared by the pipeline and the CLI's shards.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "./types.ts";
import type { SampleLoopStep } from "./_loop.ts";

/** Rows sampled in one model call at most (twice that with guidance's two branches). */
export const _ROW_CHUNK = 64;

/** One chunk: rows [at, at + count) of the part being sampled, and its chain. */
export interface _RowChunk {
  at: number;
  count: number;
  chain: AsyncIterator<SampleLoopStep, void>;
  /** The chunk's latest x_t (owned by the chunk until `_concatLast`). */
  last?: Tensor;
}

/**
 * Splits rows [start, start + count) of a batch of `of` into chunks of at most `_ROW_CHUNK`
 * rows, each with the chain `loopFor(count, rows)` returns.
 */
export function _rowChunks(
  count: number,
  start: number,
  of: number,
  loopFor: (count: number, rows: { start: number; of: number }) => AsyncIterable<SampleLoopStep>,
): _RowChunk[] {
  const chunks: _RowChunk[] = [];
  for (let at = 0; at < count; at += _ROW_CHUNK) {
    const n = Math.min(_ROW_CHUNK, count - at);
    chunks.push({
      at,
      count: n,
      chain: loopFor(n, { start: start + at, of })[Symbol.asyncIterator](),
    });
  }
  return chunks;
}

/**
 * Advances every chunk by one step. Returns the step of each chunk (in order; the caller
 * disposes each `predX0`, and reads `sample` before the next call, which disposes it), or
 * undefined when the chains are done. Each chunk's `last` becomes its new sample.
 */
export async function _stepChunks(chunks: _RowChunk[]): Promise<SampleLoopStep[] | undefined> {
  const steps = await Promise.all(chunks.map((c) => c.chain.next()));
  if (steps[0].done) return undefined;
  return steps.map((step, i) => {
    const v = step.value as SampleLoopStep;
    chunks[i].last?.dispose();
    chunks[i].last = v.sample;
    return v;
  });
}

/** The chunks' final samples as one tensor (the parts are disposed). */
export function _concatLast(chunks: _RowChunk[]): Tensor {
  if (chunks.some((c) => c.last === undefined)) throw new Error("sampling loop produced no step");
  if (chunks.length === 1) return chunks[0].last!;
  const out = tf.concat(chunks.map((c) => c.last!));
  chunks.forEach((c) => c.last!.dispose());
  return out;
}

/**
 * Runs the chunks to the end and returns the samples. `onSteps`, where given, sees each step of
 * every chunk before its x̂0 is disposed.
 */
export async function _runChunks(
  chunks: _RowChunk[],
  onSteps?: (steps: SampleLoopStep[]) => void | Promise<void>,
): Promise<Tensor> {
  try {
    for (let steps = await _stepChunks(chunks); steps; steps = await _stepChunks(chunks)) {
      try {
        await onSteps?.(steps);
      } finally {
        steps.forEach((v) => v.predX0.dispose());
      }
    }
  } catch (e) {
    chunks.forEach((c) => c.last?.dispose());
    throw e;
  }
  return _concatLast(chunks);
}
