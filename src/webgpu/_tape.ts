// Internal: whether tfjs is recording operations for a gradient, which the fused programs without
// a gradient of their own must not run under.
import * as tf from "@tensorflow/tfjs-core";

/** True inside tf.grad / tf.variableGrads (tfjs's engine state has gradientDepth > 0). */
export function _recordingGradient(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}
