// Internal: the trainer's output folder as a resource it owns. One trainer at a time (a lock
// file with its pid and host; a dead owner's lock is taken over), no run overwritten without
// being asked, stale temporary files removed, and a log whose torn last line is dropped.
import {
  appendFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { _atomicWrite, _TMP_MARKER, _writeError } from "../_atomic_write.ts";

/** The lock file's name in the output folder. */
export const _LOCK_FILE = "train.lock";

/** The marker of a lock moved aside by a trainer taking it over: `train.lock.stale-<its pid>`. */
const _ASIDE_MARKER = ".stale-";

/** What the lock file holds. */
interface _LockInfo {
  pid: number;
  host: string;
  started: string;
}

/**
 * Takes the folder's lock for this process and returns its release. A lock left by a process
 * that no longer runs (same host) is taken over, and `onNote` is told so. The lock file appears
 * with its content or not at all (written under a temporary name, then hard-linked into place,
 * which fails if a lock exists), so a trainer killed while taking it never leaves a torn lock.
 *
 * @throws {Error} If another live trainer holds it, or (another host) it cannot tell, or the
 *   lock file cannot be read.
 */
export function _lockRunDir(dir: string, onNote: (line: string) => void): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, _LOCK_FILE);
  const mine: _LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (_createLock(path, mine)) {
      return () => {
        try {
          const held = _readLock(path);
          if (typeof held === "object" && held.pid === mine.pid) unlinkSync(path);
        } catch { /* the folder may be gone */ }
      };
    }
    const held = _readLock(path);
    if (held === "gone") continue; // released meanwhile: try again
    if (held === "unreadable") {
      throw new Error(
        `Cannot train: the lock ${path} cannot be read (not a trainer's lock); if no trainer ` +
          `runs on ${dir}, delete it`,
      );
    }
    if (held.host !== mine.host) {
      throw new Error(
        `Cannot train: ${dir} is locked by a trainer on host ${held.host} (pid ${held.pid}, since ` +
          `${held.started}); if it is gone, delete ${path}`,
      );
    }
    if (_alive(held.pid)) {
      throw new Error(
        `Cannot train: ${dir} is in use by another trainer (pid ${held.pid}, since ${held.started}); ` +
          `stop it, or train into another folder`,
      );
    }
    // a dead owner: move its lock aside (atomic: one taker wins), check it is the one we read
    const aside = `${path}${_ASIDE_MARKER}${mine.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // another trainer took it first
    }
    if (JSON.stringify(_readLock(aside)) !== JSON.stringify(held)) {
      // we moved a fresh lock: put it back (unless a lock appeared meanwhile) and look again
      try {
        linkSync(aside, path);
      } catch { /* its owner will see it gone and fail loudly on release only */ }
      unlinkSync(aside);
      continue;
    }
    unlinkSync(aside);
    onNote(
      `took over the lock of ${dir} from pid ${held.pid} (started ${held.started}), which no ` +
        `longer runs`,
    );
  }
  throw new Error(`Cannot train: could not take the lock ${path} (other trainers keep taking it)`);
}

/**
 * Creates the lock with its content in one step: true if this call created it, false if a lock
 * exists. A temporary file left by a kill between its write and its link is a stale temporary
 * file, removed under the lock like the others.
 */
function _createLock(path: string, mine: _LockInfo): boolean {
  const tmp = `${path}${_TMP_MARKER}${mine.pid}-${Math.floor(Math.random() * 1e9)}`;
  try {
    writeFileSync(tmp, JSON.stringify(mine) + "\n");
  } catch (e) {
    throw _writeError(path, e, "no training was started");
  }
  try {
    linkSync(tmp, path); // fails with EEXIST if a lock exists
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    // ENOENT: the lock's holder removed our temporary file as stale; try again
    if (code === "EEXIST" || code === "ENOENT") return false;
    throw _writeError(path, e, "no training was started");
  } finally {
    try {
      unlinkSync(tmp);
    } catch { /* removed as stale by the holder */ }
  }
}

/** The lock's content; "gone" if there is none, "unreadable" if it is not a trainer's lock. */
function _readLock(path: string): _LockInfo | "gone" | "unreadable" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "gone";
  }
  try {
    const v = JSON.parse(text);
    return Number.isInteger(v?.pid) && typeof v.host === "string" ? v : "unreadable";
  } catch {
    return "unreadable";
  }
}

/** Whether a process with this pid runs on this host. */
function _alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"; // exists, another user's
  }
}

/**
 * Removes the temporary files a killed write left in the folder and its samples/ folder (only
 * safe under the lock), and the moved-aside locks of takers that were killed. Returns how many
 * and their bytes.
 */
export function _removeStaleTemps(dir: string): { files: number; bytes: number } {
  let files = 0, bytes = 0;
  const aside = _LOCK_FILE + _ASIDE_MARKER;
  const stale = (name: string) => {
    const pid = name.startsWith(aside) ? name.slice(aside.length) : "";
    return name.includes(_TMP_MARKER) || (/^\d+$/.test(pid) && !_alive(Number(pid)));
  };
  for (const sub of [dir, join(dir, "samples")]) {
    if (!existsSync(sub)) continue;
    for (const name of readdirSync(sub)) {
      if (!stale(name)) continue;
      const p = join(sub, name);
      try {
        bytes += statSync(p).size;
        unlinkSync(p);
        files++;
      } catch { /* gone meanwhile */ }
    }
  }
  return { files, bytes };
}

/**
 * Reads log.jsonl up to `step`, rewriting it without what came after (a resumed run logs those
 * steps again). Lines that are not JSON — a torn last line after a crash or a full disk — are
 * dropped, and `onNote` is told which.
 */
export function _truncateLog(
  path: string,
  step: number,
  onNote: (line: string) => void,
): [number, number][] {
  if (!existsSync(path)) return [];
  const kept: string[] = [];
  const history: [number, number][] = [];
  const dropped: number[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim()) continue;
    let rec: { step?: unknown; loss?: unknown };
    try {
      rec = JSON.parse(line);
    } catch {
      dropped.push(i + 1);
      continue;
    }
    if (typeof rec.step !== "number" || typeof rec.loss !== "number") {
      dropped.push(i + 1);
      continue;
    }
    if (rec.step > step) break;
    kept.push(line);
    history.push([rec.step, rec.loss]);
  }
  if (dropped.length > 0) {
    onNote(
      `dropped ${dropped.length} unreadable line${dropped.length > 1 ? "s" : ""} of ${path} ` +
        `(line ${dropped.join(", ")}: torn by a crash or a full disk)`,
    );
  }
  _atomicWrite(path, kept.map((l) => l + "\n").join(""));
  return history;
}

/** Appends one line (one write(2): a crash loses at most that line). */
export function _appendLine(path: string, line: string, kept: string): void {
  try {
    appendFileSync(path, line + "\n");
  } catch (e) {
    throw _writeError(path, e, kept);
  }
}
