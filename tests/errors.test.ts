// Hostile inputs to the public op API. Each row expects one error class, and a message that
// names the op, prints the shapes involved and says what to do. After every failure the
// engine's live memory must be exactly what it was: a failed op leaks nothing, and (except
// where a dispatch limit is only known once the op runs) it allocates nothing either.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, WebGpuBackend, compare } from '../src/backend.js';
import {
  AttributeError,
  DeviceError,
  DeviceLimitError,
  DisposedError,
  NonFiniteError,
  ShapeError,
  fmtShape,
} from '../src/errors.js';
import { conv2dGeom, type Conv2dAttrs } from '../src/ops/geometry.js';
import { BufferPool, sizeClass } from '../src/runtime/buffer-pool.js';
import { Engine, type Dispatch, type EngineOptions } from '../src/runtime/engine.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { sizeOf } from '../src/shape.js';
import { gpuBackend } from './helpers/gpu.js';
import { withLimits } from './helpers/limits.js';
import { conv2dScratch } from '../src/ops/conv2d.js';
import { defaultTuning } from '../src/ops/tuning.js';
import { rng } from './helpers/rng.js';

type ErrorClass = new (message?: string) => Error;
type Shapes = number[][];

interface ErrCase {
  name: string;
  error: ErrorClass;
  /** The op the message must start with, as `op: …`. */
  op: string;
  /** Shapes the message must print (as `[2, 3, 8, 8]`); a function where they depend on the device. */
  shapes: Shapes | ((e: Engine) => Shapes);
  /** The words that say what to do. */
  fix: string;
  /** Anything else the message must hold (a flat index, an attribute's name). */
  also?: string[];
  /** The op allocates its output before the run finds the dispatch too large (then disposes it). */
  allocates?: boolean;
  /** Makes the inputs and returns the call that must fail. */
  arrange(gpu: WebGpuBackend, t: (shape: number[]) => Tensor): () => unknown;
}

/** A small kernel that does nothing, for hand-made dispatches. */
const noop = { name: 'errors.noop', code: '@compute @workgroup_size(1) fn main() {}' };

const maxGroups = (e: Engine): number => e.limits.maxComputeWorkgroupsPerDimension;
const maxElems = (e: Engine): number => Math.floor(Math.min(e.limits.maxStorageBufferBindingSize, e.limits.maxBufferSize) / 4);

/** Rows of an A whose GEMM y-dispatch passes the per-dimension limit on any tiling (at most 128 rows per workgroup). */
const tallRows = (e: Engine): number => maxGroups(e) * 128 + 1;

/** Binary ops and backward passes whose two operands must agree. */
const activationBackwards = (['relu', 'leakyRelu', 'sigmoid', 'tanh'] as const).map(
  (kind): ErrCase => ({
    name: `${kind}Backward: x [2, 3] vs dy [3, 2]`,
    error: ShapeError,
    op: `${kind}Backward`,
    shapes: [[2, 3], [3, 2]],
    fix: 'must have the same shape',
    arrange: (gpu, t) => {
      const x = t([2, 3]);
      const dy = t([3, 2]);
      switch (kind) {
        case 'relu':
          return () => gpu.reluBackward(x, dy);
        case 'leakyRelu':
          return () => gpu.leakyReluBackward(x, dy, 0.1);
        case 'sigmoid':
          return () => gpu.sigmoidBackward(x, dy);
        case 'tanh':
          return () => gpu.tanhBackward(x, dy);
      }
    },
  }),
);

const badSizes: Array<[string, number[]]> = [
  ['zero', [2, 0]],
  ['negative', [2, -3]],
  ['fractional', [2, 1.5]],
  ['NaN', [Number.NaN, 2]],
  ['Infinity', [Number.POSITIVE_INFINITY, 1]],
  ['rank 0', []],
];

const cases: ErrCase[] = [
  // ---- tensor(): bad sizes, wrong length, non-finite data, too large -------------------------
  ...badSizes.map(
    ([what, shape]): ErrCase => ({
      name: `tensor() with a ${what} size ${fmtShape(shape)}`,
      error: ShapeError,
      op: 'tensor',
      shapes: [shape],
      fix: 'every dimension must be a positive integer',
      arrange: (gpu) => () => gpu.tensor([1, 2, 3], shape),
    }),
  ),
  {
    name: 'tensor() with a shape that is not an array',
    error: ShapeError,
    op: 'tensor',
    shapes: [],
    fix: 'every dimension must be a positive integer',
    also: ['shape 4 is invalid'],
    // @ts-expect-error a hostile caller passes a number for the shape
    arrange: (gpu) => () => gpu.tensor([1, 2, 3, 4], 4),
  },
  {
    name: 'tensor() with 5 values for [2, 3]',
    error: ShapeError,
    op: 'tensor',
    shapes: [[2, 3]],
    fix: 'pass exactly 6 values',
    arrange: (gpu) => () => gpu.tensor([1, 2, 3, 4, 5], [2, 3]),
  },
  ...badSizes.slice(0, 4).map(
    ([what, shape]): ErrCase => ({
      name: `zeros() with a ${what} size ${fmtShape(shape)}`,
      error: ShapeError,
      op: 'zeros',
      shapes: [shape],
      fix: 'every dimension must be a positive integer',
      arrange: (gpu) => () => gpu.zeros(shape),
    }),
  ),
  ...([
    ['NaN', Number.NaN, 4],
    ['Infinity', Number.POSITIVE_INFINITY, 0],
    ['-Infinity', Number.NEGATIVE_INFINITY, 5],
    ['1e39 (overflows f32)', 1e39, 2],
  ] as const).map(
    ([what, v, at]): ErrCase => ({
      name: `tensor() with ${what} at flat index ${at}`,
      error: NonFiniteError,
      op: 'tensor',
      shapes: [[2, 3]],
      fix: 'allowNonFinite',
      also: [`flat index ${at}`],
      arrange: (gpu) => {
        const data = [0.5, -1, 2, 3, 4, 5];
        data[at] = v;
        return () => gpu.tensor(data, [2, 3]);
      },
    }),
  ),
  {
    name: 'read() into an array of the wrong length',
    error: ShapeError,
    op: 'read',
    shapes: [[2, 3]],
    fix: 'pass one of exactly that length',
    also: ['holds 5 values'],
    arrange: (_gpu, t) => {
      const x = t([2, 3]);
      return () => x.read(new Float32Array(5));
    },
  },
  {
    name: 'engine.write() with NaN at flat index 4 (tensor() refuses it; write() did not)',
    error: NonFiniteError,
    op: 'write',
    shapes: [[2, 3]],
    fix: 'allowNonFinite',
    also: ['flat index 4'],
    arrange: (gpu, t) => {
      const x = t([2, 3]);
      return () => gpu.engine.write(x, Float32Array.of(0, 1, 2, 3, NaN, 5));
    },
  },
  {
    name: 'empty() over maxStorageBufferBindingSize',
    error: DeviceLimitError,
    op: 'tensor',
    shapes: (e) => [[maxElems(e) + 16]],
    fix: 'use a smaller batch or split the tensor',
    arrange: (gpu) => () => gpu.engine.empty([maxElems(gpu.engine) + 16]),
  },
  {
    name: 'zeros() of a 4-D tensor over the limit',
    error: DeviceLimitError,
    op: 'zeros',
    shapes: (e) => [[Math.ceil(maxElems(e) / (64 * 64 * 16)) + 1, 16, 64, 64]],
    fix: 'use a smaller batch',
    arrange: (gpu) => () => gpu.zeros([Math.ceil(maxElems(gpu.engine) / (64 * 64 * 16)) + 1, 16, 64, 64]),
  },

  // ---- matmul --------------------------------------------------------------------------------
  {
    name: 'matmul: inner dimensions 3 vs 4',
    error: ShapeError,
    op: 'matmul',
    shapes: [[2, 3], [4, 5]],
    fix: 'make the K dimensions equal',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([4, 5]);
      return () => gpu.matmul(a, b);
    },
  },
  {
    name: 'matmul: inner dimensions differ once b is transposed',
    error: ShapeError,
    op: 'matmul',
    shapes: [[2, 3], [3, 5]],
    fix: 'transB',
    also: ['K=5'],
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([3, 5]);
      return () => gpu.matmul(a, b, { transB: true });
    },
  },
  {
    name: 'matmul: batch sizes 2 vs 3',
    error: ShapeError,
    op: 'matmul',
    shapes: [[2, 3, 4], [3, 4, 5]],
    fix: 'give b the batch of a',
    arrange: (gpu, t) => {
      const a = t([2, 3, 4]);
      const b = t([3, 4, 5]);
      return () => gpu.matmul(a, b);
    },
  },
  {
    name: 'matmul: batched b with an unbatched a',
    error: ShapeError,
    op: 'matmul',
    shapes: [[3, 4], [2, 4, 5]],
    fix: 'batch a too',
    arrange: (gpu, t) => {
      const a = t([3, 4]);
      const b = t([2, 4, 5]);
      return () => gpu.matmul(a, b);
    },
  },
  {
    name: 'matmul: rank-1 a',
    error: ShapeError,
    op: 'matmul',
    shapes: [[3]],
    fix: 'must be rank 2',
    arrange: (gpu, t) => {
      const a = t([3]);
      const b = t([3, 2]);
      return () => gpu.matmul(a, b);
    },
  },
  {
    name: 'matmul: bias length 4 for 5 output columns',
    error: ShapeError,
    op: 'matmul',
    shapes: [[4], [5], [2, 3], [3, 5]],
    fix: 'one bias value per output column',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([3, 5]);
      const bias = t([4]);
      return () => gpu.matmul(a, b, { bias });
    },
  },
  {
    name: 'matmulBackward: dy [2, 4] for output [2, 5]',
    error: ShapeError,
    op: 'matmulBackward',
    shapes: [[2, 4], [2, 5]],
    fix: "pass the gradient of matmul's output",
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([3, 5]);
      const dy = t([2, 4]);
      return () => gpu.matmulBackward(a, b, dy);
    },
  },

  // ---- conv2d: shapes --------------------------------------------------------------------------
  {
    name: 'conv2d: weight has 2 input channels, x has 3',
    error: ShapeError,
    op: 'conv2d',
    shapes: [[2, 3, 8, 8], [4, 2, 3, 3]],
    fix: 'I = C / groups',
    arrange: (gpu, t) => {
      const x = t([2, 3, 8, 8]);
      const w = t([4, 2, 3, 3]);
      return () => gpu.conv2d(x, w);
    },
  },
  {
    name: 'conv2d: rank-3 x',
    error: ShapeError,
    op: 'conv2d',
    shapes: [[3, 8, 8]],
    fix: 'must be rank 4 (NCHW)',
    arrange: (gpu, t) => {
      const x = t([3, 8, 8]);
      const w = t([4, 3, 3, 3]);
      return () => gpu.conv2d(x, w);
    },
  },
  {
    name: 'conv2d: bias [3] for 4 output channels',
    error: ShapeError,
    op: 'conv2d',
    shapes: [[3], [4]],
    fix: 'pass a bias of shape [4]',
    arrange: (gpu, t) => {
      const x = t([1, 3, 8, 8]);
      const w = t([4, 3, 3, 3]);
      const bias = t([3]);
      return () => gpu.conv2d(x, w, { bias });
    },
  },
  {
    name: 'conv2d: 5×5 kernel on a 4×4 input',
    error: ShapeError,
    op: 'conv2d',
    shapes: [[1, 1, 4, 4], [1, 1, 5, 5]],
    fix: 'use a smaller kernel, more padding, or a larger input',
    arrange: (gpu, t) => {
      const x = t([1, 1, 4, 4]);
      const w = t([1, 1, 5, 5]);
      return () => gpu.conv2d(x, w);
    },
  },
  {
    name: 'conv2d: 3×3 kernel dilated by 3 (7×7) on a 5×5 input padded by 0',
    error: ShapeError,
    op: 'conv2d',
    shapes: [[1, 2, 5, 5], [2, 2, 3, 3]],
    fix: 'use a smaller kernel',
    also: ['dilated 7×7'],
    arrange: (gpu, t) => {
      const x = t([1, 2, 5, 5]);
      const w = t([2, 2, 3, 3]);
      return () => gpu.conv2d(x, w, { dilation: 3 });
    },
  },
  {
    name: 'conv2dBackwardInput: dy [2, 4, 8, 8] for output [2, 4, 6, 6]',
    error: ShapeError,
    op: 'conv2dBackwardInput',
    shapes: [[2, 4, 8, 8], [2, 4, 6, 6]],
    fix: 'pass a dy of shape [2, 4, 6, 6]',
    arrange: (gpu, t) => {
      const dy = t([2, 4, 8, 8]);
      const w = t([4, 3, 3, 3]);
      return () => gpu.conv2dBackwardInput(dy, w, [2, 3, 8, 8]);
    },
  },
  {
    name: 'conv2dBackwardInput: xShape with 5 channels for a 3-channel weight',
    error: ShapeError,
    op: 'conv2dBackwardInput',
    shapes: [[2, 5, 8, 8], [4, 3, 3, 3]],
    fix: 'I = C / groups',
    arrange: (gpu, t) => {
      const dy = t([2, 4, 6, 6]);
      const w = t([4, 3, 3, 3]);
      return () => gpu.conv2dBackwardInput(dy, w, [2, 5, 8, 8]);
    },
  },
  {
    name: 'conv2dBackwardFilter: dy with 5 channels for a 4-filter weight',
    error: ShapeError,
    op: 'conv2dBackwardFilter',
    shapes: [[2, 5, 6, 6], [2, 4, 6, 6]],
    fix: 'pass a dy of shape [2, 4, 6, 6]',
    arrange: (gpu, t) => {
      const x = t([2, 3, 8, 8]);
      const dy = t([2, 5, 6, 6]);
      return () => gpu.conv2dBackwardFilter(x, dy, [4, 3, 3, 3]);
    },
  },
  {
    name: 'conv2dBackwardBias: rank-2 dy',
    error: ShapeError,
    op: 'conv2dBackwardBias',
    shapes: [[4, 3]],
    fix: 'must be rank 4 (NCHW)',
    arrange: (gpu, t) => {
      const dy = t([4, 3]);
      return () => gpu.conv2dBackwardBias(dy);
    },
  },

  // ---- conv2d: attributes ------------------------------------------------------------------------
  ...(
    [
      ['stride 0', { stride: 0 }, 'stride', 'positive integer'],
      ['stride 1.5', { stride: 1.5 }, 'stride', 'positive integer'],
      ['stride [1, 0]', { stride: [1, 0] }, 'stride[1]', 'positive integer'],
      ['padding -1', { padding: -1 }, 'padding', 'non-negative integer'],
      ['padding [1, 0.5]', { padding: [1, 0.5] }, 'padding[1]', 'non-negative integer'],
      ["padding 'full'", { padding: 'full' }, 'padding', "'same' or 'valid'"],
      ['dilation NaN', { dilation: Number.NaN }, 'dilation', 'positive integer'],
      ['groups 0', { groups: 0 }, 'groups', 'positive integer'],
      ['groups 1.5', { groups: 1.5 }, 'groups', 'positive integer'],
      ['groups 2 on 3 channels', { groups: 2 }, 'groups=2', 'use a groups that divides both'],
    ] satisfies Array<[string, Record<string, unknown>, string, string]>
  ).map(
    ([label, attrs, names, fix]): ErrCase => ({
      name: `conv2d: ${label}`,
      error: AttributeError,
      op: 'conv2d',
      shapes: [[1, 3, 8, 8], [4, 3, 3, 3]],
      fix,
      also: [names],
      arrange: (gpu, t) => {
        const x = t([1, 3, 8, 8]);
        const w = t([4, 3, 3, 3]);
        // Some rows (padding 'full') are not even well typed: a hostile caller from plain JS.
        return () => gpu.conv2d(x, w, attrs as Conv2dAttrs);
      },
    }),
  ),
  {
    name: 'conv2dBackwardFilter: stride 0',
    error: AttributeError,
    op: 'conv2dBackwardFilter',
    shapes: [[2, 3, 8, 8], [4, 3, 3, 3]],
    fix: 'positive integer',
    arrange: (gpu, t) => {
      const x = t([2, 3, 8, 8]);
      const dy = t([2, 4, 6, 6]);
      return () => gpu.conv2dBackwardFilter(x, dy, [4, 3, 3, 3], { stride: 0 });
    },
  },

  // ---- dispatch limits ---------------------------------------------------------------------------
  {
    // x (a conv's pixels, a GEMM's columns) folds onto z past the limit (ops.test.ts); y does not.
    name: 'matmul: more rows than the y dispatch holds',
    error: DeviceLimitError,
    op: 'matmul',
    shapes: (e) => [[tallRows(e), 1]],
    fix: 'fewer rows',
    allocates: true,
    arrange: (gpu) => {
      const a = gpu.engine.empty([tallRows(gpu.engine), 1]);
      const b = gpu.tensor([1], [1, 1]);
      return () => gpu.matmul(a, b);
    },
  },
  {
    name: 'conv2d: more groups than workgroups per dispatch dimension (z)',
    error: DeviceLimitError,
    op: 'conv2d',
    shapes: (e) => [[1, maxGroups(e) + 1, 1, 1]],
    fix: 'split the work into smaller pieces',
    allocates: true,
    arrange: (gpu, t) => {
      const g = maxGroups(gpu.engine) + 1;
      const x = t([1, g, 1, 1]);
      const w = t([g, 1, 1, 1]);
      return () => gpu.conv2d(x, w, { groups: g });
    },
  },
  {
    name: 'matmul: a batch larger than workgroups per dispatch dimension',
    error: DeviceLimitError,
    op: 'matmul',
    shapes: (e) => [[maxGroups(e) + 1, 1, 1]],
    fix: 'smaller batch',
    allocates: true,
    arrange: (gpu, t) => {
      const a = t([maxGroups(gpu.engine) + 1, 1, 1]);
      const b = t([maxGroups(gpu.engine) + 1, 1, 1]);
      return () => gpu.matmul(a, b);
    },
  },
  ...([0, 1, 2] as const).map(
    (axis): ErrCase => ({
      name: `engine.run: a hand-made dispatch over the limit on axis ${'xyz'[axis]}`,
      error: DeviceLimitError,
      op: noop.name,
      shapes: [],
      fix: 'split the work into smaller pieces',
      arrange: (gpu) => {
        const wg: [number, number, number] = [1, 1, 1];
        wg[axis] = maxGroups(gpu.engine) + 1;
        const d: Dispatch = { kernel: noop, buffers: [], workgroups: wg };
        return () => gpu.engine.run(d);
      },
    }),
  ),

  // ---- pooling -----------------------------------------------------------------------------------
  {
    name: 'maxPool2d: kernelSize missing',
    error: AttributeError,
    op: 'maxPool2d',
    shapes: [[1, 2, 8, 8]],
    fix: 'kernelSize is required, e.g. { kernelSize: 2 }',
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      // @ts-expect-error a hostile caller leaves out the required kernelSize
      return () => gpu.maxPool2d(x, { stride: 2 });
    },
  },
  {
    name: 'avgPool2d: no attrs at all',
    error: AttributeError,
    op: 'avgPool2d',
    shapes: [[1, 2, 8, 8]],
    fix: 'kernelSize is required',
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      // @ts-expect-error a hostile caller passes no attrs
      return () => gpu.avgPool2d(x);
    },
  },
  {
    name: 'maxPool2d: 5×5 window on a 4×4 input',
    error: ShapeError,
    op: 'maxPool2d',
    shapes: [[1, 1, 4, 4]],
    fix: 'use a smaller kernel, more padding, or a larger input',
    arrange: (gpu, t) => {
      const x = t([1, 1, 4, 4]);
      return () => gpu.maxPool2d(x, { kernelSize: 5 });
    },
  },
  {
    name: 'maxPool2d: stride 0',
    error: AttributeError,
    op: 'maxPool2d',
    shapes: [[1, 2, 8, 8]],
    fix: 'positive integer',
    also: ['stride'],
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      return () => gpu.maxPool2d(x, { kernelSize: 2, stride: 0 });
    },
  },
  {
    name: 'avgPool2d: kernelSize [2, 0]',
    error: AttributeError,
    op: 'avgPool2d',
    shapes: [[1, 2, 8, 8]],
    fix: 'positive integer',
    also: ['kernelSize[1]'],
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      return () => gpu.avgPool2d(x, { kernelSize: [2, 0] });
    },
  },
  {
    name: 'avgPool2d: padding 2 with a 2×2 window',
    error: AttributeError,
    op: 'avgPool2d',
    shapes: [[1, 2, 8, 8]],
    fix: 'use less padding or a larger window',
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      return () => gpu.avgPool2d(x, { kernelSize: 2, padding: 2 });
    },
  },
  {
    name: 'maxPool2dBackward: dy [1, 2, 8, 8] for output [1, 2, 4, 4]',
    error: ShapeError,
    op: 'maxPool2dBackward',
    shapes: [[1, 2, 8, 8], [1, 2, 4, 4]],
    fix: 'pass a dy of shape [1, 2, 4, 4]',
    arrange: (gpu, t) => {
      const x = t([1, 2, 8, 8]);
      const dy = t([1, 2, 8, 8]);
      return () => gpu.maxPool2dBackward(x, dy, { kernelSize: 2 });
    },
  },
  {
    name: 'avgPool2dBackward: dy [1, 2, 3, 3] for output [1, 2, 4, 4]',
    error: ShapeError,
    op: 'avgPool2dBackward',
    shapes: [[1, 2, 3, 3], [1, 2, 4, 4]],
    fix: 'pass a dy of shape [1, 2, 4, 4]',
    arrange: (gpu, t) => {
      const dy = t([1, 2, 3, 3]);
      return () => gpu.avgPool2dBackward(dy, [1, 2, 8, 8], { kernelSize: 2 });
    },
  },
  {
    name: 'globalAvgPool: rank-3 x',
    error: ShapeError,
    op: 'globalAvgPool',
    shapes: [[2, 3, 4]],
    fix: 'must be rank 4 (NCHW)',
    arrange: (gpu, t) => {
      const x = t([2, 3, 4]);
      return () => gpu.globalAvgPool(x);
    },
  },
  {
    name: 'globalAvgPoolBackward: dy [2, 4] for x [2, 3, 4, 5]',
    error: ShapeError,
    op: 'globalAvgPoolBackward',
    shapes: [[2, 4], [2, 3]],
    fix: 'pass a dy of shape [2, 3]',
    arrange: (gpu, t) => {
      const dy = t([2, 4]);
      return () => gpu.globalAvgPoolBackward(dy, [2, 3, 4, 5]);
    },
  },

  // ---- activations -------------------------------------------------------------------------------
  ...activationBackwards,
  {
    name: 'leakyRelu: alpha NaN',
    error: AttributeError,
    op: 'leakyRelu',
    shapes: [],
    fix: 'must be a finite number',
    also: ['alpha'],
    arrange: (gpu, t) => {
      const x = t([2, 3]);
      return () => gpu.leakyRelu(x, Number.NaN);
    },
  },

  // ---- elementwise and reductions ----------------------------------------------------------------
  {
    name: 'add: [2, 3] + [3, 2]',
    error: ShapeError,
    op: 'add',
    shapes: [[2, 3], [3, 2]],
    fix: 'must have the same shape',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([3, 2]);
      return () => gpu.add(a, b);
    },
  },
  {
    name: 'mul: [2, 3] · [6]',
    error: ShapeError,
    op: 'mul',
    shapes: [[2, 3], [6]],
    fix: 'must have the same shape',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([6]);
      return () => gpu.mul(a, b);
    },
  },
  {
    name: 'mulBackward: dy [3, 2] for a, b [2, 3]',
    error: ShapeError,
    op: 'mulBackward',
    shapes: [[2, 3], [3, 2]],
    fix: 'must have the same shape',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([2, 3]);
      const dy = t([3, 2]);
      return () => gpu.mulBackward(a, b, dy);
    },
  },
  {
    name: 'mulBackward: b [3, 2] for a, dy [2, 3]',
    error: ShapeError,
    op: 'mulBackward',
    shapes: [[3, 2], [2, 3]],
    fix: 'must have the same shape',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      const b = t([3, 2]);
      const dy = t([2, 3]);
      return () => gpu.mulBackward(a, b, dy);
    },
  },
  {
    name: 'scale: s = Infinity',
    error: AttributeError,
    op: 'scale',
    shapes: [],
    fix: 'must be a finite number',
    arrange: (gpu, t) => {
      const a = t([2, 3]);
      return () => gpu.scale(a, Number.POSITIVE_INFINITY);
    },
  },
  {
    name: 'sum: axis 2 of a rank-2 tensor',
    error: AttributeError,
    op: 'sum',
    shapes: [[2, 3]],
    fix: 'use an integer in [-2, 2)',
    arrange: (gpu, t) => {
      const x = t([2, 3]);
      return () => gpu.sum(x, 2);
    },
  },

  // ---- softmax cross-entropy -----------------------------------------------------------------------
  {
    name: 'softmaxCrossEntropy: 2 labels for 3 rows',
    error: ShapeError,
    op: 'softmaxCrossEntropy',
    shapes: [[2], [3, 4]],
    fix: 'must have one class index per row',
    arrange: (gpu, t) => {
      const logits = t([3, 4]);
      const labels = gpu.tensor([0, 1], [2]);
      return () => gpu.softmaxCrossEntropy(logits, labels);
    },
  },
  {
    name: 'softmaxCrossEntropyBackward: 4 labels for 3 rows',
    error: ShapeError,
    op: 'softmaxCrossEntropyBackward',
    shapes: [[4], [3, 4]],
    fix: 'must have one class index per row',
    arrange: (gpu, t) => {
      const logits = t([3, 4]);
      const labels = gpu.tensor([0, 1, 2, 3], [4]);
      return () => gpu.softmaxCrossEntropyBackward(logits, labels);
    },
  },
  {
    name: 'softmaxCrossEntropy: labels [3, 1] instead of [3]',
    error: ShapeError,
    op: 'softmaxCrossEntropy',
    shapes: [[3, 1]],
    fix: 'must be rank 1 ([N])',
    arrange: (gpu, t) => {
      const logits = t([3, 4]);
      const labels = gpu.tensor([0, 1, 2], [3, 1]);
      return () => gpu.softmaxCrossEntropy(logits, labels);
    },
  },
  {
    name: 'softmaxCrossEntropyBackward: dloss NaN',
    error: AttributeError,
    op: 'softmaxCrossEntropyBackward',
    shapes: [],
    fix: 'must be a finite number',
    also: ['dloss'],
    arrange: (gpu, t) => {
      const logits = t([3, 4]);
      const labels = gpu.tensor([0, 1, 2], [3]);
      return () => gpu.softmaxCrossEntropyBackward(logits, labels, Number.NaN);
    },
  },

  // ---- optimizers ----------------------------------------------------------------------------------
  ...(['grad', 'velocity'] as const).map(
    (bad): ErrCase => ({
      name: `sgdStep: ${bad} [13, 7] for param [7, 13]`,
      error: ShapeError,
      op: 'sgdStep',
      shapes: [[7, 13], [13, 7]],
      fix: 'must have the same shape',
      also: [bad],
      arrange: (gpu, t) => {
        const p = t([7, 13]);
        const g = t(bad === 'grad' ? [13, 7] : [7, 13]);
        const v = t(bad === 'velocity' ? [13, 7] : [7, 13]);
        return () => gpu.sgdStep(p, g, v, { lr: 0.1, momentum: 0.9 });
      },
    }),
  ),
  ...(['grad', 'm', 'v'] as const).map(
    (bad): ErrCase => ({
      name: `adamStep: ${bad} [91] for param [7, 13]`,
      error: ShapeError,
      op: 'adamStep',
      shapes: [[7, 13], [91]],
      fix: 'must have the same shape',
      also: [` ${bad} [91]`],
      arrange: (gpu, t) => {
        const shape = (n: string): number[] => (n === bad ? [91] : [7, 13]);
        const p = t([7, 13]);
        const [g, m, v] = (['grad', 'm', 'v'] as const).map((n) => t(shape(n)));
        return () => gpu.adamStep(p, g!, m!, v!, { lr: 0.01, step: 1 });
      },
    }),
  ),
  {
    name: 'sgdStep: lr NaN',
    error: AttributeError,
    op: 'sgdStep',
    shapes: [],
    fix: 'must be a finite number',
    also: ['lr'],
    arrange: (gpu, t) => {
      const [p, g, v] = [t([4]), t([4]), t([4])];
      return () => gpu.sgdStep(p, g, v, { lr: Number.NaN });
    },
  },
  {
    name: 'adamStep: step 0 (steps are 1-based)',
    error: AttributeError,
    op: 'adamStep',
    shapes: [],
    fix: '1-based',
    arrange: (gpu, t) => {
      const [p, g, m, v] = [t([4]), t([4]), t([4]), t([4])];
      return () => gpu.adamStep(p, g, m, v, { lr: 0.01, step: 0 });
    },
  },
  // The ranges PyTorch holds these to; the CPU reference already refused a beta of 1 or more, WebGPU did not.
  {
    name: 'adamStep: beta2 of 1',
    error: AttributeError,
    op: 'adamStep',
    shapes: [],
    fix: 'must be in [0, 1)',
    also: ['beta2'],
    arrange: (gpu, t) => {
      const [p, g, m, v] = [t([4]), t([4]), t([4]), t([4])];
      return () => gpu.adamStep(p, g, m, v, { lr: 0.01, step: 1, beta2: 1 });
    },
  },
  {
    name: 'sgdStep: a negative weight decay',
    error: AttributeError,
    op: 'sgdStep',
    shapes: [],
    fix: 'must be ≥ 0',
    also: ['weightDecay'],
    arrange: (gpu, t) => {
      const [p, g, v] = [t([4]), t([4]), t([4])];
      return () => gpu.sgdStep(p, g, v, { lr: 0.1, weightDecay: -1e-4 });
    },
  },
  // One tensor as two operands of an in-place step: WebGPU rejected the aliased binding and the step was skipped, silently.
  {
    name: 'sgdStep: the param passed as its own grad',
    error: ShapeError,
    op: 'sgdStep',
    shapes: [[4]],
    fix: 'pass a separate tensor for each',
    also: ['param and grad are the same tensor'],
    arrange: (gpu, t) => {
      const [p, v] = [t([4]), t([4])];
      return () => gpu.sgdStep(p, p, v, { lr: 0.1, momentum: 0.9 });
    },
  },
  {
    name: 'adamStep: one tensor as both m and v',
    error: ShapeError,
    op: 'adamStep',
    shapes: [[4]],
    fix: 'pass a separate tensor for each',
    also: ['m and v are the same tensor'],
    arrange: (gpu, t) => {
      const [p, g, m] = [t([4]), t([4]), t([4])];
      return () => gpu.adamStep(p, g, m, m, { lr: 0.01, step: 1 });
    },
  },

  // ---- use after dispose ---------------------------------------------------------------------------
  ...([
    ['conv2d, x', 'conv2d', [1, 3, 8, 8], (gpu: WebGpuBackend, x: Tensor, t: (s: number[]) => Tensor) => {
      const w = t([4, 3, 3, 3]);
      return () => gpu.conv2d(x, w);
    }],
    ['matmul, the bias', 'matmul', [5], (gpu: WebGpuBackend, bias: Tensor, t: (s: number[]) => Tensor) => {
      const a = t([2, 3]);
      const b = t([3, 5]);
      return () => gpu.matmul(a, b, { bias });
    }],
    ['relu', 'relu', [2, 3], (gpu: WebGpuBackend, x: Tensor) => () => gpu.relu(x)],
    ['add, b', 'add', [2, 3], (gpu: WebGpuBackend, b: Tensor, t: (s: number[]) => Tensor) => {
      const a = t([2, 3]);
      return () => gpu.add(a, b);
    }],
    ['mulBackward, a', 'mulBackward', [2, 3], (gpu: WebGpuBackend, a: Tensor, t: (s: number[]) => Tensor) => {
      const [b, dy] = [t([2, 3]), t([2, 3])];
      return () => gpu.mulBackward(a, b, dy);
    }],
    ['maxPool2dBackward, dy', 'maxPool2dBackward', [1, 1, 2, 2], (gpu: WebGpuBackend, dy: Tensor, t: (s: number[]) => Tensor) => {
      const x = t([1, 1, 4, 4]);
      return () => gpu.maxPool2dBackward(x, dy, { kernelSize: 2 });
    }],
    ['sgdStep, velocity', 'sgdStep', [4], (gpu: WebGpuBackend, v: Tensor, t: (s: number[]) => Tensor) => {
      const [p, g] = [t([4]), t([4])];
      return () => gpu.sgdStep(p, g, v, { lr: 0.1 });
    }],
    ['read()', 'read', [2, 3], (_gpu: WebGpuBackend, x: Tensor) => () => x.read()],
    ['engine.write()', 'write', [2, 3], (gpu: WebGpuBackend, x: Tensor) => () => gpu.engine.write(x, new Float32Array(6))],
  ] as const).map(
    ([label, op, shape, call]): ErrCase => ({
      name: `use after dispose: ${label}`,
      error: DisposedError,
      op,
      shapes: [[...shape]],
      fix: 'keep it alive',
      arrange: (gpu, t) => {
        const dead = t([...shape]);
        dead.dispose();
        return call(gpu, dead, t);
      },
    }),
  ),
];

/** Runs fn (sync or async) and returns what it threw; fails if it threw nothing. */
async function caught(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  return expect.fail('expected an error, but the call succeeded');
}

function expectMessage(err: Error, op: string, shapes: Shapes, fix: string, also: readonly string[] = []): void {
  const msg = err.message;
  expect(msg.startsWith(`${op}:`), `message should start with "${op}:" — ${msg}`).toBe(true);
  for (const s of shapes) expect(msg, 'the shapes involved').toContain(fmtShape(s));
  expect(msg, 'what to do').toContain(fix);
  for (const a of also) expect(msg).toContain(a);
}

describe('hostile inputs to the public op API', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
    const l = gpu.engine.limits;
    console.log(
      `adapter: ${gpu.engine.describe()}; maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, ` +
        `maxComputeWorkgroupsPerDimension ${l.maxComputeWorkgroupsPerDimension}`,
    );
  });
  afterAll(() => gpu?.engine.destroy());

  it('covers every error class', () => {
    const classes = new Set(cases.map((c) => c.error));
    for (const cls of [ShapeError, AttributeError, NonFiniteError, DeviceLimitError, DisposedError]) expect(classes).toContain(cls);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const e = gpu.engine;
    const atStart = e.memory();
    await e.scope(async () => {
      let seed = 1;
      const t = (shape: number[]): Tensor => {
        const u = rng(seed++);
        return gpu.tensor(Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1), shape);
      };
      const call = c.arrange(gpu, t);
      const before = e.memory();
      const err = await caught(call);
      expect(err.constructor, `${err.name}: ${err.message}`).toBe(c.error);
      expect(err.name).toBe(c.error.name);
      expectMessage(err, c.op, typeof c.shapes === 'function' ? c.shapes(e) : c.shapes, c.fix, c.also);
      const after = e.memory();
      // Nothing leaked by the failed op.
      expect(after.liveBytes).toBe(before.liveBytes);
      expect(after.liveBuffers).toBe(before.liveBuffers);
      // And, unless the dispatch was only refused at run time, nothing was even allocated.
      if (!c.allocates) expect(after.created).toBe(before.created);
    });
    expect(e.memory().liveBytes).toBe(atStart.liveBytes);
    expect(e.memory().liveBuffers).toBe(atStart.liveBuffers);
  });

  it('refuses a tensor over maxStorageBufferBindingSize before allocating anything', () => {
    const e = gpu.engine;
    const before = e.memory();
    const shape = [2 ** 28 + 16];
    // On a device whose limit is above 1 GiB, go just over it instead of allocating 1 GiB.
    const big = sizeOf(shape) <= maxElems(e) ? [maxElems(e) + 16] : shape;
    const err = (() => {
      try {
        e.empty(big);
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect((err as Error).message).toContain(fmtShape(big));
    expect(e.memory()).toEqual(before);
  });

  it('disposing twice throws DisposedError and frees nothing twice', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const t = gpu.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    t.dispose();
    const afterFirst = e.memory();
    expect(afterFirst.liveBytes).toBe(before.liveBytes);
    const err = await caught(() => t.dispose());
    expect(err).toBeInstanceOf(DisposedError);
    expect(err.message).toContain('[2, 3]');
    expect(err.message).toContain('disposed twice');
    expect(err.message).toContain('dispose each tensor once');
    expect(e.memory()).toEqual(afterFirst);
  });

  it('a tensor made inside a scope is disposed when the scope ends, and using it then throws DisposedError', async () => {
    const e = gpu.engine;
    const before = e.memory().liveBytes;
    let inner: Tensor | undefined;
    const kept = await e.scope(async () => {
      inner = gpu.tensor([1, -2, 3, -4], [2, 2]);
      return gpu.relu(inner);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(Array.from(await kept.read())).toEqual([1, 0, 3, 0]);
    const err = await caught(() => gpu.relu(inner!));
    expect(err).toBeInstanceOf(DisposedError);
    expectMessage(err, 'relu', [[2, 2]], 'keep it alive');
    kept.dispose();
    expect(e.memory().liveBytes).toBe(before);
  });

  it('a scope whose body throws disposes every tensor made inside it, and rethrows the error', async () => {
    const e = gpu.engine;
    const before = e.memory();
    let x: Tensor | undefined;
    const err = await caught(() =>
      e.scope(async () => {
        x = gpu.tensor([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]);
        const w = gpu.tensor([1, 1, 1, 1], [1, 1, 2, 2]);
        await gpu.relu(x);
        return gpu.conv2d(x, w, { stride: 0 });
      }),
    );
    expect(err).toBeInstanceOf(AttributeError);
    expectMessage(err, 'conv2d', [[1, 1, 2, 3]], 'positive integer');
    expect(x!.isDisposed).toBe(true);
    expect(e.memory().liveBytes).toBe(before.liveBytes);
    expect(e.memory().liveBuffers).toBe(before.liveBuffers);
  });

  it('read(into) fills and returns the array given, and makes no other', async () => {
    const x = gpu.tensor([1, -2, 3, -4, 5, -6], [2, 3]);
    const into = new Float32Array(6);
    expect(await x.read(into)).toBe(into);
    expect(Array.from(into)).toEqual([1, -2, 3, -4, 5, -6]);
    expect(await gpu.engine.read(x, into)).toBe(into);
    x.dispose();
  });

  // Scopes with async bodies, started without awaiting the one before (as event handlers do),
  // each with a nested scope; the sleeps make their awaits interleave.
  const overlapping = (g: WebGpuBackend): Promise<Tensor[]> => {
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const job = (k: number, ms: number): Promise<Tensor> =>
      g.engine.scope(async () => {
        const x = g.tensor(Float32Array.from({ length: 64 }, (_, i) => (i - 20) * k), [1, 1, 8, 8]);
        await sleep(ms);
        const y = await g.engine.scope(async () => g.relu(await g.add(x, x)));
        await sleep(ms);
        return g.maxPool2d(y, { kernelSize: 2 });
      });
    return Promise.all([job(1, 6), job(2, 1), job(3, 3)]);
  };

  it('in Node, scopes that overlap in time each free only their own tensors', async () => {
    const e = gpu.engine;
    expect(e.scopesFollowAsync).toBe(true);
    // Engines made at once all follow async chains (one load of AsyncLocalStorage serves them all).
    const both = await Promise.all([WebGpuBackend.create(), WebGpuBackend.create()]);
    expect(both.map((b) => b.engine.scopesFollowAsync)).toEqual([true, true]);
    for (const b of both) b.engine.destroy();
    const before = e.memory();
    const results = await overlapping(gpu);
    // Each job's output: the max of each 2×2 window of relu(2·(i − 20)·k) on an 8×8 grid.
    for (const [j, r] of results.entries()) {
      const k = j + 1;
      const want = Array.from({ length: 16 }, (_, w) => 2 * k * Math.max(0, 8 * (2 * Math.floor(w / 4) + 1) + 2 * (w % 4) + 1 - 20));
      expect(Array.from(await r.read()), `job ${k}`).toEqual(want);
    }
    for (const r of results) r.dispose();
    expect(e.memory().liveBytes).toBe(before.liveBytes);
    expect(e.memory().liveBuffers).toBe(before.liveBuffers);
  });

  it('where scopes are not told apart (browsers; followAsyncScopes: false) nested ones work, and a freed tensor says scopes must nest', async () => {
    const plain = await WebGpuBackend.create({ followAsyncScopes: false });
    try {
      const e = plain.engine;
      expect(e.scopesFollowAsync).toBe(false);
      const x = plain.tensor([1, -2, 3, -4], [2, 2]);
      const y = await e.scope(async () => e.scope(async () => plain.relu(await plain.add(x, x))));
      expect(Array.from(await y.read())).toEqual([2, 0, 6, 0]);
      // Overlapping ones cannot tell their tensors apart: one frees a tensor another still uses.
      const err = await caught(async () => {
        for (const r of await overlapping(plain)) await r.read();
      });
      expect(err).toBeInstanceOf(DisposedError);
      expect(err.message).toContain('engine.scope calls must nest here');
    } finally {
      plain.engine.destroy();
    }
  });
});

describe('Engine.create options', () => {
  it('refuses a tuning, pool size or power preference it cannot use, before or right after taking the device', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ tuning: { bogus: 1 } }, /^Engine: tuning has no field "bogus"; its fields are gemm, /],
      [{ tuning: { gemm: 'fast' } }, /^Engine: tuning\.gemm must be one of "subgroup", "registers", "shared", got "fast"/],
      [{ tuning: { conv: { WG_X: 0, WG_Y: 2 } } }, /^Engine: tuning\.conv must be \{ WG_X, WG_Y \} of positive integers/],
      [{ tuning: { reduce: 48 } }, /^Engine: tuning\.reduce must be a power of two, got 48/],
      [{ tuning: { tiled: { WG_X: 64, WG_Y: 64 } } }, /^Engine: tuning\.tiled asks for 4096 invocations per workgroup, over this device's limit of \d+/],
      [{ maxPooledBytes: -1 }, /^Engine: maxPooledBytes must be a number of bytes ≥ 0, got -1/],
      [{ powerPreference: 'fast' }, /^Engine: powerPreference must be "low-power" or "high-performance", got "fast"/],
    ];
    for (const [opts, message] of cases) {
      const err = await caught(() => Engine.create(opts as EngineOptions));
      expect(err, JSON.stringify(opts)).toBeInstanceOf(AttributeError);
      expect(err.message).toMatch(message);
    }
  });
});

describe('a GPU command that WebGPU rejected after the fact', () => {
  it('makes every later call throw a DeviceError quoting it, instead of going on as if it had run', async () => {
    const g = await WebGpuBackend.create();
    try {
      const x = g.tensor([1, 2, 3, 4], [4]);
      // Misuse from outside the engine's API, which it cannot check: a buffer with no usage.
      g.engine.device.createBuffer({ size: 4, usage: 0 });
      await new Promise((r) => setTimeout(r, 50)); // the error event arrives asynchronously
      const err = await caught(() => g.relu(x));
      expect(err).toBeInstanceOf(DeviceError);
      expect(err.message).toMatch(/^relu: an earlier GPU command failed \(.*usage.*\), so results since then may be wrong; create a new engine/);
      await expect(x.read()).rejects.toThrow(/read: an earlier GPU command failed/);
    } finally {
      g.engine.destroy();
    }
  });
});

describe('the CPU reference backend', () => {
  it('refuses one tensor as two operands of an in-place step, as WebGPU does', async () => {
    const cpu = new CpuBackend();
    const [p, g] = [cpu.tensor([1, 2], [2]), cpu.tensor([3, 4], [2])];
    const err = await caught(() => cpu.sgdStep(p, g, p, { lr: 0.1, momentum: 0.9 }));
    expect(err).toBeInstanceOf(ShapeError);
    expectMessage(err, 'sgdStep', [[2]], 'param and velocity are the same tensor');
    expect(Array.from(await p.read())).toEqual([1, 2]);
    const aerr = await caught(() => cpu.adamStep(p, p, cpu.zeros([2]), cpu.zeros([2]), { lr: 0.1, step: 1 }));
    expectMessage(aerr, 'adamStep', [[2]], 'param and grad are the same tensor');
  });

  it('refuses NaN and Infinity as WebGPU does (unless allowNonFinite), and compare() counts NaN in the same place on both as agreement', async () => {
    const cpu = new CpuBackend();
    const err = await caught(() => cpu.tensor([1, NaN], [2]));
    expect(err).toBeInstanceOf(NonFiniteError);
    expectMessage(err, 'tensor', [[2]], 'allowNonFinite');
    const a = cpu.tensor([1, NaN, Infinity], [3], { allowNonFinite: true });
    expect(await compare(a, cpu.tensor([1, NaN, Infinity], [3], { allowNonFinite: true }))).toEqual({ maxAbs: 0, maxRel: 0 });
    expect((await compare(a, cpu.tensor([1, 2, Infinity], [3], { allowNonFinite: true }))).maxAbs).toBe(Infinity);
  });

  it('an output too large to allocate (a padding of 1e9) is a DeviceLimitError naming the shape', async () => {
    const cpu = new CpuBackend();
    const x = cpu.tensor(new Float32Array(2 * 5 * 4), [2, 1, 5, 4]);
    const w = cpu.tensor(new Float32Array(10), [2, 1, 5, 1]);
    const err = await caught(() => cpu.conv2d(x, w, { padding: 1e9 }));
    expect(err).toBeInstanceOf(DeviceLimitError);
    expectMessage(err, 'CPU reference', [[2, 2, 2000000001, 2000000004]], 'use smaller inputs');
  });
});

describe('a second engine: foreign tensors, and use after destroy()', () => {
  let gpu: WebGpuBackend;
  let other: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
    other = await gpuBackend();
  });
  afterAll(() => {
    gpu?.engine.destroy();
    other?.engine.destroy();
  });

  it("rejects another engine's tensor with ShapeError", async () => {
    const x = gpu.tensor([1, 2, 3, 4], [2, 2]);
    const foreign = other.tensor([1, 2, 3, 4], [2, 2]);
    const before = gpu.engine.memory();
    const err = await caught(() => gpu.add(x, foreign));
    expect(err).toBeInstanceOf(ShapeError);
    expectMessage(err, 'add', [[2, 2]], 'belongs to another engine; move it with read() and tensor()');
    const werr = await caught(() => gpu.engine.write(foreign, Float32Array.of(1, 2, 3, 4)));
    expect(werr).toBeInstanceOf(ShapeError);
    expectMessage(werr, 'write', [[2, 2]], 'belongs to another engine');
    expect(gpu.engine.memory()).toEqual(before);
    x.dispose();
    foreign.dispose();
  });

  it('throws DeviceError for every use after destroy(), and destroy() twice is harmless', async () => {
    const e = other.engine;
    const x = other.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = other.tensor([1, 0, 0, 1], [1, 1, 2, 2]);
    const a = other.tensor([2], [1, 1]);
    e.destroy();
    expect(e.isDestroyed).toBe(true);
    const calls: Array<[string, () => unknown]> = [
      ['tensor', () => other.tensor([1, 2], [2])],
      ['zeros', () => other.zeros([2])],
      ['conv2d', () => other.conv2d(x, w)],
      ['relu', () => other.relu(x)],
      ['matmul', () => other.matmul(a, a)],
      ['read', () => x.read()],
      ['write', () => e.write(x, new Float32Array(9))],
      [noop.name, () => e.run({ kernel: noop, buffers: [], workgroups: [1, 1, 1] })],
    ];
    for (const [op, call] of calls) {
      const err = await caught(call);
      expect(err, op).toBeInstanceOf(DeviceError);
      expectMessage(err, op, [], 'create a new one with Engine.create()');
      expect(e.memory().liveBytes).toBe(0);
      expect(e.memory().liveBuffers).toBe(0);
    }
    expect(() => e.destroy()).not.toThrow();
  });
});

describe('leaks', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
  });
  afterAll(() => gpu?.engine.destroy());

  /** A small network step: forward, loss, backward, update. Every op family, ~20 ops. */
  async function step(): Promise<Float32Array> {
    const u = rng(7);
    const data = (shape: number[]): Tensor => gpu.tensor(Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1), shape);
    const x = data([2, 2, 6, 6]);
    const w = data([3, 2, 3, 3]);
    const b = data([3]);
    const fc = data([3, 4]);
    const labels = gpu.tensor([1, 3], [2]);
    const h = await gpu.conv2d(x, w, { padding: 1, bias: b, relu: true });
    const p = await gpu.maxPool2d(h, { kernelSize: 2 });
    const a = await gpu.avgPool2d(p, { kernelSize: 3 });
    const g = await gpu.globalAvgPool(a);
    const z = await gpu.matmul(g, fc);
    const loss = await gpu.softmaxCrossEntropy(z, labels);
    const dz = await gpu.softmaxCrossEntropyBackward(z, labels);
    const { da: dg, db: dfc } = await gpu.matmulBackward(g, fc, dz);
    const da = await gpu.globalAvgPoolBackward(dg, a.shape);
    const dp = await gpu.avgPool2dBackward(da, p.shape, { kernelSize: 3 });
    const dh = await gpu.maxPool2dBackward(h, dp, { kernelSize: 2 });
    const dr = await gpu.reluBackward(h, dh);
    const dx = await gpu.conv2dBackwardInput(dr, w, x.shape, { padding: 1 });
    const dw = await gpu.conv2dBackwardFilter(x, dr, w.shape, { padding: 1 });
    const db = await gpu.conv2dBackwardBias(dr);
    const s = await gpu.sigmoid(await gpu.add(await gpu.mul(dx, x), await gpu.scale(x, 0.5)));
    await gpu.sum(s, 1);
    const vel = gpu.zeros(w.shape);
    await gpu.sgdStep(w, dw, vel, { lr: 0.1, momentum: 0.9 });
    const [m, v] = [gpu.zeros(fc.shape), gpu.zeros(fc.shape)];
    await gpu.adamStep(fc, dfc, m, v, { lr: 0.01, step: 1 });
    await db.read();
    return loss.read();
  }

  it('a scope full of ops returns live bytes and buffers exactly to the baseline', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const loss = await e.scope(step);
    expect(Number.isFinite(loss[0]!)).toBe(true);
    const after = e.memory();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.created).toBeGreaterThan(before.created);
  });

  it('a tensor returned from a scope outlives it, and its dispose returns to the baseline', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const y = await e.scope(async () => {
      const x = gpu.tensor([-1, 2, -3, 4], [4]);
      const s = await gpu.scale(x, 2);
      return { y: await gpu.relu(s) };
    });
    expect(e.memory().liveBuffers).toBe(before.liveBuffers + 1);
    expect(Array.from(await y.y.read())).toEqual([0, 4, 0, 8]);
    y.y.dispose();
    expect(e.memory().liveBytes).toBe(before.liveBytes);
    expect(e.memory().liveBuffers).toBe(before.liveBuffers);
  });

  it('the pool reuses buffers: the same ops in a fresh scope create no new buffers', async () => {
    const e = gpu.engine;
    await e.scope(step); // warm: the pool now holds every size this step needs
    const before = e.memory();
    const first = await e.scope(step);
    const after = e.memory();
    expect(after.created).toBe(before.created);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    // And reuse does not change results.
    expect(Array.from(await e.scope(step))).toEqual(Array.from(first));
  });

  it('a failed op in a loop does not grow the pool or the live set', async () => {
    const e = gpu.engine;
    const x = gpu.tensor(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]);
    const w = gpu.tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
    const before = e.memory();
    for (let i = 0; i < 20; i++) await expect(gpu.conv2d(x, w)).rejects.toBeInstanceOf(ShapeError);
    expect(e.memory()).toEqual(before);
    x.dispose();
    w.dispose();
  });

  it('BufferPool with a small maxPooledBytes never keeps more than that', () => {
    const usage = 0x80 | 0x08; // STORAGE | COPY_DST
    const max = 1024;
    const pool = new BufferPool(gpu.engine.device, max);
    try {
      const sizes = [256, 256, 300, 256, 512, 1000, 256, 4, 256, 700];
      const bufs = sizes.map((s) => pool.acquire(s, usage));
      expect(pool.snapshot().created).toBe(sizes.length);
      expect(pool.snapshot().liveBuffers).toBe(sizes.length);
      expect(pool.snapshot().liveBytes).toBe(sizes.reduce((p, s) => p + sizeClass(s), 0));
      for (const b of bufs) {
        pool.release(b);
        const s = pool.snapshot();
        expect(s.pooledBytes).toBeLessThanOrEqual(max);
        expect(s.pooledBytes).toBeGreaterThan(0);
      }
      const s = pool.snapshot();
      expect(s.liveBytes).toBe(0);
      expect(s.liveBuffers).toBe(0);
      expect(s.pooledBuffers).toBeLessThan(sizes.length);
      // Releasing a buffer twice, or one the pool never made, changes nothing.
      pool.release(bufs[0]!);
      expect(pool.snapshot()).toEqual(s);
      // A pooled size comes back without creating a buffer; the bound still holds after.
      const again = pool.acquire(256, usage);
      expect(pool.snapshot().created).toBe(s.created);
      pool.release(again);
      expect(pool.snapshot().pooledBytes).toBeLessThanOrEqual(max);
      // A buffer larger than the whole bound is never pooled.
      pool.release(pool.acquire(4096, usage));
      expect(pool.snapshot().pooledBytes).toBeLessThanOrEqual(max);
      pool.trim();
      expect(pool.snapshot().pooledBytes).toBe(0);
      expect(pool.snapshot().pooledBuffers).toBe(0);
    } finally {
      pool.destroy();
    }
  });

  it('sizeClass rounds up by at most 25% (256 bytes at least), and is stable', () => {
    const u = rng(42);
    const sizes = new Set<number>();
    for (let b = 1; b <= 5000; b++) sizes.add(b);
    for (let p = 8; p <= 31; p++) for (const d of [-1, 0, 1]) sizes.add(2 ** p + d);
    for (let i = 0; i < 2000; i++) sizes.add(1 + Math.floor(u() * 2 ** 31));
    for (const b of sizes) {
      const c = sizeClass(b);
      expect(c, `sizeClass(${b})`).toBeGreaterThanOrEqual(b);
      expect(c % 4, `sizeClass(${b}) is a multiple of 4`).toBe(0);
      if (b <= 256) expect(c).toBe(256);
      else expect(c, `sizeClass(${b}) = ${c}`).toBeLessThanOrEqual(1.25 * b);
      expect(sizeClass(c), `sizeClass is idempotent at ${b}`).toBe(c);
    }
  });
});

describe('the runtime under misuse: reads, disposal, scopes, kernel names', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
  });
  afterAll(() => gpu?.engine.destroy());

  /** y = x, through a kernel of its own name (so that its first run waits for a compile). */
  const copyKernel = (name: string) => ({
    name,
    code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&y)) { y[id.x] = x[id.x]; }
}`,
  });

  it('a read into an array of the wrong length is refused before anything is copied, and a copy that throws leaves the engine usable', async () => {
    const e = gpu.engine;
    const x = gpu.tensor([1, 2, 3, 4], [4]);
    const err = await caught(() => e.readBuffer(x.buffer, 16, 0, new Float32Array(3)));
    expect(err).toBeInstanceOf(ShapeError);
    expectMessage(err, 'read', [], 'pass one of exactly that length');
    const out = await caught(() => e.readBuffer(x.buffer, x.buffer.size + 4));
    expectMessage(out, 'read', [], 'inside the buffer');
    // An array handed to a worker (transferred) while its read waits: the read fails, the
    // staging buffer is unmapped all the same, and the next reads (which reuse it) work.
    const into = new Float32Array(4);
    const pending = x.read(into);
    structuredClone(into.buffer, { transfer: [into.buffer] });
    await expect(pending).rejects.toThrow(TypeError);
    for (let i = 0; i < 3; i++) expect(Array.from(await x.read())).toEqual([1, 2, 3, 4]);
    expect(e.gpuError).toBeNull();
    x.dispose();
  });

  it('an input disposed right after its op is called (before the op has compiled) still gives that op its values', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const x = gpu.tensor([1, 2, 3, 4], [4]);
    const y = e.empty([4]);
    const run = e.run({ kernel: copyKernel('errors.copy-dispose'), buffers: [x.buffer, y.buffer], workgroups: [1, 1, 1] });
    x.dispose();
    const z = gpu.tensor([5, 5, 5, 5], [4]); // the pool's same-size buffer, were x's released at once
    // A tensor the run does not read is pooled at once, compile or not.
    const other = gpu.tensor([7, 7, 7, 7], [4]);
    const created = e.memory().created;
    other.dispose();
    const again = e.empty([4]);
    expect(e.memory().created).toBe(created);
    await run;
    expect(Array.from(await y.read())).toEqual([1, 2, 3, 4]);
    // GpuTimer's runs hold their buffers the same way.
    const timer = new GpuTimer(e);
    const x2 = gpu.tensor([1, 2, 3, 4], [4]);
    const timed = timer.time([{ kernel: copyKernel('errors.copy-dispose-timed'), buffers: [x2.buffer, y.buffer], workgroups: [1, 1, 1] }]);
    x2.dispose();
    const z2 = gpu.tensor([5, 5, 5, 5], [4]);
    await timed;
    expect(Array.from(await y.read())).toEqual([1, 2, 3, 4]);
    timer.destroy();
    for (const t of [y, z, again, z2]) t.dispose();
    expect(e.memory().liveBuffers).toBe(before.liveBuffers);
    expect(e.memory().liveBytes).toBe(before.liveBytes);
  });

  it('a scope whose body throws before its first await frees its tensors', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const err = await caught(() =>
      e.scope(() => {
        gpu.tensor([1, 2], [2]);
        throw new Error('sync');
      }),
    );
    expect(err.message).toBe('sync');
    expect(e.memory().liveBuffers).toBe(before.liveBuffers);
  });

  it('a scope keeps the tensors its result holds in Maps, Sets and cycles', async () => {
    const e = gpu.engine;
    const before = e.memory();
    const r = await e.scope(async () => {
      gpu.tensor([0], [1]); // dropped
      const out: { m: Map<string, Tensor>; s: Set<Tensor>; self?: unknown } = { m: new Map([['a', gpu.tensor([1], [1])]]), s: new Set([gpu.tensor([2], [1])]) };
      out.self = out;
      return out;
    });
    expect(Array.from(await r.m.get('a')!.read())).toEqual([1]);
    expect(Array.from(await [...r.s][0]!.read())).toEqual([2]);
    expect(e.memory().liveBuffers).toBe(before.liveBuffers + 2);
    r.m.get('a')!.dispose();
    [...r.s][0]!.dispose();
  });

  it('a second WGSL source under a kernel name already compiled is refused, not run as the first', async () => {
    const e = gpu.engine;
    const x = gpu.tensor([1, 2], [2]);
    const y = e.empty([2]);
    await e.run({ kernel: copyKernel('errors.same-name'), buffers: [x.buffer, y.buffer], workgroups: [1, 1, 1] });
    const other = { name: 'errors.same-name', code: copyKernel('errors.same-name').code.replace('= x[id.x]', '= 2.0 * x[id.x]') };
    const err = await caught(() => e.run({ kernel: other, buffers: [x.buffer, y.buffer], workgroups: [1, 1, 1] }));
    expect(err).toBeInstanceOf(AttributeError);
    expectMessage(err, 'kernel "errors.same-name"', [], 'give each kernel its own name');
    x.dispose();
    y.dispose();
  });

  it('write() takes any array of numbers, a Float64Array included, as f32 values', async () => {
    const x = gpu.engine.empty([4]);
    gpu.engine.write(x, Float64Array.of(5, 6, 7, 8.5));
    expect(Array.from(await x.read())).toEqual([5, 6, 7, 8.5]);
    gpu.engine.write(x, [1, 2, 3, 4]);
    expect(Array.from(await x.read())).toEqual([1, 2, 3, 4]);
    x.dispose();
  });

  it('the pool never makes a buffer past the largest the device binds, even where a size class would', () => {
    const pool = new BufferPool(gpu.engine.device, 0, 1003); // not a multiple of 4, as some drivers report
    const b = pool.acquire(900, 0x80 | 0x08); // class 1024
    expect(sizeClass(900)).toBe(1024);
    expect(b.size).toBe(1000);
    pool.destroy();
  });
});

describe('softmax cross-entropy with a label that is not a class index (the GPU op cannot refuse it)', () => {
  let gpu: WebGpuBackend;
  const cpu = new CpuBackend();
  beforeAll(async () => {
    gpu = await gpuBackend();
  });
  afterAll(() => gpu?.engine.destroy());

  // Forward clamped a label ≥ C to C − 1 and backward matched no class; both saturated −1 to 0
  // and truncated 1.5 to 1. Now both make the row NaN: the loss, and that row of the gradient.
  const C = 4;
  const rowsCases: Array<[string, number, number, number]> = [
    ['label = C', C, 3, 1],
    ['label −1', -1, 3, 1],
    ['label 1.5', 1.5, 3, 1],
    ['label NaN', Number.NaN, 3, 1],
    ['label = C in the last of 130 rows (another lane of the forward workgroup)', C, 130, 129],
  ];
  it.each(rowsCases)('%s: the loss and that gradient row are NaN, the other rows as the reference gives them', async (_name, bad, rows, at) => {
    const u = rng(3);
    const z = Float32Array.from({ length: rows * C }, () => u() * 4 - 2);
    const labels = Array.from({ length: rows }, (_, i) => (i === at ? bad : i % C));
    const e = gpu.engine;
    const before = e.memory();
    await e.scope(async () => {
      const zt = gpu.tensor(z, [rows, C]);
      const lt = gpu.tensor(labels, [rows], { allowNonFinite: true });
      const loss = await (await gpu.softmaxCrossEntropy(zt, lt)).read();
      const dz = await (await gpu.softmaxCrossEntropyBackward(zt, lt, 0.5)).read();
      expect(Number.isNaN(loss[0]!), `loss ${loss[0]}`).toBe(true);
      // The reference refuses the bad label; with any valid one there, the other rows must agree.
      await expect(cpu.softmaxCrossEntropyBackward(cpu.tensor(z, [rows, C]), cpu.tensor(labels, [rows], { allowNonFinite: true }))).rejects.toBeInstanceOf(AttributeError);
      const ok = labels.map((l, i) => (i === at ? 0 : l));
      const ref = await (await cpu.softmaxCrossEntropyBackward(cpu.tensor(z, [rows, C]), cpu.tensor(ok, [rows]), 0.5)).read();
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < C; j++) {
          const i = r * C + j;
          if (r === at) expect(Number.isNaN(dz[i]!), `dz[${r}, ${j}] = ${dz[i]}`).toBe(true);
          else expect(Math.abs(dz[i]! - ref[i]!), `dz[${r}, ${j}]: ${dz[i]} vs ${ref[i]}`).toBeLessThanOrEqual(1e-6);
        }
      }
    });
    expect(e.memory().liveBytes).toBe(before.liveBytes);
  });
});

describe('a tuning whose workgroup-memory GEMM does not fit the workgroup storage', () => {
  // gemm.shared stages 16·STAGES·K·(edge·WG_Y/4 + 1 + edge·WG_X/4 + 1) bytes: a wide workgroup with
  // 2 staging buffers passes 32 KiB even at K step 1. This was a ShapeError labelled "gemm:" from
  // conv2d too, advising a larger workgroup, and the op's output leaked.
  let gpu: WebGpuBackend;
  let wide: number;
  beforeAll(async () => {
    const probe = await gpuBackend();
    const l = probe.engine.limits;
    wide = Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
    probe.engine.destroy();
    gpu = await gpuBackend({ gemm: 'shared', sharedTile: 4, gemmStages: 2, tiled: { WG_X: wide, WG_Y: 1 }, convIm2col: true });
    // A device with 4 KiB of workgroup storage: SwiftShader's 256 invocations at most never
    // stage more than its real 32 KiB, so the limit the ops read is lowered (only it).
    const real = gpu.engine.limits;
    const small = new Proxy(real, { get: (t, k) => (k === 'maxComputeWorkgroupStorageSize' ? 4096 : Reflect.get(t, k)) });
    Object.defineProperty(gpu.engine, 'limits', { value: small });
    expect(32 * (wide + 3)).toBeGreaterThan(gpu.engine.limits.maxComputeWorkgroupStorageSize);
  });
  afterAll(() => gpu?.engine.destroy());

  const calls: Array<[string, (g: WebGpuBackend) => () => Promise<unknown>]> = [
    ['matmul', (g) => {
      const [a, b] = [g.tensor(new Float32Array(4 * 8), [4, 8]), g.tensor(new Float32Array(8 * 4), [8, 4])];
      return () => g.matmul(a, b);
    }],
    ['matmulBackward', (g) => {
      const [a, b, dy] = [g.tensor(new Float32Array(4 * 8), [4, 8]), g.tensor(new Float32Array(8 * 4), [8, 4]), g.tensor(new Float32Array(16), [4, 4])];
      return () => g.matmulBackward(a, b, dy);
    }],
    ['conv2d', (g) => {
      const [x, w] = [g.tensor(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]), g.tensor(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3])];
      return () => g.conv2d(x, w);
    }],
  ];
  it.each(calls)('%s: AttributeError naming the op, the bytes and a smaller workgroup; nothing leaks', async (op, arrange) => {
    const e = gpu.engine;
    const atStart = e.memory();
    await e.scope(async () => {
      const call = arrange(gpu);
      const before = e.memory();
      const err = await caught(call);
      expect(err.constructor, `${err.name}: ${err.message}`).toBe(AttributeError);
      expectMessage(err, op, [], 'use a smaller tuning.tiled workgroup', [
        'gemm.shared',
        `${wide}×1`,
        `${32 * (wide + 3)} bytes`,
        `limit of ${e.limits.maxComputeWorkgroupStorageSize}`,
        'or gemmStages 1.',
      ]);
      expect(err.message).not.toContain('sharedTile 4'); // it is 4 already
      expect(e.memory().liveBytes).toBe(before.liveBytes);
      expect(e.memory().liveBuffers).toBe(before.liveBuffers);
    });
    expect(e.memory().liveBytes).toBe(atStart.liveBytes);
  });
});

describe('a dispatch over the per-dimension workgroup limit says what to split', () => {
  // Every refusal advised "a smaller batch", even for one image at batch 1 (an implicit-GEMM conv
  // puts N·OH·OW pixels on x) and for a 2-D GEMM, which has no batch.
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
  });
  afterAll(() => gpu?.engine.destroy());

  async function refusal(arrange: () => () => Promise<unknown>): Promise<string> {
    const e = gpu.engine;
    const before = e.memory();
    let msg = '';
    await e.scope(async () => {
      const err = await caught(arrange());
      expect(err.constructor, `${err.name}: ${err.message}`).toBe(DeviceLimitError);
      msg = err.message;
    });
    expect(e.memory().liveBytes).toBe(before.liveBytes);
    return msg;
  }
  // More groups than z holds (a conv's pixels on x fold onto z instead: ops.test.ts).
  const conv = (n: number) => () => {
    const g = maxGroups(gpu.engine) + 1;
    const [xt, w] = [gpu.engine.empty([n, g, 1, 1]), gpu.engine.empty([g, 1, 1, 1])];
    return () => gpu.conv2d(xt, w, { groups: g });
  };

  it('conv2d at batch 1, too many groups for z: fewer channels first, never a smaller batch', async () => {
    const g = maxGroups(gpu.engine) + 1;
    const msg = await refusal(conv(1));
    expectMessage(new Error(msg), 'conv2d', [[1, g, 1, 1]], `the batch is already 1, so split the call into smaller ones: fewer channels (${g}), so fewer groups`, [
      'or smaller images (1×1, in tiles)',
      'per dimension (z ',
    ]);
    expect(msg).not.toContain('smaller batch');
  });

  it('conv2d at batch 2: the batch first', async () => {
    const msg = await refusal(conv(2));
    expectMessage(new Error(msg), 'conv2d', [], 'split the call into smaller ones: a smaller batch (2), fewer channels');
  });

  it('a 2-D matmul: fewer rows or columns, no batch', async () => {
    const rows = tallRows(gpu.engine);
    const msg = await refusal(() => {
      const [a, b] = [gpu.engine.empty([rows, 1]), gpu.tensor([1], [1, 1])];
      return () => gpu.matmul(a, b);
    });
    expectMessage(new Error(msg), 'matmul', [[rows, 1]], `split the call into smaller ones: fewer rows (${rows}) or fewer columns (1)`, ['per dimension (y ']);
    expect(msg).not.toContain('batch');
  });

  it('a hand-made dispatch: the axis and its count, and no batch', async () => {
    const n = maxGroups(gpu.engine) + 1;
    const msg = await refusal(() => () => gpu.engine.run({ kernel: noop, buffers: [], workgroups: [1, 1, n] }));
    expectMessage(new Error(msg), noop.name, [], 'split the work into smaller pieces', [`per dimension (z ${n})`]);
    expect(msg).not.toContain('batch');
  });
});

describe("an op's working buffer over the binding limit", () => {
  // The emulators' conv forward pads x into a working buffer first (xpad), which can pass the
  // binding limit where x and y do not. Its refusal read "conv2d (xpad): tensor [864] needs …;
  // split the tensor", as if the caller had made it. Here under a limit lowered between x and
  // xpad, with the emulators' tuning on any adapter (a GPU's forward reads x in place and has
  // no xpad); nothing is allocated.
  it('is named as the op\'s own working buffer, with its size, the limit and a smaller batch', async () => {
    const gpu = await gpuBackend();
    const e = gpu.engine;
    try {
      e.tuning = defaultTuning(true, e.adapterInfo.architecture, e.adapterInfo.subgroupSize);
      const [xs, ws, attrs] = [[2, 3, 8, 8], [4, 3, 5, 5], { padding: 2 }] as const;
      const xpad = 2 * 3 * 12 * 12;
      expect(conv2dScratch(e, conv2dGeom([...xs], [...ws], attrs), 'fwd')).toMatchObject({ xpad });
      const [x, w] = [gpu.tensor(new Float32Array(sizeOf([...xs])), [...xs]), gpu.tensor(new Float32Array(sizeOf([...ws])), [...ws])];
      const before = e.memory();
      const err = await withLimits(e, { maxStorageBufferBindingSize: 2048 }, () => caught(() => gpu.conv2d(x, w, attrs)));
      expect(err.constructor, `${err.name}: ${err.message}`).toBe(DeviceLimitError);
      expectMessage(err, 'conv2d', [], 'use a smaller batch or smaller inputs.', [`its working buffer 'xpad' of ${xpad} floats needs ${4 * xpad} bytes`, 'limit of 2048 bytes per storage binding']);
      expect(err.message).not.toContain('split the tensor');
      expect(e.memory().liveBytes).toBe(before.liveBytes);
      expect(e.memory().liveBuffers).toBe(before.liveBuffers);
    } finally {
      e.destroy();
    }
  });
});
