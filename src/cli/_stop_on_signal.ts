// Internal: Ctrl-C (SIGINT) and SIGTERM stop a long command cleanly. The first asks it to stop
// after the work in progress (the trainer finishes its step and writes its checkpoint); a second
// quits at once, keeping what was last written.
import process from "node:process";

/** What `_stopOnSignal` returns: the signal to pass on, and the exit code a stop should end with. */
export interface _Stop {
  /** Aborted by the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), once one arrived. */
  exitCode(): number | undefined;
}

/**
 * Listens for SIGINT and SIGTERM: the first aborts the returned signal and says on stderr what
 * happens next (`doing`: what is finished first); a second exits at once with 128 + its number.
 */
export function _stopOnSignal(doing: string): _Stop {
  const controller = new AbortController();
  let code: number | undefined;
  const on = (name: "SIGINT" | "SIGTERM", number: number) => () => {
    if (controller.signal.aborted) {
      console.error(`${name} again: quitting at once; what was last written is kept`);
      process.exit(128 + number);
    }
    code = 128 + number;
    console.error(`\n${name}: stopping after ${doing} (${name} again quits at once)`);
    controller.abort();
  };
  process.on("SIGINT", on("SIGINT", 2));
  process.on("SIGTERM", on("SIGTERM", 15));
  return { signal: controller.signal, exitCode: () => code };
}
