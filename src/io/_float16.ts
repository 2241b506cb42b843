// Internal: IEEE 754 binary16 ("half", safetensors F16) and bfloat16 (BF16) to and from float32,
// for checkpoints stored at half the size and for PyTorch state_dicts saved in half precision.
// No platform Float16Array is assumed (not every runtime this library targets has one).

const _f32 = new Float32Array(1);
const _u32 = new Uint32Array(_f32.buffer);

/**
 * The binary16 bit patterns nearest to float32 values (round to nearest, ties to even; beyond
 * the largest half, 65504, rounds to ±Infinity as IEEE 754 says; NaN stays NaN, −0 stays −0).
 */
export function _toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    _f32[0] = values[i];
    const x = _u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf, or a quiet NaN
      continue;
    }
    const e = exp - 127 + 15; // the half's biased exponent
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00; // too large: ±Infinity
    } else if (e >= 1) {
      // normal: keep 10 mantissa bits, round the 13 dropped ones to nearest, ties to even; a
      // carry out of the mantissa moves the exponent up (to Infinity past 65504), as it should
      const half = (e << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      out[i] = sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
    } else if (e >= -10) {
      // subnormal half: the value is m · 2^-24 with m = (1.mant) · 2^(e + 13), rounded likewise
      const full = mant | 0x800000;
      const shift = 14 - e; // from 14 (e = 0) to 24 (e = -10)
      const m = full >>> shift;
      const rest = full & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      out[i] = sign | (m + (rest > mid || (rest === mid && (m & 1)) ? 1 : 0));
    } else {
      out[i] = sign; // below half the smallest subnormal: ±0
    }
  }
  return out;
}

/** The float32 values of binary16 bit patterns (exact: every half is a float32). */
export function _fromFloat16Bits(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1024 + mant) * 2 ** (exp - 25);
  }
  return out;
}

/** The float32 values of bfloat16 bit patterns (exact: a bfloat16 is a float32's top half). */
export function _fromBfloat16Bits(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}
