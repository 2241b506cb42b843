// Internal: write a file so that a crash never leaves a partial one (temporary file, fsync,
// rename over the target, fsync of the folder: rename is atomic on POSIX file systems, and the
// folder's fsync makes the rename itself survive a power loss). A failed write removes its
// temporary file and says which file it was and that the previous one is kept.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/** The marker of this module's temporary files: `<file>.tmp-<time>-<random>`. */
export const _TMP_MARKER = ".tmp-";

/**
 * Writes bytes (or UTF-8 text) to path atomically, creating its folder.
 *
 * @throws {Error} "Cannot write <path>: <code> (<reason>); <path> is kept as it was" (or "was
 *   not created" when there was none) on ENOSPC, EROFS, EACCES and every other write error.
 */
export function _atomicWrite(path: string, bytes: Uint8Array | string): void {
  const existed = existsSync(path);
  const tmp = `${path}${_TMP_MARKER}${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  let fd: number | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, "w");
    const buf = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    _fsyncDir(dirname(path));
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch { /* already failing */ }
    }
    try {
      if (existsSync(tmp)) unlinkSync(tmp);
    } catch { /* the folder may be read-only */ }
    throw _writeError(path, e, existed ? `${path} is kept as it was` : `${path} was not created`);
  }
}

/** fsync of a folder, so that a rename or a new file in it is durable. */
function _fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** "Cannot write <path>: ENOSPC (no space left on device); <what was kept>". */
export function _writeError(path: string, e: unknown, kept: string): Error {
  const code = (e as { code?: string })?.code;
  const reason = _REASONS[code ?? ""] ?? (e instanceof Error ? e.message : String(e));
  return new Error(`Cannot write ${path}: ${code ? `${code} (${reason})` : reason}; ${kept}`);
}

const _REASONS: Record<string, string> = {
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a part of the path is not a folder",
  EEXIST: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
};
