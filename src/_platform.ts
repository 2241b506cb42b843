// Internal: what differs between Deno, Bun, Node and browsers, behind functions the
// platform-neutral core calls. Nothing here imports `node:*` statically: a Node built-in is
// loaded only when the running runtime has one (`_nodeBuiltin`), so a browser bundle of the
// core holds no Node import.

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

/**
 * A Node built-in module (`node:fs/promises`, `node:module`, …) in a runtime that has them
 * (Deno, Bun, Node). The specifier is computed, so bundlers leave it out of browser bundles.
 */
export async function _nodeBuiltin<T>(name: string): Promise<T> {
  const runtime = _runtime();
  if (runtime === "browser" || runtime === "unknown") {
    throw new Error(`${name} is not available in this runtime (${runtime})`);
  }
  const specifier = ["node", name].join(":");
  return await import(specifier) as T;
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
  const fs = await _nodeBuiltin<{ readFile(p: string | URL): Promise<Uint8Array> }>(
    "fs/promises",
  );
  return new Uint8Array(await fs.readFile(path));
}
