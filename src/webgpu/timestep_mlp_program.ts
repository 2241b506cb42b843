// Internal: one WGSL program for the U-Net's timestep branch as the residual blocks use it,
//   SiLU(Dense₁(SiLU(Dense₀(sinusoidal(t)))))   [B] → [B, 4ch]
// for tfjs-backend-webgpu. One workgroup of 64 threads per example: the sinusoidal embedding
// (sin and cos of t·f_i, f given) and the hidden layer live in workgroup memory. tfjs's
// composition takes ~14 kernels and an upload.
const _WG = 64;

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects. */
export class _TimestepMlpProgram {
  variableNames = ["T", "FREQ", "W0", "B0", "W1", "B1"];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [_WG, 1, 1];
  // read by the shader: a program that leaves tfjs's uniform binding unused fails validation
  // (WebGPU's "auto" layout drops it) and never runs
  uniforms = "batch : i32,";
  private dim: number;
  private hidden: number;
  private flip: boolean;

  /**
   * B examples, sinusoidal width dim (= ch), hidden and output width (= 4ch); `flip`: cosines
   * first (diffusers' flip_sin_to_cos).
   */
  constructor(batch: number, dim: number, hidden: number, flip = false) {
    this.outputShape = [batch, hidden];
    this.dim = dim;
    this.hidden = hidden;
    this.flip = flip;
    this.shaderKey = `ddpm_timestep_mlp_${dim}_${hidden}_${flip}`; // sizes are compiled in
    this.dispatchLayout = { x: [0, 1] }; // flat: main(index) gets the global index
    this.dispatch = [batch, 1, 1]; // one workgroup per example
  }

  getUserCode(): string {
    const [D, H, half] = [this.dim, this.hidden, this.dim / 2];
    const [first, second] = this.flip ? ["cos", "sin"] : ["sin", "cos"];
    return `
      var<workgroup> sinus : array<f32, ${D}>;
      var<workgroup> act : array<f32, ${H}>;
      fn silu(v : f32) -> f32 { return v / (1.0 + exp(-v)); }
      fn main(index : i32) {
        let b = min(index / ${_WG}, uniforms.batch - 1);
        let lane = index % ${_WG};
        let t = f32(T[b]);
        for (var i = lane; i < ${half}; i = i + ${_WG}) {
          let arg = t * FREQ[i];
          sinus[i] = ${first}(arg);
          sinus[i + ${half}] = ${second}(arg);
        }
        workgroupBarrier();
        for (var j = lane; j < ${H}; j = j + ${_WG}) {
          var s = B0[j];
          for (var i = 0; i < ${D}; i = i + 1) { s = s + sinus[i] * W0[i * ${H} + j]; }
          act[j] = silu(s);
        }
        workgroupBarrier();
        for (var j = lane; j < ${H}; j = j + ${_WG}) {
          var s = B1[j];
          for (var k = 0; k < ${H}; k = k + 1) { s = s + act[k] * W1[k * ${H} + j]; }
          setOutputAtIndex(b * ${H} + j, silu(s));
        }
      }`;
  }
}
