// Small assertions over node:assert (the JSR registry, and so @std/assert, is not reachable).
import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Asserts a condition. */
export function assertTrue(cond: unknown, msg: string): asserts cond {
  assert.ok(cond, msg);
}

/** fn throws an instance of cls whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  cls: new (...args: never[]) => Error,
  includes: string,
): void {
  assert.throws(fn, _matches(cls, includes));
}

/** fn rejects with an instance of cls whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: new (...args: never[]) => Error,
  includes: string,
): Promise<void> {
  await assert.rejects(fn, _matches(cls, includes));
}

/** A validator: an instance of cls whose message includes `includes`. */
function _matches(cls: new (...args: never[]) => Error, includes: string) {
  return (e: unknown): true => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.ok(
      (e as Error).message.includes(includes),
      `expected message to include ${JSON.stringify(includes)}, got ${
        JSON.stringify((e as Error).message)
      }`,
    );
    return true;
  };
}
