// Internal to the benchmarks: counts, while it is on, what the webgpu backend sends to the GPU
// and reads back — the programs it dispatches, the host data it uploads and the buffers it
// downloads — by wrapping three of its methods (tfjs-backend-webgpu 4.22's `runWebGPUProgram`,
// `uploadToGPU` and `getBufferData`).
import * as tf from "@tensorflow/tfjs-core";

/** What one stretch of work sent to the GPU and read back. */
export interface GpuTraffic {
  /** Compute programs dispatched (one `dispatchWorkgroups` each). */
  dispatches: number;
  /** Tensors uploaded from host memory, and their bytes. */
  uploads: number;
  uploadBytes: number;
  /** Buffers read back to the host, and their bytes. */
  downloads: number;
  downloadBytes: number;
}

interface _Hooked {
  runWebGPUProgram(program: unknown, inputs: unknown, dtype: unknown, ...rest: unknown[]): {
    shape: number[];
  };
  uploadToGPU(dataId: unknown): void;
  getBufferData(buffer: { size: number }): Promise<unknown>;
  tensorMap: { get(id: unknown): { resource?: unknown; values?: unknown; shape: number[] } };
}

/** Starts counting on the webgpu backend; `stop()` restores it and returns the counts. */
export function _countGpuTraffic(): { stop(): GpuTraffic } {
  const b = tf.backend() as unknown as _Hooked;
  const counts: GpuTraffic = {
    dispatches: 0,
    uploads: 0,
    uploadBytes: 0,
    downloads: 0,
    downloadBytes: 0,
  };
  const run = b.runWebGPUProgram, upload = b.uploadToGPU, download = b.getBufferData;
  b.runWebGPUProgram = function (this: _Hooked, ...args) {
    const out = run.apply(this, args);
    if (out.shape.reduce((p, d) => p * d, 1) > 0) counts.dispatches++;
    return out;
  } as _Hooked["runWebGPUProgram"];
  b.uploadToGPU = function (this: _Hooked, dataId: unknown) {
    const d = this.tensorMap.get(dataId);
    if (d && d.resource == null && d.values != null) {
      counts.uploads++;
      counts.uploadBytes += 4 * d.shape.reduce((p, n) => p * n, 1);
    }
    return upload.call(this, dataId);
  };
  b.getBufferData = function (this: _Hooked, buffer: { size: number }) {
    counts.downloads++;
    counts.downloadBytes += buffer.size;
    return download.call(this, buffer);
  };
  return {
    stop() {
      b.runWebGPUProgram = run;
      b.uploadToGPU = upload;
      b.getBufferData = download;
      return counts;
    },
  };
}
