// `deno task test`: runs every test and documentation example with TMPDIR pointing at a fresh
// folder, removed afterwards, so a test run leaves nothing behind in /tmp.
const tmp = await Deno.makeTempDir({ prefix: "ddpm-test-" });
let code = 1;
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--doc", ...Deno.args],
    // the run's folder doubles as the graphics stack's runtime folder on a headless machine, so
    // that tests requesting a WebGPU adapter directly print no XDG_RUNTIME_DIR complaint
    env: { TMPDIR: tmp, XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? tmp },
    stdin: "null",
  }).spawn();
  code = (await child.status).code;
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
Deno.exit(code);
