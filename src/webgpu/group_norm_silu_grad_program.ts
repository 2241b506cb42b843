// Internal: one WGSL program for dL/dx of y = SiLU(s), s = γ x̂ + β, x̂ = (x - μ) r with
// r = 1 / √(σ² + ε) per (example, group), for tfjs-backend-webgpu:
//   ds  = dy · σ(s) (1 + s (1 - σ(s)))            (SiLU')
//   dx̂ = ds · γ
//   dx  = r (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂))  (means over the group)
// One workgroup of 64 threads per (example, group): μ and r come in (MEAN, RSTD, [B, G]); one
// pass sums dx̂ and dx̂ · x̂ in workgroup memory, a second writes dx.
import { _GROUP_ELEM_WGSL, _PerGroupProgram, _treeReduceWgsl, _WG } from "./_wgsl.ts";

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects (x [B, H, W, C], groups). */
export class _GroupNormSiluGradProgram extends _PerGroupProgram {
  variableNames = ["X", "DY", "GAMMA", "BETA", "MEAN", "RSTD"];
  shaderKey = "ddpm_group_norm_silu_grad";
  uniforms = "hw : i32, c : i32, cg : i32, groups : i32,";

  getUserCode(): string {
    return `
      var<workgroup> sumD : array<f32, ${_WG}>;
      var<workgroup> sumDX : array<f32, ${_WG}>;
      ${_GROUP_ELEM_WGSL}
      // dx̂ at element i of channel ch, given x̂
      fn dxhat(i : i32, ch : i32, xh : f32) -> f32 {
        let s = GAMMA[ch] * xh + BETA[ch];
        let sg = 1.0 / (1.0 + exp(-s));
        return DY[i] * sg * (1.0 + s * (1.0 - sg)) * GAMMA[ch];
      }
      fn main(index : i32) {
        let wg = index / ${_WG};
        let lane = index % ${_WG};
        let b = wg / uniforms.groups;
        let g = wg % uniforms.groups;
        let n = uniforms.hw * uniforms.cg;
        let mean = MEAN[wg];
        let r = RSTD[wg];
        var a = 0.0;
        var q = 0.0;
        for (var k = lane; k < n; k = k + ${_WG}) {
          let i = elem(b, g, k);
          let xh = (X[i] - mean) * r;
          let d = dxhat(i, g * uniforms.cg + k % uniforms.cg, xh);
          a = a + d;
          q = q + d * xh;
        }
        sumD[lane] = a;
        sumDX[lane] = q;
        workgroupBarrier();
        ${_treeReduceWgsl(["sumD", "sumDX"])}
        let md = sumD[0] / f32(n);
        let mdx = sumDX[0] / f32(n);
        for (var k = lane; k < n; k = k + ${_WG}) {
          let i = elem(b, g, k);
          let xh = (X[i] - mean) * r;
          let d = dxhat(i, g * uniforms.cg + k % uniforms.cg, xh);
          setOutputAtIndex(i, r * (d - md - xh * mdx));
        }
      }`;
  }
}
