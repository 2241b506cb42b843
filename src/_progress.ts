// Internal: a one-line progress bar on stderr (step, loss, steps/s, ETA); on a non-terminal
// it prints a plain line every `every` steps instead of redrawing.
import process from "node:process";

export interface _Progress {
  update(step: number, loss: number): void;
  /** Work between steps (the sample grid): "what: done/total" on the bar's line. */
  sub(what: string, done: number, total: number): void;
  done(): void;
}

export function _progress(total: number, start: number, enabled: boolean, every = 50): _Progress {
  const tty = Boolean(process.stderr.isTTY);
  const t0 = performance.now();
  let last = 0;
  const line = (step: number, loss: number) => {
    const lossText = Number.isNaN(loss) ? "" : `  loss ${loss.toFixed(4)}`;
    const rate = (step - start) / ((performance.now() - t0) / 1000);
    const eta = rate > 0 ? (total - step) / rate : Infinity;
    const width = 24, fill = Math.round(width * step / total);
    const bar = "█".repeat(fill) + "░".repeat(width - fill);
    return `${bar} step ${step}/${total}${lossText}  ${rate.toFixed(2)} steps/s  ETA ${
      _duration(eta)
    }`;
  };
  return {
    update(step, loss) {
      if (!enabled) return;
      if (tty) {
        if (performance.now() - last < 100 && step < total) return; // redraw at most 10×/s
        last = performance.now();
        process.stderr.write(`\r${line(step, loss)}\x1b[K`);
      } else if (step % every === 0 || step === total) {
        process.stderr.write(`${line(step, loss)}\n`);
      }
    },
    sub(what, done, total) {
      if (!enabled) return;
      if (tty) {
        if (performance.now() - last < 100 && done < total) return;
        last = performance.now();
        process.stderr.write(`\r${what}: ${done}/${total}\x1b[K`);
      } else if (done === 1 || done === total) {
        process.stderr.write(`${what}: ${done}/${total}\n`);
      }
    },
    done() {
      if (enabled && tty) process.stderr.write("\n");
    },
  };
}

/** 3725 → "1h02m05s". */
export function _duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (v: number) => String(v).padStart(2, "0");
  return h > 0 ? `${h}h${pad(m)}m${pad(r)}s` : m > 0 ? `${m}m${pad(r)}s` : `${r}s`;
}
