// Fails when the files `deno publish --dry-run` lists add up to more than JSR accepts: the
// registry rejects a package whose files (each, or together, uncompressed) pass 20 MB, and the
// dry run does not check it. Reads the dry run's output (a file path argument).
const MAX_BYTES = 20_000_000;
const UNIT: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const text = Deno.readTextFileSync(Deno.args[0]).replace(ansi, "");
const files = [...text.matchAll(/^\s*(file:\/\/\S+) \(([\d.]+)(B|KB|MB|GB)\)\s*$/gm)]
  .map(([, path, n, unit]) => ({ path, bytes: Number(n) * UNIT[unit] }));
if (files.length === 0) {
  throw new Error("Cannot size the package: no files in the dry run's output");
}
const total = files.reduce((s, f) => s + f.bytes, 0);
const mb = (b: number) => (b / 1e6).toFixed(1);
const largest = files.toSorted((a, b) => b.bytes - a.bytes).slice(0, 3)
  .map((f) => `${f.path.replace(/^.*\/(checkpoints|src)\//, "$1/")} ${mb(f.bytes)} MB`);
console.log(`published: ${files.length} files, ${mb(total)} MB (largest: ${largest.join(", ")})`);
const tooBig = files.filter((f) => f.bytes > MAX_BYTES);
if (tooBig.length > 0 || total > MAX_BYTES) {
  console.error(
    `Cannot publish to JSR: files and package must each stay within ${mb(MAX_BYTES)} MB, got ` +
      `${mb(total)} MB in all${
        tooBig.length ? ` and ${tooBig.map((f) => f.path).join(", ")}` : ""
      }`,
  );
  Deno.exit(1);
}
