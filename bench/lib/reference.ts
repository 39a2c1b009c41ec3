// The convgpu CPU reference (src/reference, float64 loops) as a benchmark row, and the
// ground truth every other row is checked against: the whole output where the reference
// is fast enough, else an exact slice of it (rows of a GEMM, the first sample of a
// convolution, the first channels of a filter gradient).
import { CpuModel } from '../../src/nn/cpu-model.js';
import { lenet } from '../../src/nn/models.js';
import * as ref from '../../src/reference/index.js';
import { convOut } from './items.js';
import { sizeOf, sliceBatch, sliceChannels } from './data.js';
import type { Inputs, Output, Prepared, TrainOutput } from './runner.js';
import { OPTIMIZER } from './runner.js';
import type { ItemSpec } from './types.js';

/** What a backend's output is checked against. */
export interface Truth {
  /** "full reference output" or the slice, in words. */
  how: string;
  kernel?: { values: ArrayLike<number>; pick(out: Float32Array): ArrayLike<number> };
  train?: TrainOutput;
}

const f32 = (t: ref.HostTensor): Float32Array => Float32Array.from(t.data);

/** One full reference run of the item, in convgpu layouts. */
function runFull(item: ItemSpec, inp: Inputs): () => Output {
  const a = inp.arrays;
  switch (item.kind) {
    case 'gemm': {
      const A = ref.host(a.a!, [item.m, item.k]);
      const B = ref.host(a.b!, [item.k, item.n]);
      return () => f32(ref.matmul(A, B));
    }
    case 'conv': {
      const attrs = { padding: item.pad };
      if (item.pass === 'fwd') {
        const x = ref.host(a.x!, item.x);
        const w = ref.host(a.w!, item.w);
        return () => f32(ref.conv2d(x, w, attrs));
      }
      const dy = ref.host(a.dy!, convOut(item.x, item.w, item.pad));
      if (item.pass === 'bwdInput') {
        const w = ref.host(a.w!, item.w);
        return () => f32(ref.conv2dBackwardInput(dy, w, item.x, attrs));
      }
      const x = ref.host(a.x!, item.x);
      return () => f32(ref.conv2dBackwardFilter(x, dy, item.w, attrs));
    }
    case 'pool': {
      const attrs = { kernelSize: item.size };
      const x = ref.host(a.x!, item.x);
      if (item.pass === 'fwd') return () => f32(ref.maxPool2d(x, attrs));
      const [n, c, h, w] = item.x as [number, number, number, number];
      const dy = ref.host(a.dy!, [n, c, h / item.size, w / item.size]);
      return () => f32(ref.maxPool2dBackward(x, dy, attrs));
    }
    case 'train': {
      const model = new CpuModel(lenet(item.c1, item.c2), { seed: inp.seed, optimizer: OPTIMIZER });
      model.setParams(inp.params!);
      return () => {
        const rec = model.trainStep(a.x!, a.labels!, item.batch);
        return { loss: rec.loss, grads: Object.fromEntries(Object.entries(rec.paramGrads).map(([k, g]) => [k, f32(g)])) };
      };
    }
  }
}

export function prepareReference(item: ItemSpec, inp: Inputs): Prepared {
  const fn = runFull(item, inp);
  return {
    async run() {
      const t0 = performance.now();
      const out = fn();
      return { wallMs: performance.now() - t0, out };
    },
    dispose() {},
  };
}

export function fullTruth(out: Output): Truth {
  if (out instanceof Float32Array) return { how: 'full reference output', kernel: { values: out, pick: (o) => o } };
  return { how: 'reference step: loss and every parameter gradient', train: out };
}

/** FLOPs of the slice that sliceTruth computes (to tell whether it is affordable). */
export function sliceWork(item: ItemSpec): number {
  switch (item.kind) {
    case 'gemm':
      return item.work * Math.min(1, 16 / item.m);
    case 'conv':
      return item.pass === 'bwdFilter' ? (item.work * Math.min(4, item.x[1]!) * Math.min(4, item.w[0]!)) / (item.x[1]! * item.w[0]!) : item.work / item.x[0]!;
    default:
      return item.work;
  }
}

/** An exact slice of the reference output, for items whose full reference is too slow. Null for training (no slice exists). */
export function sliceTruth(item: ItemSpec, inp: Inputs): Truth | null {
  const a = inp.arrays;
  switch (item.kind) {
    case 'gemm': {
      const rows = Math.min(16, item.m);
      const values = f32(ref.matmul(ref.host(a.a!.subarray(0, rows * item.k), [rows, item.k]), ref.host(a.b!, [item.k, item.n])));
      return { how: `reference on rows 0–${rows - 1} of ${item.m}`, kernel: { values, pick: (o) => o.subarray(0, rows * item.n) } };
    }
    case 'conv': {
      const attrs = { padding: item.pad };
      const yShape = convOut(item.x, item.w, item.pad);
      const one = (s: number[]): number[] => [1, ...s.slice(1)];
      if (item.pass === 'fwd') {
        const values = f32(ref.conv2d(ref.host(sliceBatch(a.x!, item.x, 0, 1), one(item.x)), ref.host(a.w!, item.w), attrs));
        return { how: `reference on sample 0 of ${item.x[0]}`, kernel: { values, pick: (o) => sliceBatch(o, yShape, 0, 1) } };
      }
      if (item.pass === 'bwdInput') {
        const values = f32(ref.conv2dBackwardInput(ref.host(sliceBatch(a.dy!, yShape, 0, 1), one(yShape)), ref.host(a.w!, item.w), one(item.x), attrs));
        return { how: `reference on sample 0 of ${item.x[0]}`, kernel: { values, pick: (o) => sliceBatch(o, item.x, 0, 1) } };
      }
      // dW[o, c] depends only on x[:, c] and dy[:, o]: the first few of each are an exact slice.
      const cs = Math.min(4, item.x[1]!);
      const os = Math.min(4, item.w[0]!);
      const xs = [item.x[0]!, cs, item.x[2]!, item.x[3]!];
      const dys = [yShape[0]!, os, yShape[2]!, yShape[3]!];
      const ws = [os, cs, item.w[2]!, item.w[3]!];
      const values = f32(ref.conv2dBackwardFilter(ref.host(sliceChannels(a.x!, item.x, 0, cs), xs), ref.host(sliceChannels(a.dy!, yShape, 0, os), dys), ws, attrs));
      const pick = (o: Float32Array): Float32Array => {
        const rowsO = o.subarray(0, os * sizeOf(item.w.slice(1)));
        return sliceChannels(rowsO, [os, ...item.w.slice(1)], 0, cs);
      };
      return { how: `reference on output channels 0–${os - 1} × input channels 0–${cs - 1}`, kernel: { values, pick } };
    }
    case 'pool': {
      const out = runFull(item, inp)();
      return out instanceof Float32Array ? fullTruth(out) : null;
    }
    case 'train':
      return null;
  }
}
