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
