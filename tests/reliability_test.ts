// Fault injection and misuse: a trainer killed with SIGKILL at random moments resumes to the
// uninterrupted run tensor for tensor; a full disk, a torn log line, two trainers on one folder,
// stale temporary files, a folder that holds a run; every decoder fuzzed over mutated valid
// files (fast-check) — each input decodes to what was encoded or fails with the library's own
// clear error; the API misuses that used to give raw errors. Counts: tests/README.md.
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Checkpoint,
  createUNet,
  decodeIdx,
  decodeSafetensors,
  encodeNpy,
  encodeSafetensors,
  loadCheckpoint,
  setWeights,
  type StoredTensor,
} from "../mod.ts";
import { loadImageFolder, saveCheckpoint, train } from "../fs.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { TINY, tinyTrainOptions } from "./_tiny.ts";
import { assertSameCheckpoint, useBackend } from "./_helpers.ts";
import { _uniformGenerator } from "../src/_random.ts";
import { _atomicWrite } from "../src/_atomic_write.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CHILD = new URL("./fixtures/train_child.ts", import.meta.url).pathname;
const _log = (dir: string) =>
  readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

/** `deno run -A script ...args` with the project's config, its output piped. */
function spawnDeno(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The fixture trainer on `out` up to `steps`. */
const child = (out: string, steps: number) => spawnDeno(CHILD, [out, String(steps)]);

/** Its exit code and stderr; one that runs past `limitMs` is killed and fails the test. */
async function finish(
  p: Deno.ChildProcess,
  limitMs = 300_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    p.kill("SIGKILL");
  }, limitMs);
  try {
    const out = await p.output();
    const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
    assertTrue(!late, `a trainer still ran after ${limitMs / 1000} s; its stderr:\n${stderr}`);
    return { code: out.code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

// SIGKILL at random moments: half of them from the process's start (start-up, loading, the
// first step), half once it trains (a step, a checkpoint write, the log append, the lock);
// KILLS of them, then a run to the end: every tensor must equal the uninterrupted run's.
const KILLS = 24, STEPS = 200; // enough steps that the kills land first on a fast, idle machine
Deno.test({
  name: `faults: ${KILLS} SIGKILLs at random moments, then resume: every tensor as uninterrupted`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const [whole, killed] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const w = await finish(child(whole, STEPS));
    assertEquals(w.code, 0, w.stderr);
    const u = _uniformGenerator(20, 0);
    let kills = 0, resumes = 0;
    while (kills < KILLS) {
      const lines = () =>
        existsSync(join(killed, "log.jsonl"))
          ? readFileSync(join(killed, "log.jsonl"), "utf8").split("\n").length
          : 0;
      const before = lines();
      const p = child(killed, STEPS);
      if (kills % 2 === 0) {
        await new Promise((r) => setTimeout(r, 100 + 1500 * u())); // from the start
      } else {
        // once this process has trained a step (its log grew), 0–400 ms more: the next step,
        // its checkpoint write or its log append
        for (let i = 0; i < 1200 && lines() <= before; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        await new Promise((r) => setTimeout(r, 400 * u()));
      }
      let killedIt = false;
      try {
        p.kill("SIGKILL");
        killedIt = true;
        kills++;
      } catch { /* it had already finished */ }
      const r = await finish(p);
      if (r.stderr.includes("resuming")) resumes++;
      if (r.code === 0) break; // it finished first: too few steps for the kills (asserted below)
      // a trainer that failed by itself after a kill: the folder was left in a state it
      // cannot resume from
      assertTrue(killedIt, `after ${kills} kills a trainer failed by itself:\n${r.stderr}`);
    }
    assertEquals(kills, KILLS, "every kill landed before the run could finish");
    assertTrue(resumes > 0, `restarts resumed a checkpoint (${resumes})`);
    const last = await finish(child(killed, STEPS));
    assertEquals(last.code, 0, last.stderr);
    await assertSameCheckpoint(
      join(whole, "checkpoint.safetensors"),
      join(killed, "checkpoint.safetensors"),
    );
    assertEquals(_log(killed).map((r) => r.step), _log(whole).map((r) => r.step), "each step once");
    assertEquals(_log(killed).map((r) => r.loss), _log(whole).map((r) => r.loss));
    const left = readdirSync(killed).filter((n) => n.includes(".tmp-") || n.includes(".stale-"));
    assertEquals(left, [], "no temporary files left");
    assertTrue(!existsSync(join(killed, "train.lock")), "the lock is released");
  },
});

for (const [name, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test({
    name: `faults: ${name} stops deno task train after its step, with that step's checkpoint`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      const cli = new URL("../src/cli/train.ts", import.meta.url).pathname;
      const p = spawnDeno(cli, [
        ...["--steps", "100000", "--batch", "2", "--limit", "8", "--checkpoint-every", "1000"],
        ...["--sample-every", "0", "--backend", "wasm", "--workers", "1", "--out", dir],
      ]);
      const log = join(dir, "log.jsonl");
      for (let i = 0; i < 1200 && !(existsSync(log) && readFileSync(log, "utf8")); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      p.kill(name);
      const { code: exit, stdout, stderr } = await finish(p, 60_000);
      assertEquals(exit, code, stderr);
      const steps = _log(dir).map((r) => r.step);
      const last = steps.at(-1)!;
      assertTrue(
        stderr.includes(`${name}: stopping after the step in progress, writing its checkpoint`),
        stderr,
      );
      assertTrue(stdout.includes(`stopped: step ${last},`), stdout);
      assertTrue(stdout.includes("continue it with the same command and --resume"), stdout);
      assertEquals(steps, Array.from({ length: last }, (_, i) => i + 1), "each step once");
      const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
      assertEquals(ck.state!.step, last, "the checkpoint is of the last step");
      assertTrue(!existsSync(join(dir, "train.lock")), "the lock is released");
    },
  });
}

Deno.test({
  name: "faults: two trainers on one folder — the second exits with one clear line",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const p = child(dir, 100000);
    const lock = join(dir, "train.lock");
    for (let i = 0; i < 200 && !existsSync(join(dir, "checkpoint.safetensors")); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assertTrue(existsSync(lock), "the running trainer holds the lock");
    const pid = JSON.parse(readFileSync(lock, "utf8")).pid;
    await assertRejects(
      () => train(tinyTrainOptions(dir, 5, { resume: true })),
      Error,
      `Cannot train: ${dir} is in use by another trainer (pid ${pid}, since`,
    );
    p.kill("SIGKILL");
    await finish(p);
    // its lock stays behind; the next trainer sees its owner is gone and takes it over
    assertTrue(existsSync(lock), "a killed trainer leaves its lock");
    const notes: string[] = [];
    const step = (await loadCheckpoint(join(dir, "checkpoint.safetensors"))).state!.step;
    await train(tinyTrainOptions(dir, step + 1, { resume: true, onNote: (l) => notes.push(l) }));
    assertTrue(
      notes.some((l) => l.includes(`took over the lock of ${dir} from pid ${pid}`)),
      notes.join("\n"),
    );
    assertTrue(notes.some((l) => l.includes(`at step ${step}`)), notes.join("\n"));
    assertTrue(!existsSync(lock), "released at the end");
  },
});

Deno.test({
  name: "faults: the lock appears whole or not at all; an unreadable lock is one clear error",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    // what a kill between writing the lock's temporary file and linking it leaves behind
    const tmp = join(dir, "train.lock.tmp-12345-678");
    writeFileSync(tmp, '{"pid":12345,');
    // and what a kill of a taker between moving a dead trainer's lock aside and removing it does
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const aside = join(dir, `train.lock.stale-${gone.pid}`);
    writeFileSync(aside, JSON.stringify({ pid: 1, host: "h", started: "s" }));
    const notes: string[] = [];
    await train(tinyTrainOptions(dir, 1, { onNote: (l) => notes.push(l) }));
    assertTrue(!existsSync(tmp), "the left-over temporary file is removed under the lock");
    assertTrue(!existsSync(aside), "the dead taker's moved-aside lock is removed");
    assertTrue(notes.some((l) => l.includes("removed 2 stale temporary files")), notes.join("\n"));
    assertTrue(!existsSync(join(dir, "train.lock")), "released");
    // a lock that is not a trainer's (empty, or torn by an older version) is not taken over
    for (const text of ["", '{"pid":12', "[]"]) {
      writeFileSync(join(dir, "train.lock"), text);
      await assertRejects(
        () => train(tinyTrainOptions(dir, 2, { resume: true })),
        Error,
        `Cannot train: the lock ${join(dir, "train.lock")} cannot be read (not a trainer's ` +
          `lock); if no trainer runs on ${dir}, delete it`,
      );
    }
    assertEquals(readFileSync(join(dir, "train.lock"), "utf8"), "[]", "left as it was");
  },
});

Deno.test({
  name: "faults: a torn last log line and stale temporary files are cleaned up on resume",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    await train(tinyTrainOptions(dir, 3, { checkpointEvery: 1 }));
    appendFileSync(join(dir, "log.jsonl"), '{"step":4,"loss":0.47');
    const tmp = join(dir, "checkpoint.safetensors.tmp-1-2");
    writeFileSync(tmp, new Uint8Array(1e6));
    writeFileSync(join(dir, "loss.svg.tmp-3-4"), "x");
    const notes: string[] = [];
    const r = await train(tinyTrainOptions(dir, 5, { resume: true, onNote: (l) => notes.push(l) }));
    assertEquals(r.resumedFrom, 3);
    assertEquals(_log(dir).map((l) => l.step), [1, 2, 3, 4, 5]);
    assertTrue(
      notes.some((l) => l.includes("dropped 1 unreadable line") && l.includes("line 4")),
      notes.join("\n"),
    );
    assertTrue(
      notes.some((l) => l.includes("removed 2 stale temporary files (1.0 MB)")),
      notes.join("\n"),
    );
    assertTrue(!existsSync(tmp), "removed");
  },
});

Deno.test({
  name:
    "faults: a folder that holds a run is refused without resume or overwrite; resume needs one",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    await assertRejects(
      () => train(tinyTrainOptions(dir, 2, { resume: true })),
      Error,
      `Cannot resume: ${dir} has no checkpoint.safetensors to resume`,
    );
    const fresh = await train(tinyTrainOptions(dir, 2, { resume: "ifPresent" }));
    assertEquals([fresh.step, fresh.resumedFrom], [2, undefined]);
    await assertRejects(
      () => train(tinyTrainOptions(dir, 4)),
      Error,
      `Cannot train: ${dir} holds a run (checkpoint.safetensors); continue it with resume`,
    );
    const again = await train(tinyTrainOptions(dir, 4, { resume: "ifPresent" }));
    assertEquals(again.resumedFrom, 2);
    const over = await train(tinyTrainOptions(dir, 1, { overwrite: true }));
    assertEquals([over.step, over.losses.length], [1, 1]);
    assertEquals(_log(dir).map((l) => l.step), [1]);
    // killed after its first step's log line, before its first checkpoint: "ifPresent" starts
    // over (nothing to continue), the log cut back to step 0; plain resume still refuses
    const early = await Deno.makeTempDir();
    writeFileSync(join(early, "log.jsonl"), readFileSync(join(dir, "log.jsonl")));
    await assertRejects(
      () => train(tinyTrainOptions(early, 2)),
      Error,
      `Cannot train: ${early} holds a run (log.jsonl)`,
    );
    await assertRejects(
      () => train(tinyTrainOptions(early, 2, { resume: true })),
      Error,
      `Cannot resume: ${early} has no checkpoint.safetensors to resume`,
    );
    const notes: string[] = [];
    const restarted = await train(
      tinyTrainOptions(early, 2, { resume: "ifPresent", onNote: (l) => notes.push(l) }),
    );
    assertEquals([restarted.step, restarted.resumedFrom], [2, undefined]);
    assertEquals(_log(early).map((l) => l.step), [1, 2], "the old line is gone, each step once");
    assertTrue(
      notes.some((l) => l.includes("logs 1 step of a run that wrote no checkpoint")),
      notes.join("\n"),
    );
  },
});

/** Mounts a tmpfs of `kb` KiB (root on Linux, as in CI); undefined where that is not allowed. */
async function smallDisk(kb: number): Promise<string | undefined> {
  const dir = await Deno.makeTempDir();
  const r = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${kb}k`, "tmpfs", dir],
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return r.success ? dir : undefined;
}

Deno.test({
  name: "faults: a full disk stops training with the path named and the last checkpoint whole",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    // a tmpfs that fits one checkpoint of the tiny U-Net (≈ 0.7 MB) and not two at once
    const disk = await smallDisk(1200);
    const root = Deno.uid?.() === 0 && Deno.build.os === "linux";
    if (!disk) {
      // only where mounting is not allowed (not root): the same check through the file API
      assertTrue(!root, "root on Linux can mount a tmpfs; CI must run the real full-disk test");
      return await fullDiskByHook();
    }
    try {
      const dir = join(disk, "run");
      await assertRejects(
        () => train(tinyTrainOptions(dir, 50, { checkpointEvery: 1 })),
        Error,
        `ENOSPC (no space left on device)`,
      );
      const ck = await loadCheckpoint(join(dir, "checkpoint.safetensors"));
      assertTrue(ck.state!.step >= 1, "the last checkpoint is whole");
      assertEquals(readdirSync(dir).filter((n) => n.includes(".tmp-")), [], "no temporary file");
    } finally {
      await new Deno.Command("umount", { args: [disk] }).output();
    }
  },
});

/** The full-disk check where no tmpfs can be mounted: _atomicWrite into an unwritable folder. */
async function fullDiskByHook(): Promise<void> {
  const dir = await Deno.makeTempDir();
  writeFileSync(join(dir, "file"), "x");
  // a path under a file cannot be created: the same error path as ENOSPC
  assertThrows(
    () => _atomicWrite(join(dir, "file", "checkpoint.safetensors"), new Uint8Array(4)),
    Error,
    `Cannot write ${join(dir, "file", "checkpoint.safetensors")}: EEXIST`,
  );
}

Deno.test("faults: write errors name the file and say what was kept", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.bin");
  _atomicWrite(path, "old");
  await Deno.chmod(dir, 0o500);
  try {
    if (Deno.uid?.() === 0) {
      // root ignores permissions: a path through a file fails instead
      assertThrows(
        () => _atomicWrite(join(path, "x"), "new"),
        Error,
        `Cannot write ${join(path, "x")}: EEXIST (a part of the path is a file, not a folder); ${
          join(path, "x")
        } was not created`,
      );
    } else {
      assertThrows(
        () => _atomicWrite(path, "new"),
        Error,
        `Cannot write ${path}: EACCES (permission denied); ${path} is kept as it was`,
      );
    }
  } finally {
    await Deno.chmod(dir, 0o700);
  }
  assertEquals(readFileSync(path, "utf8"), "old");
});

// ---------------------------------------------------------------------------------------------
// Decoders over mutated valid files: each either decodes to what was encoded or throws the
// library's own error ("Cannot …"), never a raw TypeError or RangeError from deep inside.

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; v: number }
  | {
    kind: "cut";
    at: number;
  }
  | { kind: "insert"; at: number; v: number };

const mutation = (n: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(n - 1), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(n - 1), v: fc.nat(255) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(n - 1) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(n - 1), v: fc.nat(255) }),
  );

function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = bytes.slice();
  for (const m of ms) {
    const at = Math.min(m.at, Math.max(0, b.length - 1));
    if (m.kind === "flip") b[at] ^= 1 << m.bit;
    else if (m.kind === "set") b[at] = m.v;
    else if (m.kind === "cut") b = b.slice(0, at);
    else b = new Uint8Array([...b.subarray(0, at), m.v, ...b.subarray(at)]);
  }
  return b;
}

/** Our own errors start with "Cannot "; anything else (a TypeError from inside) fails. */
function ownError(e: unknown, what: string): void {
  assertTrue(
    e instanceof Error && e.message.startsWith("Cannot "),
    `${what}: not the library's own error: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`,
  );
}

export const FUZZ_RUNS = { safetensors: 600, checkpoint: 600, idx: 400, image: 150 };

Deno.test(`fuzz: decodeSafetensors over ${FUZZ_RUNS.safetensors} mutated files`, () => {
  const tensors = new Map<string, StoredTensor>([
    ["a", { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
    ["b.c", { dtype: "U8", shape: [4], data: new Uint8Array([9, 8, 7, 6]) }],
  ]);
  const good = encodeSafetensors(tensors, { note: "x" });
  let decoded = 0, refused = 0;
  fc.assert(
    fc.property(fc.array(mutation(good.length), { minLength: 1, maxLength: 4 }), (ms) => {
      const bytes = mutate(good, ms);
      try {
        const back = decodeSafetensors(bytes);
        decoded++;
        // a structurally valid file: its tensors fit their shapes
        for (const [name, t] of back.tensors) {
          assertEquals(t.data.length, t.shape.reduce((a, b) => a * b, 1), name);
        }
      } catch (e) {
        refused++;
        ownError(e, "decodeSafetensors");
      }
    }),
    { seed: 7, numRuns: FUZZ_RUNS.safetensors },
  );
  assertTrue(decoded > 0 && refused > 0, `both outcomes seen (${decoded} / ${refused})`);
});

Deno.test(`fuzz: loadCheckpoint over ${FUZZ_RUNS.checkpoint} mutated checkpoints: the original or a clear error`, async () => {
  await useBackend("cpu");
  const unet = createUNet({ ...TINY, ch: 4, chMult: [1], attnResolutions: [], groups: 2 });
  const ema: Checkpoint["ema"] = new Map(
    [...unet.params].map(([n, v]) => [n, { shape: v.shape, data: v.dataSync() as Float32Array }]),
  );
  unet.dispose();
  const dir = await Deno.makeTempDir();
  const path = join(dir, "c.safetensors");
  saveCheckpoint(path, {
    config: {
      unet: { ...TINY, ch: 4, chMult: [1], attnResolutions: [], groups: 2 },
      schedule: { kind: "linear", T: 100 },
    },
    state: { step: 3, adamStep: 3, seconds: 1 },
    ema,
  });
  const good = readFileSync(path);
  const original = await loadCheckpoint(good);
  let same = 0, refused = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(mutation(good.length), { minLength: 1, maxLength: 3 }),
      async (ms) => {
        try {
          const ck = await loadCheckpoint(mutate(good, ms));
          // only mutations that change nothing it says (header padding) may load
          assertEquals(ck.config, original.config);
          assertEquals(ck.state, original.state);
          for (const [name, w] of original.ema) assertEquals(ck.ema.get(name), w, name);
          same++;
        } catch (e) {
          refused++;
          ownError(e, "loadCheckpoint");
        }
      },
    ),
    { seed: 8, numRuns: FUZZ_RUNS.checkpoint },
  );
  assertTrue(
    refused > FUZZ_RUNS.checkpoint / 2,
    `most mutations are caught (${same} / ${refused})`,
  );
});

Deno.test(`fuzz: decodeIdx over ${FUZZ_RUNS.idx} mutated files`, async () => {
  const good = new Uint8Array([
    0,
    0,
    8,
    3,
    0,
    0,
    0,
    2,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    2,
    ...new Array(12).fill(7),
  ]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(mutation(good.length), { minLength: 1, maxLength: 3 }),
      async (ms) => {
        try {
          const { dims, data } = await decodeIdx(mutate(good, ms));
          assertEquals(data.length, dims.reduce((a, b) => a * b, 1));
        } catch (e) {
          ownError(e, "decodeIdx");
        }
      },
    ),
    { seed: 9, numRuns: FUZZ_RUNS.idx },
  );
});

Deno.test(`fuzz: loadImageFolder over ${FUZZ_RUNS.image} mutated PNG files`, async () => {
  const { encode } = await import("fast-png");
  const good = encode({ width: 4, height: 3, data: new Uint8Array(12).fill(100), channels: 1 });
  const dir = await Deno.makeTempDir();
  await fc.assert(
    fc.asyncProperty(
      fc.array(mutation(good.length), { minLength: 1, maxLength: 2 }),
      async (ms) => {
        writeFileSync(join(dir, "a.png"), mutate(good, ms));
        try {
          const ds = await loadImageFolder(dir, { size: 2, channels: 1, maxPixels: 1 << 16 });
          assertEquals(ds.shape, [1, 2, 2, 1]);
        } catch (e) {
          ownError(e, "loadImageFolder");
        }
      },
    ),
    { seed: 10, numRuns: FUZZ_RUNS.image },
  );
});

// ---------------------------------------------------------------------------------------------
// Misuse that used to give raw errors or silent nonsense.

Deno.test("misuse: the U-Net checks t and refuses calls after dispose()", async () => {
  await useBackend("cpu");
  const unet = createUNet(TINY, { T: 1000 });
  const x = tf.zeros([1, 8, 8, 1]);
  for (const [t, shown] of [[5000, "5000"], [-3, "-3"], [0.5, "0.5"], [NaN, "NaN"]] as const) {
    assertThrows(
      () => unet(x, tf.tensor1d([t], "float32")),
      RangeError,
      `Cannot run U-Net: t must hold integers in [0, 999], got t[0] = ${shown}`,
    );
  }
  assertThrows(
    () => unet(x, tf.tensor1d([1, 2], "int32")),
    RangeError,
    "Cannot run U-Net: t must be a tensor [1] (one timestep per image), got [2]",
  );
  unet.dispose();
  assertThrows(
    () => unet(x, tf.tensor1d([1], "int32")),
    Error,
    "Cannot run U-Net: it was disposed",
  );
});

Deno.test("misuse: setWeights names the weight whose shape or length is wrong", async () => {
  await useBackend("cpu");
  const unet = createUNet(TINY);
  const v = unet.params.get("conv_in.b")!;
  const weights = new Map(
    [...unet.params].map(([n, p]) => [n, { shape: [...p.shape], data: new Float32Array(p.size) }]),
  );
  weights.set("conv_in.b", { shape: [...v.shape], data: new Float32Array(3) });
  assertThrows(
    () => setWeights(unet.params, weights),
    RangeError,
    `Cannot set weights: conv_in.b must hold ${v.size} float32 values (shape [${v.shape}]), got 3`,
  );
  unet.dispose();
});

Deno.test("misuse: decoders refuse bad shapes; encoders refuse what their readers reject", () => {
  const file = (shape: unknown, offsets = [0, 8]) => {
    const json = JSON.stringify({ x: { dtype: "F32", shape, data_offsets: offsets } });
    const head = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + head.length + 8);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
    out.set(head, 8);
    return out;
  };
  for (const shape of [[-2, -1], [0.5, 4], "2", [1e300, 1e300]]) {
    assertThrows(() => decodeSafetensors(file(shape)), Error, "Cannot read safetensors: x has");
  }
  assertThrows(() => decodeSafetensors(file([2], [8, 0])), Error, "x has data_offsets [8,0]");
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
  assertThrows(() => decodeSafetensors(huge), Error, "header length 4611686018427387904 exceeds");
  const t = (shape: number[]) =>
    new Map([["x", { dtype: "F32" as const, shape, data: new Float32Array(0) }]]);
  assertThrows(() => encodeSafetensors(t([-1, 0])), RangeError, "dimensions must be integers >= 0");
  assertThrows(
    () =>
      encodeSafetensors(
        new Map([["__metadata__", { dtype: "U8", shape: [0], data: new Uint8Array(0) }]]),
      ),
    RangeError,
    "a tensor name must be a non-empty string other than __metadata__",
  );
  assertThrows(
    () =>
      encodeSafetensors(
        new Map([["x", {
          dtype: "F32",
          shape: [1],
          data: new Uint8Array(4) as unknown as Float32Array,
        }]]),
      ),
    RangeError,
    "x is F32 but its data is not a Float32Array",
  );
  assertThrows(
    () => encodeNpy(new Uint8Array(0), [0.5, 0]),
    RangeError,
    "shape must be integers >= 0",
  );
  assertThrows(
    () => encodeNpy(new Uint8Array(2), [-1, -2]),
    RangeError,
    "shape must be integers >= 0",
  );
});

Deno.test("misuse: an image that declares too many pixels is refused before decoding", async () => {
  const dir = await Deno.makeTempDir();
  // a PNG signature and an IHDR of 16000×16000, nothing else: refused from the header alone
  const png = new Uint8Array(33);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(png.buffer).setUint32(16, 16000);
  new DataView(png.buffer).setUint32(20, 16000);
  writeFileSync(join(dir, "big.png"), png);
  await assertRejects(
    () => loadImageFolder(dir, { size: 8, channels: 1 }),
    RangeError,
    `Cannot decode ${
      join(dir, "big.png")
    }: it declares 16000×16000 pixels, more than maxPixels (16777216)`,
  );
  // a folder named like an image is not read as one
  const d1 = await Deno.makeTempDir();
  const { encode } = await import("fast-png");
  writeFileSync(
    join(d1, "a.png"),
    encode({ width: 2, height: 2, data: new Uint8Array(4), channels: 1 }),
  );
  Deno.mkdirSync(join(d1, "x.png"));
  assertEquals((await loadImageFolder(d1, { size: 2, channels: 1 })).shape, [1, 2, 2, 1]);
  // a dangling link is named
  const d2 = await Deno.makeTempDir();
  Deno.symlinkSync(join(d2, "nowhere.png"), join(d2, "a.png"));
  await assertRejects(
    () => loadImageFolder(d2, { size: 8, channels: 1 }),
    Error,
    `Cannot read ${join(d2, "a.png")}: no such file (a dangling link?)`,
  );
});

Deno.test("misuse: a checkpoint with flipped bits or bad metadata is one clear error", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "c.safetensors");
  const w = new Map([["conv_in.b", { shape: [2], data: new Float32Array([1, 2]) }]]);
  const config = { unet: { ...TINY }, schedule: { kind: "linear" as const, T: 10 } };
  saveCheckpoint(path, { config, ema: w });
  const bytes = readFileSync(path);
  const flipped = bytes.slice();
  flipped[bytes.length - 1] ^= 0x10;
  await assertRejects(
    () => loadCheckpoint(flipped),
    Error,
    "its contents fail their CRC-32C check",
  );
  // written without a checksum (older releases): loads
  const meta = decodeSafetensors(bytes).metadata;
  const old = encodeSafetensors(
    new Map([["ema.conv_in.b", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
    { format: meta.format, config: meta.config },
  );
  assertEquals((await loadCheckpoint(old)).ema.get("conv_in.b")!.data, new Float32Array([1, 2]));
  const withMeta = (m: Record<string, string>) =>
    encodeSafetensors(
      new Map([["ema.conv_in.b", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
      { format: meta.format, ...m },
    );
  const cases: [Record<string, string>, string][] = [
    [{ config: "{not json" }, "metadata.config is not JSON"],
    [{ config: "[]" }, "metadata.config must be an object, got []"],
    [
      { config: JSON.stringify({ ...config, unet: { ...TINY, chMult: 3 } }) },
      "metadata.config.unet.chMult must be an array of positive integers, got 3",
    ],
    [
      { config: JSON.stringify({ ...config, schedule: { kind: "linear" } }) },
      "metadata.config.schedule must be { kind, T }",
    ],
    [
      { config: JSON.stringify({ ...config, sampler: { name: "euler" } }) },
      'metadata.config.sampler name must be one of ddpm, ddim, dpm++, got {"name":"euler"}',
    ],
    [
      { config: JSON.stringify({ ...config, sampler: { name: "dpm++", eta: 1 } }) },
      "metadata.config.sampler eta applies to ddim only",
    ],
    [
      { config: JSON.stringify({ ...config, sampler: { name: "ddim", steps: 0 } }) },
      "metadata.config.sampler steps must be a positive integer",
    ],
    [
      { config: JSON.stringify({ ...config, sampler: { name: "ddim", eta: -1 } }) },
      "metadata.config.sampler eta must be a number >= 0",
    ],
    [
      { config: JSON.stringify({ ...config, sampler: { name: "ddim", step: 5 } }) },
      "metadata.config.sampler has unknown fields step",
    ],
    [
      { config: meta.config, state: '{"step":-1}' },
      "metadata.state.step must be an integer >= 0, got -1",
    ],
  ];
  for (const [m, msg] of cases) {
    await assertRejects(() => loadCheckpoint(withMeta(m)), Error, msg);
  }
});
