// Internal: one WGSL program for the arithmetic of an ancestral sampling step (Algorithm 2 of
// Ho et al. 2020) after the model has run, for tfjs-backend-webgpu:
//   x̂0 = clip(a_t x_t - b_t out)          (a, b by the parameterization; clip to [-1, 1] or not)
//   μ̃  = c1_t x̂0 + c2_t x_t               (posterior mean coefficients)
//   x_{t-1} = μ̃ + σ_t z                   (σ_t = 0 at t = 0)
// One thread per element; the five coefficients per example come in a [B, 5] tensor. `mode`
// 0 writes x_{t-1}, 1 writes x̂0. tfjs's composition takes ~20 kernels and ~8 uploads.
import { _FlatProgram } from "./_wgsl.ts";

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects. */
export class _SampleStepProgram extends _FlatProgram {
  variableNames = ["X", "OUT", "Z", "COEF"];
  shaderKey = "ddpm_sample_step";
  uniforms = "perExample : i32, clip : i32, mode : i32,";

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = (index / uniforms.perExample) * 5; // COEF row: a, b, c1, c2, σ
          var x0 = COEF[c] * X[index] - COEF[c + 1] * OUT[index];
          if (uniforms.clip != 0) { x0 = clamp(x0, -1.0, 1.0); }
          if (uniforms.mode == 1) {
            setOutputAtIndex(index, x0);
          } else {
            let mean = COEF[c + 2] * x0 + COEF[c + 3] * X[index];
            setOutputAtIndex(index, mean + COEF[c + 4] * Z[index]);
          }
        }
      }`;
  }
}
