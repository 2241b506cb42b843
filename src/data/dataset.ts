/** Images in memory, as the trainer reads them. */
export interface Dataset {
  /** The pixels, float32 [N, H, W, C] row-major, scaled to [-1, 1]. */
  images: Float32Array;
  /** [N, H, W, C]. */
  shape: [number, number, number, number];
  /** A class label per image, when known (MNIST digits): integers in [0, classNames.length). */
  labels?: Int32Array;
  /** The name of each class, indexed by label (e.g. "0" … "9", or the folder names). */
  classNames?: string[];
  /** Where the images came from, for logs. */
  source: string;
}
