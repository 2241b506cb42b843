// Internal: argument parsing helpers and the error handler shared by the command-line tools.
import process from "node:process";
import type { BackendName } from "../backend.ts";
import type { CheckpointConfig } from "../io/checkpoint.ts";
import type { SelfCheck } from "../self_check.ts";

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

/** Parses a finite number >= 0, or throws naming the option. */
export function _nonNegativeArg(name: string, v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0)) {
    throw new RangeError(`--${name} must be a number >= 0, got ${v}`);
  }
  return n;
}

/** Checks that an option is one of `choices` ("--name must be a, b or c, got v"). */
export function _choiceArg<T extends string>(name: string, v: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(v)) {
    const list = choices.length > 1
      ? `${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`
      : choices[0];
    throw new RangeError(`--${name} must be ${list}, got ${v}`);
  }
  return v as T;
}

/** Checks a --backend value. */
export function _backendArg(v: string): "auto" | BackendName {
  return _choiceArg("backend", v, ["auto", "webgpu", "wasm", "cpu"] as const);
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
  const raw = process.argv.slice(2);
  const args = raw[0] === "--" ? raw.slice(1) : raw;
  // `--n -1`: a negative number after an option is its value (parseArgs would take it for an
  // option), so that the option's own check can say what is wrong with it
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith("--") && !args[i].includes("=") && /^-\d/.test(args[i + 1] ?? "")) {
      out.push(`${args[i]}=${args[++i]}`);
    } else out.push(args[i]);
  }
  return out;
}

/** Checks that an output file name ends in one of `exts` ("--out must end in .png, got x"). */
export function _outArg(name: string, v: string, exts: string[]): string {
  if (!exts.some((e) => v.toLowerCase().endsWith(e))) {
    throw new RangeError(`--${name} must end in ${exts.join(" or ")}, got ${v}`);
  }
  return v;
}

/** Parses --order: DPM-Solver++'s order, 1, 2 or 3. */
export function _orderArg(v: string): 1 | 2 | 3 {
  return Number(_choiceArg("order", v, ["1", "2", "3"] as const)) as 1 | 2 | 3;
}

/** Parses --spacing ("even": equal sections, respace's plain "N"); undefined stays undefined. */
export function _spacingArg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const kinds = ["ddim", "logsnr", "karras", "linspace", "trailing", "even"] as const;
  const kind = _choiceArg("spacing", v, kinds);
  return kind === "even" ? "" : kind;
}

/**
 * The class of each of n images from `--class`: "all" (image i: class i mod K), "none"
 * (unconditional: undefined), or a comma-separated list of class names or indices, cycled.
 */
export function _classesArg(
  v: string,
  n: number,
  names: string[] | undefined,
): number[] | undefined {
  if (v === "none") return undefined;
  if (!names || names.length === 0) {
    throw new RangeError(
      `--class ${v} needs a class-conditional checkpoint; this one is unconditional`,
    );
  }
  const K = names.length;
  if (v === "all") return Array.from({ length: n }, (_, i) => i % K);
  const list = v.split(",").map((item) => {
    const name = item.trim();
    const byName = names.findIndex((c) => c.toLowerCase() === name.toLowerCase());
    if (byName >= 0) return byName;
    const k = Number(name);
    if (name !== "" && Number.isInteger(k) && k >= 0 && k < K) return k;
    throw new RangeError(
      `--class must be all, none, or classes of this model (${
        names.length <= 12 ? names.join(", ") : `0 … ${K - 1}`
      }), got ${item}`,
    );
  });
  return Array.from({ length: n }, (_, i) => list[i % list.length]);
}

/**
 * The guidance scale from --guidance: its value, else the checkpoint's recommended scale, else 1;
 * undefined for an unconditional checkpoint, which refuses the option.
 */
export function _guidanceArg(v: string | undefined, config: CheckpointConfig): number | undefined {
  const w = v === undefined ? undefined : _nonNegativeArg("guidance", v);
  if (!config.unet.numClasses) {
    if (w !== undefined) {
      throw new RangeError(
        `--guidance needs a class-conditional checkpoint; this one is unconditional`,
      );
    }
    return undefined;
  }
  return w ?? config.guidanceScale ?? 1;
}

/**
 * The guidance interval from --guidance-interval: "LO,HI" (model timesteps), "all" (every step),
 * else the checkpoint's recommended interval; undefined for every step or an unconditional
 * checkpoint (which refuses the option).
 */
export function _guidanceIntervalArg(
  v: string | undefined,
  config: CheckpointConfig,
): [number, number] | undefined {
  if (!config.unet.numClasses) {
    if (v !== undefined) {
      throw new RangeError(
        `--guidance-interval needs a class-conditional checkpoint; this one is unconditional`,
      );
    }
    return undefined;
  }
  if (v === undefined) return config.guidanceInterval;
  if (v === "all") return undefined;
  const parts = v.split(",").map((p) => p.trim());
  const [lo, hi] = parts.map(Number);
  if (
    parts.length !== 2 || parts.some((p) => !/^\d+$/.test(p)) || lo > hi ||
    hi >= config.schedule.T
  ) {
    throw new RangeError(
      `--guidance-interval must be LO,HI (timesteps, 0 <= LO <= HI < T = ${config.schedule.T}) ` +
        `or all, got ${v}`,
    );
  }
  return [lo, hi];
}

/**
 * --self-check: "none" turns off the checkpoint's recommended self-check; absent, it applies
 * (where the checkpoint recommends one).
 */
export function _selfCheckArg(
  v: string | undefined,
  config: CheckpointConfig,
): SelfCheck | undefined {
  if (v === undefined) return config.selfCheck;
  if (v !== "none") throw new RangeError(`--self-check must be none, got ${v}`);
  return undefined;
}
