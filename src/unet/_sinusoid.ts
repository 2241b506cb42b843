/** The sinusoidal embedding's frequencies, shared by the tfjs path and the fused WebGPU kernel. */

/**
 * f_i = exp(-ln(10000) · i / (half - freqShift)) for i < half = dim / 2: computed in float64
 * and rounded to float32 (PyTorch's float32 exp may differ from it by an ulp).
 */
export function _sinusoidFrequencies(dim: number, freqShift = 1): Float32Array {
  const half = dim / 2;
  if (!(Number.isFinite(freqShift) && freqShift >= 0 && freqShift < half)) {
    throw new RangeError(
      `Cannot embed timesteps: freqShift must be in [0, ${half}) for dim ${dim}, got ${freqShift}`,
    );
  }
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(-Math.log(10000) * i / (half - freqShift));
  return freqs;
}
