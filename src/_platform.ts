// Internal: what differs between Deno, Bun, Node and browsers, behind functions the
// platform-neutral core calls. Nothing here imports `node:*`: a Node built-in is taken from
// `process.getBuiltinModule` (Deno 2, Bun, Node ≥ 22.3) only when the runtime has one, so a
// browser bundle of the core holds no Node import.

/** The JavaScript runtime. */
export type _Runtime = "deno" | "bun" | "node" | "browser" | "unknown";

/** Which runtime this is. */
export function _runtime(): _Runtime {
  const g = globalThis as Record<string, unknown>;
  if (g.Deno) return "deno";
  if (g.Bun) return "bun";
  const p = g.process as { versions?: { node?: string } } | undefined;
  if (p?.versions?.node) return "node";
  return typeof (g as { document?: unknown }).document === "object" ||
      typeof (g as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function"
    ? "browser"
    : "unknown";
}

/** A Node built-in module ("fs/promises", "module", …) in a runtime that has them. */
export function _nodeBuiltin<T>(name: string): T {
  const runtime = _runtime();
  const p = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process;
  if (runtime === "browser" || runtime === "unknown" || !p?.getBuiltinModule) {
    throw new Error(
      `node:${name} is not available in this runtime (${runtime}; Deno 2, Bun or Node >= 22.3 have it)`,
    );
  }
  return p.getBuiltinModule(`node:${name}`) as T;
}

/**
 * The bytes of a file: a path, or a `file:` URL. In a browser there is no file system: the
 * error says to pass a URL served over http(s) or the bytes.
 */
export async function _readFileBytes(path: string | URL): Promise<Uint8Array> {
  const runtime = _runtime();
  if (runtime === "browser" || runtime === "unknown") {
    throw new Error(
      `cannot read ${path} here: this runtime has no file system; pass an http(s) URL or the bytes`,
    );
  }
  const fs = _nodeBuiltin<{ readFile(p: string | URL): Promise<Uint8Array> }>("fs/promises");
  return new Uint8Array(await fs.readFile(path));
}

/**
 * Gives a headless Linux process an XDG_RUNTIME_DIR before WebGPU starts: without one, the
 * graphics stack under Deno's WebGPU prints "error: XDG_RUNTIME_DIR is invalid or not set in the
 * environment." at every adapter request. The folder is the user's own (`<tmp>/ddpm-xdg-<uid>`,
 * mode 0700), made once and reused. Elsewhere (browsers, other systems, a variable already set)
 * it does nothing.
 */
export function _ensureXdgRuntimeDir(): void {
  const runtime = _runtime();
  if (runtime !== "deno" && runtime !== "bun" && runtime !== "node") return;
  const proc = (globalThis as {
    process?: { platform?: string; env?: Record<string, string | undefined> };
  }).process;
  if (proc?.platform !== "linux" || !proc.env || proc.env.XDG_RUNTIME_DIR) return;
  try {
    const os = _nodeBuiltin<{ tmpdir(): string; userInfo(): { uid: number } }>("os");
    const fs = _nodeBuiltin<{
      mkdirSync(p: string, o: { recursive: boolean; mode: number }): void;
      chmodSync(p: string, mode: number): void;
    }>("fs");
    const dir = `${os.tmpdir()}/ddpm-xdg-${os.userInfo().uid}`;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    proc.env.XDG_RUNTIME_DIR = dir;
  } catch {
    // no folder: the message stays, nothing else changes
  }
}

/** The bytes at a path or at a file: or http(s): URL. */
export async function _readBytes(source: string | URL): Promise<Uint8Array> {
  const url = source instanceof URL
    ? source
    : /^[a-z]+:\/\//i.test(source)
    ? new URL(source)
    : null;
  if (url && url.protocol !== "file:") {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return await _readFileBytes(url ?? source);
}
