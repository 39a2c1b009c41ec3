// convgpu: a CNN engine whose math runs in WGSL compute shaders on WebGPU,
// with an independent CPU reference. Layouts: NCHW activations, OIHW conv weights,
// [out, in] dense weights.
export { Engine, Params, type Binding, type Dispatch, type EngineOptions, type Kernel } from './runtime/engine.js';
export { Tensor } from './runtime/tensor.js';
export { BufferPool, sizeClass, type PoolStats } from './runtime/buffer-pool.js';
export { PipelineCache, type Constants } from './runtime/pipeline-cache.js';
export { acquireDevice, describeAdapter, SWIFTSHADER_ICDS, type AdapterSummary, type AcquireOptions } from './runtime/device.js';
export { WebGpuBackend, CpuBackend, CpuTensor, compare, type Backend, type AnyTensor } from './backend.js';
export * from './errors.js';
export * from './ops/geometry.js';
export type { Tuning } from './ops/tuning.js';
export type { SgdOptions } from './ops/sgd.js';
export type { AdamOptions } from './ops/adam.js';
export type { MatmulOptions } from './ops/gemm.js';
export type { Conv2dOptions } from './ops/conv2d.js';
export * as reference from './reference/index.js';
