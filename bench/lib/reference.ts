// The convgpu CPU reference (src/reference, float64 loops) as a benchmark row, and the
// ground truth every other row is checked against: the whole output where the reference
// is fast enough, else an exact slice of it: rows of a GEMM, samples of a convolution,
// channel pairs of a filter gradient, each taken at the start, the middle and the end, so an
// offset bug in a later workgroup fails as one in the first does.
import { CpuModel } from '../../src/nn/cpu-model.js';
import { lenet } from '../../src/nn/models.js';
import * as ref from '../../src/reference/index.js';
import { convOut } from './items.js';
import { gatherDim1, runsText, sizeOf, sliceBatch, spread } from './data.js';
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

/** GEMM rows checked on a slice (about 16: the first, middle and last ones). */
const GEMM_ROWS = 16;
/** Convolution samples checked on a slice (the first, middle and last). */
const CONV_SAMPLES = 3;
/** Filter-gradient output and input channels checked on a slice (4 × 4 pairs). */
const FILTER_CHANNELS = 4;

/**
 * The samples of a convolution's slice, each with its own block of channels (output channels
 * for the forward pass, input channels for the input gradient, which each depend on all of the
 * other dim's): the blocks cover every channel once over the samples, so the slice costs about
 * one sample's work yet reaches the first, middle and last samples and every channel tile.
 */
function convSlice(n: number, channels: number): Array<{ s: number; c0: number; c1: number }> {
  const samples = spread(n, CONV_SAMPLES);
  return samples.map((s, i) => {
    const c0 = Math.floor((i * channels) / samples.length);
    return { s, c0, c1: Math.max(Math.floor(((i + 1) * channels) / samples.length), c0 + 1) };
  });
}

const convSliceText = (parts: Array<{ s: number; c0: number; c1: number }>, n: number, what: string): string =>
  `reference on samples ${parts.map((p) => `${p.s} (${what} ${p.c1 - p.c0 > 1 ? `${p.c0}–${p.c1 - 1}` : p.c0})`).join(', ')} of ${n}`;

/** FLOPs of the slice that sliceTruth computes (to tell whether it is affordable). */
export function sliceWork(item: ItemSpec): number {
  switch (item.kind) {
    case 'gemm':
      return (item.work * spread(item.m, GEMM_ROWS).length) / item.m;
    case 'conv': {
      const [n, c] = item.x as [number, number];
      const o = item.w[0]!;
      if (item.pass === 'bwdFilter') return (item.work * spread(o, FILTER_CHANNELS).length * spread(c, FILTER_CHANNELS).length) / (o * c);
      const channels = item.pass === 'fwd' ? o : c;
      return convSlice(n, channels).reduce((sum, p) => sum + (item.work * (p.c1 - p.c0)) / (n * channels), 0);
    }
    default:
      return item.work;
  }
}

/** An exact slice of the reference output, for items whose full reference is too slow. Null for training (no slice exists). */
export function sliceTruth(item: ItemSpec, inp: Inputs): Truth | null {
  const a = inp.arrays;
  switch (item.kind) {
    case 'gemm': {
      const rows = spread(item.m, GEMM_ROWS);
      const values = f32(ref.matmul(ref.host(gatherDim1(a.a!, [1, item.m, item.k], rows), [rows.length, item.k]), ref.host(a.b!, [item.k, item.n])));
      return { how: `reference on rows ${runsText(rows)} of ${item.m}`, kernel: { values, pick: (o) => gatherDim1(o, [1, item.m, item.n], rows) } };
    }
    case 'conv': {
      const attrs = { padding: item.pad };
      const yShape = convOut(item.x, item.w, item.pad);
      const [n, c, h, w] = item.x as [number, number, number, number];
      const [o, , kh, kw] = item.w as [number, number, number, number];
      const concat = (parts: Float32Array[]): Float32Array => {
        const out = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
        let at = 0;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        return out;
      };
      if (item.pass === 'fwd') {
        // y[s, o0:o1] = conv(x[s], w[o0:o1]).
        const parts = convSlice(n, o);
        const plane = yShape[2]! * yShape[3]!;
        const values = concat(
          parts.map((p) =>
            f32(ref.conv2d(ref.host(sliceBatch(a.x!, item.x, p.s, p.s + 1), [1, c, h, w]), ref.host(sliceBatch(a.w!, item.w, p.c0, p.c1), [p.c1 - p.c0, c, kh, kw]), attrs)),
          ),
        );
        const pick = (out: Float32Array): Float32Array => concat(parts.map((p) => out.subarray((p.s * o + p.c0) * plane, (p.s * o + p.c1) * plane)));
        return { how: convSliceText(parts, n, 'output channels'), kernel: { values, pick } };
      }
      if (item.pass === 'bwdInput') {
        // dx[s, c0:c1] = conv2dBackwardInput(dy[s], w[:, c0:c1]).
        const parts = convSlice(n, c);
        const plane = h * w;
        const values = concat(
          parts.map((p) => {
            const cs = Array.from({ length: p.c1 - p.c0 }, (_, i) => p.c0 + i);
            const dy = ref.host(sliceBatch(a.dy!, yShape, p.s, p.s + 1), [1, ...yShape.slice(1)]);
            return f32(ref.conv2dBackwardInput(dy, ref.host(gatherDim1(a.w!, item.w, cs), [o, cs.length, kh, kw]), [1, cs.length, h, w], attrs));
          }),
        );
        const pick = (out: Float32Array): Float32Array => concat(parts.map((p) => out.subarray((p.s * c + p.c0) * plane, (p.s * c + p.c1) * plane)));
        return { how: convSliceText(parts, n, 'input channels'), kernel: { values, pick } };
      }
      // dW[o, c] depends only on x[:, c] and dy[:, o]: a few of each, first, middle and last, are an exact slice.
      const cs = spread(c, FILTER_CHANNELS);
      const os = spread(o, FILTER_CHANNELS);
      const x = ref.host(gatherDim1(a.x!, item.x, cs), [n, cs.length, h, w]);
      const dy = ref.host(gatherDim1(a.dy!, yShape, os), [yShape[0]!, os.length, yShape[2]!, yShape[3]!]);
      const values = f32(ref.conv2dBackwardFilter(x, dy, [os.length, cs.length, kh, kw], attrs));
      const pick = (out: Float32Array): Float32Array => gatherDim1(gatherDim1(out, [1, o, sizeOf(item.w.slice(1))], os), [os.length, c, kh, kw], cs);
      return { how: `reference on output channels ${runsText(os)} × input channels ${runsText(cs)}`, kernel: { values, pick } };
    }
    case 'pool': {
      const out = runFull(item, inp)();
      return out instanceof Float32Array ? fullTruth(out) : null;
    }
    case 'train':
      return null;
  }
}
