// Internal: write a file so that a crash never leaves a partial one (temporary file, fsync,
// rename over the target: rename is atomic on POSIX file systems).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Writes bytes to path atomically, creating the folder if needed. */
export function _atomicWrite(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const fd = openSync(tmp, "w");
  try {
    const buf = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
