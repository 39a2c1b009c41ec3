// Workgroup sizes per kernel family, chosen per adapter. CPU emulators (SwiftShader,
// lavapipe) run one invocation at a time per thread and gain nothing from large
// workgroups; GPUs want 64–256 invocations to hide latency. The values feed WGSL
// `override` constants. The CPU defaults won on both SwiftShader and lavapipe in
// ops/autotune.ts's timings; Engine.create({ autotune: true }) tunes for the adapter at hand.

export interface Tuning {
  /** GEMM variant: register tiles only (CPU emulators), or workgroup-memory staging (GPUs). */
  gemm: 'registers' | 'shared';
  /** K step of the workgroup-memory GEMM. */
  gemmTileK: number;
  /** Rows per invocation of the register-tiled GEMM: 4, or 8 where the compiler keeps 8 vec4 accumulators in registers. */
  gemmRows: 4 | 8;
  /** Output pixels per invocation of the conv2d forward (and input-gradient) kernel: 4 or 8. */
  convPixels: 4 | 8;
  /** gemm / conv2d register-tiled kernels: workgroup of x × y invocations. */
  tiled: { WG_X: number; WG_Y: number };
  /** conv2d kernels use pixels along x and channels along y. */
  conv: { WG_X: number; WG_Y: number };
  /** One-invocation-per-element kernels. */
  pointwise: number;
  /** Workgroup-reduction kernels (power of two). */
  reduce: number;
}

/**
 * swiftshader: 8 GEMM rows or conv pixels per invocation measured 1.3–1.6× faster than 4;
 * lavapipe: level or slower.
 */
export function defaultTuning(isCpuAdapter: boolean, architecture = ''): Tuning {
  const rows = /swiftshader/i.test(architecture) ? 8 : 4;
  return isCpuAdapter
    ? { gemm: 'registers', gemmTileK: 16, gemmRows: rows, convPixels: rows, tiled: { WG_X: 16, WG_Y: 4 }, conv: { WG_X: 32, WG_Y: 2 }, pointwise: 64, reduce: 64 }
    : { gemm: 'shared', gemmTileK: 16, gemmRows: 4, convPixels: 4, tiled: { WG_X: 16, WG_Y: 16 }, conv: { WG_X: 32, WG_Y: 4 }, pointwise: 256, reduce: 256 };
}
