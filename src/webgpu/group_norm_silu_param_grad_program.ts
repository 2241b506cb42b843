// Internal: one WGSL program for dL/dγ and dL/dβ of y = SiLU(γ x̂ + β) (see
// group_norm_silu_grad_program.ts for the notation), for tfjs-backend-webgpu:
//   dγ_c = Σ_{b,h,w} ds · x̂,   dβ_c = Σ_{b,h,w} ds
// One workgroup of 64 threads per channel, a reduction in workgroup memory; the output is
// [2, C]: row 0 dγ, row 1 dβ.
import { _treeReduceWgsl, _WG } from "./_wgsl.ts";

/** The program object tfjs-backend-webgpu's runWebGPUProgram expects. */
export class _GroupNormSiluParamGradProgram {
  variableNames = ["X", "DY", "GAMMA", "BETA", "MEAN", "RSTD"];
  outputShape: number[];
  shaderKey = "ddpm_group_norm_silu_param_grad";
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [_WG, 1, 1];
  uniforms = "positions : i32, hw : i32, c : i32, cg : i32, groups : i32,";

  /** C channels. */
  constructor(channels: number) {
    this.outputShape = [2, channels];
    this.dispatchLayout = { x: [0, 1] }; // flat: main(index) gets the global index
    this.dispatch = [channels, 1, 1]; // one workgroup per channel
  }

  getUserCode(): string {
    return `
      var<workgroup> sumG : array<f32, ${_WG}>;
      var<workgroup> sumB : array<f32, ${_WG}>;
      fn main(index : i32) {
        let ch = index / ${_WG};
        let lane = index % ${_WG};
        let g = ch / uniforms.cg;
        var a = 0.0;
        var q = 0.0;
        // positions p = b · hw + pixel, over the whole batch
        for (var p = lane; p < uniforms.positions; p = p + ${_WG}) {
          let stat = (p / uniforms.hw) * uniforms.groups + g;
          let i = p * uniforms.c + ch;
          let xh = (X[i] - MEAN[stat]) * RSTD[stat];
          let s = GAMMA[ch] * xh + BETA[ch];
          let sg = 1.0 / (1.0 + exp(-s));
          let ds = DY[i] * sg * (1.0 + s * (1.0 - sg));
          a = a + ds * xh;
          q = q + ds;
        }
        sumG[lane] = a;
        sumB[lane] = q;
        workgroupBarrier();
        ${_treeReduceWgsl(["sumG", "sumB"])}
        if (lane == 0) {
          setOutputAtIndex(ch, sumG[0]);
          setOutputAtIndex(uniforms.c + ch, sumB[0]);
        }
      }`;
  }
}
