// The platform-neutral core: mod.ts bundles for the browser (esbuild, --platform=browser) with no
// error and no import of a Node built-in left in the bundle; @ddpm/core/fs holds what needs a
// file system.
import * as esbuild from "esbuild";
import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test({
  name: "browser: mod.ts bundles for the browser with nothing from Node",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = new URL("../", import.meta.url).pathname;
    const result = await esbuild.build({
      entryPoints: [`${root}mod.ts`],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      absWorkingDir: root,
    });
    await esbuild.stop();
    assertEquals(result.errors.map((e) => e.text), []);
    const code = new TextDecoder().decode(result.outputFiles[0].contents);
    const nodeImports = code.match(/(from\s*|import\s*\(\s*|require\s*\(\s*)["']node:[^"']+["']/g);
    assertEquals(nodeImports, null, "no node: import in the bundle");
    assertTrue(code.includes("ddpm-core-checkpoint/1"), "the checkpoint format is in the core");
  },
});
