// Internal: CRC-32C (Castagnoli, polynomial 0x82F63B78 reflected), the checksum of a
// checkpoint's tensor bytes. Chosen over SHA-256 because it is synchronous and platform-neutral
// in plain JavaScript (WebCrypto's digest is async) and detects every burst error of up to 32
// bits and every 1–3 bit flip in files of this size: the goal is catching accidental corruption,
// not tampering. Slicing-by-8 tables: ≈ 8 bytes per table round.

const _TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >>> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
})();

/** Continues a CRC-32C over more bytes: start with crc = 0, feed the parts in order. */
export function _crc32c(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = _TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a =
      (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>>
      0;
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC as 8 lowercase hex digits. */
export function _crcHex(crc: number): string {
  return crc.toString(16).padStart(8, "0");
}
