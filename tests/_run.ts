// `deno task test`: runs every test and documentation example with TMPDIR pointing at a fresh
// folder, removed afterwards, so a test run leaves nothing behind in /tmp. A run that goes past
// its limit (DDPM_TEST_LIMIT_MINUTES, default 50: the whole suite takes about 16 on two cores) is
// stopped with one line saying so, so a stuck test fails the run instead of hanging it.
const tmp = await Deno.makeTempDir({ prefix: "ddpm-test-" });
const limitMinutes = Number(Deno.env.get("DDPM_TEST_LIMIT_MINUTES") ?? 50);
let code = 1;
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--doc", ...Deno.args],
    // the run's folder doubles as the graphics stack's runtime folder on a headless machine, so
    // that tests requesting a WebGPU adapter directly print no XDG_RUNTIME_DIR complaint
    env: { TMPDIR: tmp, XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? tmp },
    stdin: "null",
  }).spawn();
  const watchdog = setTimeout(() => {
    console.error(
      `\nThe test run went past its limit of ${limitMinutes} minutes ` +
        `(DDPM_TEST_LIMIT_MINUTES); stopping it: the test running last above is stuck.`,
    );
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
  }, limitMinutes * 60_000);
  code = (await child.status).code;
  clearTimeout(watchdog);
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
Deno.exit(code);

/** The processes below pid (from /proc on Linux; none found elsewhere). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
      } catch { /* exited meanwhile */ }
    }
  } catch {
    return [];
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children.get(queue.pop()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}
