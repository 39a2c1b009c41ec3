// CPU reference: float64 plain-loop implementations of every op, the ground truth for the GPU kernels.
export { host, hostZeros, type HostTensor } from './tensor.js';
export { matmul, matmulBackward } from './gemm.js';
export { conv2d, conv2dBackwardInput, conv2dBackwardFilter, conv2dBackwardBias } from './conv2d.js';
export { maxPool2d, maxPool2dBackward } from './maxpool2d.js';
export { avgPool2d, avgPool2dBackward } from './avgpool2d.js';
export { globalAvgPool, globalAvgPoolBackward } from './globalavgpool.js';
export {
  relu,
  reluBackward,
  leakyRelu,
  leakyReluBackward,
  sigmoid,
  sigmoidBackward,
  tanh,
  tanhBackward,
} from './activation.js';
export { softmaxCrossEntropy, softmaxCrossEntropyBackward } from './softmax_xent.js';
export { add, mul, scale, mulBackward } from './elementwise.js';
export { sum, sumBackward } from './sum.js';
export { sgdStep, type SgdOptions } from './sgd.js';
export { adamStep, type AdamOptions } from './adam.js';
export { batchNorm2d, batchNorm2dBackward, type BatchNorm2dOptions } from './batchnorm2d.js';
