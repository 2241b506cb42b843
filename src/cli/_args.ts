// Internal: argument parsing helpers and the error handler shared by the command-line tools.
import process from "node:process";
import type { BackendName } from "../backend.ts";

/** Parses an integer option >= min, or throws naming the option. */
export function _intArg(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`--${name} must be an integer >= ${min}, got ${v}`);
  }
  return n;
}

/** Parses a finite number > 0, or throws naming the option. */
export function _numArg(name: string, v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) {
    throw new RangeError(`--${name} must be a number > 0, got ${v}`);
  }
  return n;
}

/** Checks a --backend value. */
export function _backendArg(v: string): "auto" | BackendName {
  if (!["auto", "webgpu", "wasm", "cpu"].includes(v)) {
    throw new RangeError(`--backend must be auto, webgpu, wasm or cpu, got ${v}`);
  }
  return v as "auto" | BackendName;
}

/** Runs a command-line main: errors print one line (no stack) and exit with status 1. */
export async function _run(main: () => Promise<void>): Promise<void> {
  try {
    await main();
    process.exit(0);
  } catch (e) {
    const msg = e instanceof Error
      ? `${e.name === "Error" ? "error" : e.name}: ${e.message}`
      : String(e);
    console.error(msg);
    process.exit(1);
  }
}

/**
 * The command-line arguments, without a leading "--" (which `deno task name -- args` passes
 * through).
 */
export function _cliArgs(): string[] {
  const args = process.argv.slice(2);
  return args[0] === "--" ? args.slice(1) : args;
}
