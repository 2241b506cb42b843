// Internal: one WGSL program for SiLU(GroupNorm(x)) — y = s · σ(s), s = γ (x - μ) / √(σ² + ε) + β —
// for tfjs-backend-webgpu. One workgroup of 64 threads per (example, group): two tree
// reductions in workgroup memory (the mean, then the variance around it, for accuracy), then the
// normalized, scaled and activated values. tfjs's composition takes ~10 kernels and as many
// passes over x.
import { _GROUP_ELEM_WGSL, _PerGroupProgram, _treeReduceWgsl, _WG } from "./_wgsl.ts";

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects (x [B, H, W, C], groups). */
export class _GroupNormSiluProgram extends _PerGroupProgram {
  variableNames = ["X", "GAMMA", "BETA"];
  shaderKey = "ddpm_group_norm_silu";
  uniforms = "hw : i32, c : i32, cg : i32, groups : i32, eps : f32,";

  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, ${_WG}>;
      ${_GROUP_ELEM_WGSL}
      fn main(index : i32) {
        let wg = index / ${_WG};
        let lane = index % ${_WG};
        let b = wg / uniforms.groups;
        let g = wg % uniforms.groups;
        let n = uniforms.hw * uniforms.cg;
        var s = 0.0;
        for (var k = lane; k < n; k = k + ${_WG}) { s = s + X[elem(b, g, k)]; }
        partial[lane] = s;
        workgroupBarrier();
        ${_treeReduceWgsl(["partial"])}
        let mean = partial[0] / f32(n);
        workgroupBarrier();
        var q = 0.0;
        for (var k = lane; k < n; k = k + ${_WG}) {
          let d = X[elem(b, g, k)] - mean;
          q = q + d * d;
        }
        partial[lane] = q;
        workgroupBarrier();
        ${_treeReduceWgsl(["partial"])}
        let inv = inverseSqrt(partial[0] / f32(n) + uniforms.eps);
        for (var k = lane; k < n; k = k + ${_WG}) {
          let i = elem(b, g, k);
          let ch = g * uniforms.cg + k % uniforms.cg;
          let v = (X[i] - mean) * inv * GAMMA[ch] + BETA[ch];
          setOutputAtIndex(i, v / (1.0 + exp(-v)));
        }
      }`;
  }
}
