// Internal: the shape test the file readers apply to parsed JSON headers and metadata.

/** Whether v is a plain JSON object (not null, not an array). */
export function _isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
