// `deno task test`: runs every test and documentation example with TMPDIR pointing at a fresh
// folder, removed afterwards, so a test run leaves nothing behind in /tmp.
const tmp = await Deno.makeTempDir({ prefix: "ddpm-test-" });
let code = 1;
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--doc", ...Deno.args],
    env: { TMPDIR: tmp },
    stdin: "null",
  }).spawn();
  code = (await child.status).code;
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
Deno.exit(code);
