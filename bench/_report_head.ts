// The head of a comparison's README: its title, the machine and date, and the command that
// regenerates it.
import { cpus } from "node:os";

/** The README's first lines: `# title`, the machine and date, and `command` in a code block. */
export function _reportHead(title: string, command: string): string[] {
  return [
    `# ${title}`,
    "",
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores; ` +
    `${new Date().toISOString().slice(0, 10)}. Regenerate with:`,
    "",
    "```sh",
    command,
    "```",
    "",
  ];
}
