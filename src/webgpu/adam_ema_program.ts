// Internal: one WGSL program for the optimizer's arithmetic on one parameter, for
// tfjs-backend-webgpu, in four modes that each write one of Adam's and the EMA's new tensors
// (ĝ = s·g, s the clipping scale):
//   mode 0: m' = β1 m + (1 − β1) ĝ                       inputs A = g, B = m
//   mode 1: v' = β2 v + (1 − β2) ĝ²                      inputs A = g, B = v
//   mode 2: p' = p − (lr / bc1) · m' / (√v' / bc2 + ε)    inputs A = p, B = m', C = v'
//   mode 3: e' = d e + (1 − d) p'                         inputs A = e, B = p'
// The coefficients come as uniforms, so a step uploads nothing; tfjs's composition takes 17
// programs and 9 scalar uploads per parameter.
import { _FlatProgram } from "./_wgsl.ts";

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects. */
export class _AdamEmaProgram extends _FlatProgram {
  variableNames = ["A", "B", "C"];
  shaderKey = "ddpm_adam_ema";
  uniforms = "mode : i32, c0 : f32, c1 : f32, c2 : f32, c3 : f32, c4 : f32,";

  getUserCode(): string {
    // c0..c4: mode 0 (s, β1, 1 − β1), 1 (s, β2, 1 − β2), 2 (lr / bc1, bc2, ε), 3 (d, 1 − d)
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let a = A[index];
          let b = B[index];
          var out = 0.0;
          if (uniforms.mode == 0) {
            out = uniforms.c1 * b + uniforms.c2 * (uniforms.c0 * a);
          } else if (uniforms.mode == 1) {
            let g = uniforms.c0 * a;
            out = uniforms.c1 * b + uniforms.c2 * (g * g);
          } else if (uniforms.mode == 2) {
            out = a - uniforms.c0 * (b / (sqrt(C[index]) / uniforms.c1 + uniforms.c2));
          } else {
            out = uniforms.c0 * a + uniforms.c1 * b;
          }
          setOutputAtIndex(index, out);
        }
      }`;
  }
}
