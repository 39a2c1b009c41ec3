/// <reference types="@webgpu/types" preserve="true" />
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
// Models: a graph of layers bound to an engine, compiled into training and inference plans;
// the same model on the CPU reference; verify() compares the two layer by layer.
export { Graph, Sequential, type NodeRef } from './nn/graph.js';
export {
  Layer, Conv2d, Linear, Dense, MaxPool2d, AvgPool2d, GlobalAvgPool, ReLU, LeakyReLU, Sigmoid, Tanh, Flatten, Dropout, Add, Concat, BatchNorm2d,
  type Init, type Conv2dOptions as Conv2dLayerOptions,
} from './nn/layers.js';
export { Model, TrainPlan, InferPlan, accuracy, type ModelOptions, type NamedTensor, type ProfileEntry, type StepResult } from './nn/model.js';
export type { OptimizerSpec, Schedule } from './nn/optim.js';
export { CpuModel } from './nn/cpu-model.js';
export { verify, formatVerify, VerifyError, type VerifyReport, type VerifyRow } from './nn/verify.js';
export { lenet, mlp, deepcnn, alexnet, googlenet, MODELS, CLASSICS, type ClassicOptions } from './nn/models.js';
// A graph's layer table and where its weights and FLOPs sit (no device needed).
export { layerTable, weightSplit, type WeightSplit } from './nn/summary.js';
export { trainEpochs, evaluate, type TrainOptions, type TrainResult, type EvalOptions, type EvalResult } from './nn/train.js';
export { encodeModel, decodeCheckpoint, decodeInto, restore, CheckpointError, type CheckpointContents, type CheckpointMeta } from './nn/checkpoint.js';
// Data and files, browser-safe (the Node MNIST loader, src/data/mnist-node.ts, is not in the bundle).
export { mnistFromBytes, type Dataset } from './data/mnist.js';
export { batches, shuffledIndices, shiftImages, type Batch } from './data/batches.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
