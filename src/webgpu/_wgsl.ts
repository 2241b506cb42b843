// Internal: what the WGSL programs share: the GroupNorm ones' WGSL snippets and dispatch (one
// workgroup of _WG threads per example and group, or per channel), and the elementwise ones'
// (one thread per output element).

/** Threads per workgroup of the GroupNorm programs. */
export const _WG = 64;

/**
 * `fn elem(b, g, k)`: the flat index of the k-th element of group g of example b in x [B, H, W, C]
 * (pixel k / cg, channel g·cg + k % cg), given uniforms hw, c and cg.
 */
export const _GROUP_ELEM_WGSL = `
      fn elem(b : i32, g : i32, k : i32) -> i32 {
        return (b * uniforms.hw + k / uniforms.cg) * uniforms.c + g * uniforms.cg + k % uniforms.cg;
      }`;

/** Tree sums of workgroup arrays of _WG partial sums into element 0 (`lane` is the thread). */
export function _treeReduceWgsl(buffers: string[]): string {
  const adds = buffers.map((b) => `${b}[lane] = ${b}[lane] + ${b}[lane + stride];`).join(" ");
  return `
      for (var stride = ${_WG / 2}; stride > 0; stride = stride / 2) {
        if (lane < stride) { ${adds} }
        workgroupBarrier();
      }`;
}

/**
 * The shape and dispatch of a program over x [B, H, W, C] with one workgroup of _WG threads per
 * (example, group); the program adds its variableNames, shaderKey, uniforms and getUserCode.
 */
export abstract class _PerGroupProgram {
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [_WG, 1, 1];

  /** x [B, H, W, C] in `groups` groups. */
  constructor(shape: [number, number, number, number], groups: number) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) }; // flat: main(index) gets the global index
    this.dispatch = [shape[0] * groups, 1, 1]; // one workgroup per (b, g)
  }
}

/**
 * The shape and dispatch of a program with one thread per output element (`main(index)` gets
 * the flat index; tfjs's `size` uniform bounds it); the program adds its variableNames,
 * shaderKey, uniforms and getUserCode.
 */
export abstract class _FlatProgram {
  outputShape: number[];
  size = true;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [128, 1, 1];

  /** The output's shape. */
  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const size = shape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }
}
