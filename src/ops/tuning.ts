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
  /** gemm / conv2d register-tiled kernels: workgroup of x × y invocations. */
  tiled: { WG_X: number; WG_Y: number };
  /** conv2d kernels use pixels along x and channels along y. */
  conv: { WG_X: number; WG_Y: number };
  /** One-invocation-per-element kernels. */
  pointwise: number;
  /** Workgroup-reduction kernels (power of two). */
  reduce: number;
}

export function defaultTuning(isCpuAdapter: boolean): Tuning {
  return isCpuAdapter
    ? { gemm: 'registers', gemmTileK: 16, tiled: { WG_X: 16, WG_Y: 4 }, conv: { WG_X: 32, WG_Y: 2 }, pointwise: 64, reduce: 64 }
    : { gemm: 'shared', gemmTileK: 16, tiled: { WG_X: 16, WG_Y: 16 }, conv: { WG_X: 32, WG_Y: 4 }, pointwise: 256, reduce: 256 };
}
