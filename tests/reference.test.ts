// The CPU reference checked on its own: backward passes against central finite differences,
// forward passes against small cases worked out by hand, and bad inputs against the right errors.
import { describe, it, expect } from 'vitest';
import { AttributeError, ShapeError } from '../src/errors.js';
import type { Conv2dAttrs, GemmAttrs, Pool2dAttrs } from '../src/ops/geometry.js';
import { sizeOf } from '../src/shape.js';
import {
  adamStep,
  add,
  avgPool2d,
  avgPool2dBackward,
  conv2d,
  conv2dBackwardBias,
  conv2dBackwardFilter,
  conv2dBackwardInput,
  globalAvgPool,
  globalAvgPoolBackward,
  host,
  hostZeros,
  leakyRelu,
  leakyReluBackward,
  matmul,
  matmulBackward,
  maxPool2d,
  maxPool2dBackward,
  mul,
  mulBackward,
  relu,
  reluBackward,
  scale,
  sgdStep,
  sigmoid,
  sigmoidBackward,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  sum,
  sumBackward,
  tanh,
  tanhBackward,
  type HostTensor,
} from '../src/reference/index.js';
import { randomHost, rng } from './helpers/rng.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Shape and values, each within tol (relative above 1, absolute below). */
function expectTensor(t: HostTensor, shape: number[], values: number[], tol = 1e-12): void {
  expect(t.shape).toEqual(shape);
  expect(t.data.length).toBe(values.length);
  values.forEach((v, i) => {
    const got = t.data[i]!;
    if (!(Math.abs(got - v) <= tol * Math.max(1, Math.abs(v)))) {
      expect.fail(`element ${i}: got ${got}, expected ${v}`);
    }
  });
}

function expectError(fn: () => unknown, cls: new (...args: never[]) => Error, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  for (const p of parts) expect((err as Error).message).toContain(p);
}

function dot(a: HostTensor, b: HostTensor): number {
  expect(a.shape).toEqual(b.shape);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** Distinct values in (-1, 1), spaced 2/size apart (≫ h), shuffled: no ties for max pooling. */
function distinctHost(shape: number[], seed: number): HostTensor {
  const n = sizeOf(shape);
  const u = rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return host(
    perm.map((p) => -1 + (2 * (p + 0.5)) / n),
    shape,
  );
}

/** Random values with |x| in [0.1, 1.1): far (≫ h) from the kink of relu / leaky relu at 0. */
function awayFromZero(shape: number[], seed: number): HostTensor {
  const t = randomHost(shape, seed);
  t.data.forEach((v, i) => (t.data[i] = Math.sign(v || 1) * (0.1 + Math.abs(v))));
  return t;
}

// Central differences: L(x ± h·e_i) with L = Σ r ⊙ f(inputs) for a seeded random r, so the
// analytic gradient of L is exactly backward(dy = r).
// Why h = 1e-6 and a tolerance of 1e-6: in float64 the truncation error is ~h²·|L'''| ≈ 1e-12,
// and the rounding error ~ε·|L|/h ≈ 2e-16 · 10 / 1e-6 ≈ 2e-9 for the |L| ≲ 10 of these small
// shapes. 1e-6 (relative where the gradient exceeds 1, absolute below) is far above both, and
// far below what a real bug gives (a wrong index or a missed tap moves a gradient by ~0.1).
const H = 1e-6;
const GRAD_TOL = 1e-6;

/**
 * Checks every non-null gradient from `backward(r)` against finite differences of
 * L = Σ r ⊙ f(inputs). Also checks that f and backward leave their inputs unchanged.
 */
function gradCheck(
  f: (xs: HostTensor[]) => HostTensor,
  inputs: HostTensor[],
  backward: (dy: HostTensor) => (HostTensor | null)[],
  seed: number,
): void {
  const before = inputs.map((t) => Float64Array.from(t.data));
  const r = randomHost(f(inputs).shape, seed);
  const grads = backward(r);
  inputs.forEach((t, k) => expect(t.data, `input ${k} was modified`).toEqual(before[k]));
  expect(grads.length).toBe(inputs.length);

  const loss = (): number => dot(r, f(inputs));
  grads.forEach((g, k) => {
    if (g === null) return;
    const x = inputs[k]!;
    expect(g.shape, `gradient ${k} shape`).toEqual(x.shape);
    let worst = 0;
    let where = '';
    let largest = 0;
    for (let i = 0; i < x.data.length; i++) {
      const orig = x.data[i]!;
      x.data[i] = orig + H;
      const lp = loss();
      x.data[i] = orig - H;
      const lm = loss();
      x.data[i] = orig;
      const numeric = (lp - lm) / (2 * H);
      const err = Math.abs(g.data[i]! - numeric) / Math.max(1, Math.abs(numeric));
      if (err > worst) {
        worst = err;
        where = `input ${k}[${i}]: analytic ${g.data[i]}, numeric ${numeric}`;
      }
      largest = Math.max(largest, Math.abs(g.data[i]!));
    }
    expect(worst, where).toBeLessThan(GRAD_TOL);
    // A gradient that is zero everywhere would pass vacuously; these cases all have signal.
    expect(largest, `gradient ${k} is all zero`).toBeGreaterThan(1e-3);
  });
}

// ---------------------------------------------------------------------------------------------

describe('matmul', () => {
  it('[2, 2] · [2, 2] by hand', () => {
    const y = matmul(host([1, 2, 3, 4], [2, 2]), host([5, 6, 7, 8], [2, 2]));
    // [1 2; 3 4]·[5 6; 7 8] = [1·5+2·7, 1·6+2·8; 3·5+4·7, 3·6+4·8]
    expectTensor(y, [2, 2], [19, 22, 43, 50]);
  });

  it('transposed operands by hand', () => {
    // Aᵀ stored as [1 3; 2 4] and Bᵀ stored as [5 7; 6 8] give the same product as above.
    const y = matmul(host([1, 3, 2, 4], [2, 2]), host([5, 7, 6, 8], [2, 2]), { transA: true, transB: true });
    expectTensor(y, [2, 2], [19, 22, 43, 50]);
    // [1, 2, 3] (1×3) · [1, 2, 3]ᵀ stored as [1, 3] → 1 + 4 + 9
    expectTensor(matmul(host([1, 2, 3], [1, 3]), host([1, 2, 3], [1, 3]), { transB: true }), [1, 1], [14]);
  });

  it('bias then ReLU by hand', () => {
    // [1, -2]·I = [1, -2]; + [0.5, 0.5] = [1.5, -1.5]; ReLU → [1.5, 0]
    const y = matmul(host([1, -2], [1, 2]), host([1, 0, 0, 1], [2, 2]), { bias: host([0.5, 0.5], [2]), relu: true });
    expectTensor(y, [1, 2], [1.5, 0]);
  });

  it('broadcast b and its backward by hand', () => {
    // a [2, 1, 2] = ([1 2], [3 4]); b [2, 1] = [1; 1] shared by both batches.
    const a = host([1, 2, 3, 4], [2, 1, 2]);
    const b = host([1, 1], [2, 1]);
    expectTensor(matmul(a, b), [2, 1, 1], [3, 7]);
    // dy = 1 everywhere: da[b] = dy·bᵀ = [1, 1]; db = Σ_batch a[b]ᵀ·dy = [1+3; 2+4].
    const { da, db } = matmulBackward(a, b, host([1, 1], [2, 1, 1]));
    expectTensor(da, [2, 1, 2], [1, 1, 1, 1]);
    expectTensor(db, [2, 1], [4, 6]);
  });

  it('backward of [1, 2] · [3; 4] by hand', () => {
    // y = 1·3 + 2·4; dy = 2: da = 2·[3, 4], db = 2·[1; 2]
    const { da, db } = matmulBackward(host([1, 2], [1, 2]), host([3, 4], [2, 1]), host([2], [1, 1]));
    expectTensor(da, [1, 2], [6, 8]);
    expectTensor(db, [2, 1], [2, 4]);
  });

  const [M, K, N] = [3, 4, 2];
  const layouts = ['2-D', 'batched', 'broadcast b'] as const;
  let seed = 100;
  for (const layout of layouts) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const s = (seed += 10);
        it(`backward matches finite differences: ${layout}, transA=${transA}, transB=${transB}`, () => {
          const batch = layout === '2-D' ? [] : [layout === 'batched' ? 2 : 3];
          const aShape = [...batch, ...(transA ? [K, M] : [M, K])];
          const bShape = [...(layout === 'batched' ? batch : []), ...(transB ? [N, K] : [K, N])];
          const attrs: GemmAttrs = { transA, transB };
          const a = randomHost(aShape, s);
          const b = randomHost(bShape, s + 1);
          expect(matmul(a, b, attrs).shape).toEqual([...batch, M, N]);
          gradCheck(
            ([a, b]) => matmul(a!, b!, attrs),
            [a, b],
            (dy) => {
              const { da, db } = matmulBackward(a, b, dy, attrs);
              return [da, db];
            },
            s + 2,
          );
        });
      }
    }
  }

  it('rejects an inner-dimension mismatch and a bad bias', () => {
    expectError(() => matmul(hostZeros([2, 3]), hostZeros([4, 5])), ShapeError, 'matmul', '[2, 3]', '[4, 5]');
    expectError(
      () => matmul(hostZeros([2, 3]), hostZeros([3, 5]), { bias: hostZeros([3]) }),
      ShapeError,
      'matmul',
      'bias [3]',
      '[5]',
    );
    expectError(
      () => matmulBackward(hostZeros([2, 3]), hostZeros([3, 5]), hostZeros([5, 2])),
      ShapeError,
      'matmulBackward',
      '[5, 2]',
      '[2, 5]',
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('conv2d', () => {
  it('1×1×3×3 input, 2×2 kernel, by hand', () => {
    // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4], bias 1:
    // y[0,0] = 1·1 + 2·2 + 4·3 + 5·4 + 1 = 38, y[0,1] = 2 + 6 + 15 + 24 + 1 = 48,
    // y[1,0] = 4 + 10 + 21 + 32 + 1 = 68,      y[1,1] = 5 + 12 + 24 + 36 + 1 = 78
    const x = host([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = host([1, 2, 3, 4], [1, 1, 2, 2]);
    expectTensor(conv2d(x, w, { bias: host([1], [1]) }), [1, 1, 2, 2], [38, 48, 68, 78]);
  });

  it('zero padding by hand', () => {
    // x = [1 2; 3 4] padded by 1, 2×2 all-ones kernel: each output sums the covered input cells.
    const y = conv2d(host([1, 2, 3, 4], [1, 1, 2, 2]), host([1, 1, 1, 1], [1, 1, 2, 2]), { padding: 1 });
    expectTensor(y, [1, 1, 3, 3], [1, 3, 2, 4, 10, 6, 3, 7, 4]);
  });

  it('asymmetric padding, non-square stride and dilation, by hand', () => {
    // NOTE: finite differences cannot catch these: a mix-up made the same way in the forward and
    // both backward passes (top for bottom, dilH for dilW) still gives a consistent gradient.
    const x = host([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const one = host([1], [1, 1, 1, 1]);
    // padding [top 1, bottom 0, left 2, right 1] around [1 2; 3 4], 1×1 kernel of 1
    expectTensor(conv2d(host([1, 2, 3, 4], [1, 1, 2, 2]), one, { padding: [1, 0, 2, 1] }), [1, 1, 3, 5], [
      0, 0, 0, 0, 0,
      0, 0, 1, 2, 0,
      0, 0, 3, 4, 0,
    ]);
    // stride [2, 1]: rows 0 and 2, every column
    expectTensor(conv2d(x, one, { stride: [2, 1] }), [1, 1, 2, 3], [1, 2, 3, 7, 8, 9]);
    // dilation [1, 2], w = [1 2; 3 4] spans 2×3: y[0] = 1·x00 + 2·x02 + 3·x10 + 4·x12 = 1 + 6 + 12 + 24,
    // y[1] = 1·x10 + 2·x12 + 3·x20 + 4·x22 = 4 + 12 + 21 + 36
    expectTensor(conv2d(x, host([1, 2, 3, 4], [1, 1, 2, 2]), { dilation: [1, 2] }), [1, 1, 2, 1], [43, 73]);
  });

  it("'same' pads the extra row and column at the bottom and right, as TF and PyTorch do, by hand", () => {
    // An even kernel needs 1 row and 1 column of padding in all: with it at the bottom/right, the
    // kernel [1 0; 0 0] picks each pixel itself; at the top/left it would shift the image by one.
    const x = host(Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    expectTensor(conv2d(x, host([1, 0, 0, 0], [1, 1, 2, 2]), { padding: 'same' }), [1, 1, 4, 4], Array.from(x.data));
    // Stride 2 on 5 columns: out = ⌈5/2⌉ = 3, total padding (3−1)·2 + 3 − 5 = 2, split 1 / 1.
    const row = host([1, 2, 3, 4, 5], [1, 1, 1, 5]);
    expectTensor(conv2d(row, host([1, 0, 0], [1, 1, 1, 3]), { padding: 'same', stride: [1, 2] }), [1, 1, 1, 3], [0, 2, 4]);
  });

  it('groups keep channels apart, and ReLU, by hand', () => {
    // groups = 2: y0 = 10·x0, y1 = 100·x1 (no cross terms).
    expectTensor(conv2d(host([2, 3], [1, 2, 1, 1]), host([10, 100], [2, 1, 1, 1]), { groups: 2 }), [1, 2, 1, 1], [20, 300]);
    // 2·[1, -1] = [2, -2], ReLU → [2, 0]
    expectTensor(conv2d(host([1, -1], [1, 1, 1, 2]), host([2], [1, 1, 1, 1]), { relu: true }), [1, 1, 1, 2], [2, 0]);
  });

  it('backward by hand', () => {
    // One output y = Σ x·w with dy = 2: dx = 2·w, dw = 2·x, dbias = 2.
    const x = host([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = host([5, 6, 7, 8], [1, 1, 2, 2]);
    const dy = host([2], [1, 1, 1, 1]);
    expectTensor(conv2dBackwardInput(dy, w, [1, 1, 2, 2]), [1, 1, 2, 2], [10, 12, 14, 16]);
    expectTensor(conv2dBackwardFilter(x, dy, [1, 1, 2, 2]), [1, 1, 2, 2], [2, 4, 6, 8]);
    expectTensor(conv2dBackwardBias(dy), [1], [2]);
    // 1×1 kernel 5 with stride 2 on 3×3 reads only the corners: dx = 5 there, 0 elsewhere.
    const dx = conv2dBackwardInput(host([1, 1, 1, 1], [1, 1, 2, 2]), host([5], [1, 1, 1, 1]), [1, 1, 3, 3], { stride: 2 });
    expectTensor(dx, [1, 1, 3, 3], [5, 0, 5, 0, 0, 0, 5, 0, 5]);
  });

  const cases: { name: string; x: number[]; w: number[]; attrs: Conv2dAttrs }[] = [
    { name: 'stride 2, padding 1, 3-channel input', x: [2, 3, 7, 7], w: [4, 3, 3, 3], attrs: { stride: 2, padding: 1 } },
    { name: 'asymmetric padding [1, 0, 2, 1]', x: [1, 2, 5, 6], w: [3, 2, 3, 2], attrs: { padding: [1, 0, 2, 1] } },
    { name: "'same', stride 1", x: [1, 2, 5, 5], w: [2, 2, 3, 3], attrs: { padding: 'same' } },
    { name: "'same', stride 2, even kernel", x: [1, 2, 6, 5], w: [2, 2, 2, 2], attrs: { padding: 'same', stride: 2 } },
    { name: 'dilation 2', x: [1, 2, 7, 7], w: [3, 2, 3, 3], attrs: { dilation: 2, padding: 1 } },
    { name: 'groups = 2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], attrs: { groups: 2, padding: 1 } },
    { name: 'depthwise (groups = C)', x: [1, 3, 5, 5], w: [3, 1, 3, 3], attrs: { groups: 3, padding: 1 } },
    { name: 'depthwise, multiplier 2, stride 2', x: [1, 3, 5, 5], w: [6, 1, 3, 3], attrs: { groups: 3, stride: 2 } },
    { name: '1×1 kernel', x: [2, 3, 4, 4], w: [5, 3, 1, 1], attrs: {} },
    { name: 'stride [2, 1], dilation [1, 2], padding [1, 2]', x: [1, 2, 6, 7], w: [2, 2, 2, 3], attrs: { stride: [2, 1], dilation: [1, 2], padding: [1, 2] } },
  ];
  cases.forEach((c, idx) => {
    it(`dx, dw and dbias match finite differences: ${c.name}`, () => {
      const s = 1000 + 10 * idx;
      const x = randomHost(c.x, s);
      const w = randomHost(c.w, s + 1);
      const b = randomHost([c.w[0]!], s + 2);
      gradCheck(
        ([x, w, b]) => conv2d(x!, w!, { ...c.attrs, bias: b! }),
        [x, w, b],
        (dy) => [
          conv2dBackwardInput(dy, w, c.x, c.attrs),
          conv2dBackwardFilter(x, dy, c.w, c.attrs),
          conv2dBackwardBias(dy),
        ],
        s + 3,
      );
    });
  });

  it('rejects bad shapes and attributes with the right error', () => {
    const x = hostZeros([1, 3, 5, 5]);
    expectError(() => conv2d(x, hostZeros([4, 2, 3, 3])), ShapeError, 'conv2d', '[1, 3, 5, 5]', '[4, 2, 3, 3]');
    expectError(() => conv2d(x, hostZeros([4, 1, 3, 3]), { groups: 2 }), AttributeError, 'conv2d', 'groups=2', '[1, 3, 5, 5]');
    expectError(() => conv2d(x, hostZeros([4, 3, 3, 3]), { stride: 0 }), AttributeError, 'conv2d', 'stride', '0');
    expectError(() => conv2d(x, hostZeros([4, 3, 3, 3]), { padding: -1 }), AttributeError, 'conv2d', 'padding', '-1');
    expectError(() => conv2d(hostZeros([1, 1, 3, 3]), hostZeros([1, 1, 5, 5])), ShapeError, 'conv2d', '5×5', '3×3');
    expectError(
      () => conv2d(x, hostZeros([4, 3, 3, 3]), { bias: hostZeros([3]) }),
      ShapeError,
      'conv2d',
      'bias [3]',
      '[4]',
    );
  });

  it('backward passes reject a dy of the wrong shape', () => {
    const x = hostZeros([1, 3, 5, 5]);
    const w = hostZeros([4, 3, 3, 3]);
    const dy = hostZeros([1, 4, 5, 5]); // the output is [1, 4, 3, 3] without padding
    expectError(() => conv2dBackwardInput(dy, w, x.shape), ShapeError, 'conv2dBackwardInput', '[1, 4, 5, 5]', '[1, 4, 3, 3]');
    expectError(() => conv2dBackwardFilter(x, dy, w.shape), ShapeError, 'conv2dBackwardFilter', '[1, 4, 5, 5]', '[1, 4, 3, 3]');
    expectError(() => conv2dBackwardBias(hostZeros([4, 3])), ShapeError, 'conv2dBackwardBias', '[4, 3]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('maxPool2d', () => {
  it('2×2 windows on 4×4 by hand', () => {
    const x = host(Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    expectTensor(maxPool2d(x, { kernelSize: 2 }), [1, 1, 2, 2], [6, 8, 14, 16]);
  });

  it('padding never wins, even over negative inputs, by hand', () => {
    // x = [-1 -2; -3 -4], 2×2 windows, stride 1, padding 1: each window's max over its real cells.
    const y = maxPool2d(host([-1, -2, -3, -4], [1, 1, 2, 2]), { kernelSize: 2, stride: 1, padding: 1 });
    expectTensor(y, [1, 1, 3, 3], [-1, -1, -2, -1, -1, -2, -3, -3, -4]);
  });

  it('asymmetric padding [1, 0, 0, 1] by hand', () => {
    // x = [1 2; 3 4], 2×2 windows, stride 1, one padding row on top and one column on the right:
    // windows cover {1, 2}, {2}, {1, 2, 3, 4}, {2, 4}.
    const attrs: Pool2dAttrs = { kernelSize: 2, stride: 1, padding: [1, 0, 0, 1] };
    expectTensor(maxPool2d(host([1, 2, 3, 4], [1, 1, 2, 2]), attrs), [1, 1, 2, 2], [2, 2, 4, 4]);
  });

  it("'same' with an even window pads at the bottom and right, by hand", () => {
    // x = [1 2 3; 4 5 6; 7 8 9], 2×2 windows, stride 1: the last row and column see only real cells below and right.
    const x = host([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    expectTensor(maxPool2d(x, { kernelSize: 2, stride: 1, padding: 'same' }), [1, 1, 3, 3], [5, 6, 6, 8, 9, 9, 8, 9, 9]);
  });

  it('ties: the first maximum in row-major window order takes the gradient', () => {
    // One 2×2 window of [3 3; 3 1]: the gradient goes to the first 3 only.
    const x = host([3, 3, 3, 1], [1, 1, 2, 2]);
    expectTensor(maxPool2dBackward(x, host([1], [1, 1, 1, 1]), { kernelSize: 2 }), [1, 1, 2, 2], [1, 0, 0, 0]);
    // 1×2 windows, stride 1, over [5 5 1]: window 0 picks x[0], window 1 (= [5, 1]) picks x[1].
    const x2 = host([5, 5, 1], [1, 1, 1, 3]);
    const attrs: Pool2dAttrs = { kernelSize: [1, 2], stride: 1 };
    expectTensor(maxPool2d(x2, attrs), [1, 1, 1, 2], [5, 5]);
    expectTensor(maxPool2dBackward(x2, host([1, 10], [1, 1, 1, 2]), attrs), [1, 1, 1, 3], [1, 10, 0]);
  });

  const cases: { name: string; x: number[]; attrs: Pool2dAttrs }[] = [
    { name: '3×3, stride 2, padding 1', x: [2, 2, 7, 7], attrs: { kernelSize: 3, stride: 2, padding: 1 } },
    { name: '[3, 2], stride [1, 2], padding [1, 1, 0, 1]', x: [1, 3, 5, 6], attrs: { kernelSize: [3, 2], stride: [1, 2], padding: [1, 1, 0, 1] } },
    { name: "2×2, stride 1 (overlapping), 'same'", x: [1, 2, 5, 5], attrs: { kernelSize: 2, stride: 1, padding: 'same' } },
  ];
  cases.forEach((c, idx) => {
    it(`backward matches finite differences (distinct inputs): ${c.name}`, () => {
      const s = 2000 + 10 * idx;
      const x = distinctHost(c.x, s);
      gradCheck(([x]) => maxPool2d(x!, c.attrs), [x], (dy) => [maxPool2dBackward(x, dy, c.attrs)], s + 1);
    });
  });

  it('rejects a dy of the wrong shape and padding as large as the window', () => {
    const x = hostZeros([1, 1, 4, 4]);
    expectError(() => maxPool2dBackward(x, hostZeros([1, 1, 3, 3]), { kernelSize: 2 }), ShapeError, 'maxPool2dBackward', '[1, 1, 3, 3]', '[1, 1, 2, 2]');
    expectError(() => maxPool2d(x, { kernelSize: 2, padding: 2 }), AttributeError, 'maxPool2d', 'padding');
  });
});

// ---------------------------------------------------------------------------------------------

describe('avgPool2d', () => {
  it('2×2 windows on 4×4 by hand', () => {
    const x = host(Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    // (1+2+5+6)/4, (3+4+7+8)/4, (9+10+13+14)/4, (11+12+15+16)/4
    expectTensor(avgPool2d(x, { kernelSize: 2 }), [1, 1, 2, 2], [3.5, 5.5, 11.5, 13.5]);
  });

  it('padding is left out of the divisor, forward and backward, by hand', () => {
    // x = [1 2; 3 4], 2×2 windows, stride 1, padding 1: corners see 1 cell, edges 2, the centre 4.
    const attrs: Pool2dAttrs = { kernelSize: 2, stride: 1, padding: 1 };
    const x = host([1, 2, 3, 4], [1, 1, 2, 2]);
    expectTensor(avgPool2d(x, attrs), [1, 1, 3, 3], [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
    // dy = 1: each cell is in one corner (1/1), two edge (1/2 each) and the centre (1/4) window.
    const dx = avgPool2dBackward(host(new Array(9).fill(1), [1, 1, 3, 3]), [1, 1, 2, 2], attrs);
    expectTensor(dx, [1, 1, 2, 2], [2.25, 2.25, 2.25, 2.25]);
  });

  it("'same' with an even window pads at the bottom and right, by hand", () => {
    // x = [1 2 3; 4 5 6; 7 8 9], 2×2 windows, stride 1; padding is left out of the divisor.
    const x = host([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    expectTensor(avgPool2d(x, { kernelSize: 2, stride: 1, padding: 'same' }), [1, 1, 3, 3], [3, 4, 4.5, 6, 7, 7.5, 7.5, 8.5, 9]);
  });

  it('asymmetric padding [1, 0, 0, 1] by hand', () => {
    // x = [1 2; 3 4], 2×2 windows, stride 1: windows cover {1, 2}, {2}, {1, 2, 3, 4}, {2, 4}.
    const attrs: Pool2dAttrs = { kernelSize: 2, stride: 1, padding: [1, 0, 0, 1] };
    expectTensor(avgPool2d(host([1, 2, 3, 4], [1, 1, 2, 2]), attrs), [1, 1, 2, 2], [1.5, 2, 2.5, 3]);
  });

  const cases: { name: string; x: number[]; attrs: Pool2dAttrs }[] = [
    { name: '3×3, stride 2, padding 1', x: [2, 2, 7, 7], attrs: { kernelSize: 3, stride: 2, padding: 1 } },
    { name: '[3, 2], stride [2, 1], padding [1, 1, 0, 1]', x: [1, 3, 5, 6], attrs: { kernelSize: [3, 2], stride: [2, 1], padding: [1, 1, 0, 1] } },
    { name: "2×2, stride 1, 'same'", x: [1, 2, 5, 5], attrs: { kernelSize: 2, stride: 1, padding: 'same' } },
  ];
  cases.forEach((c, idx) => {
    it(`backward matches finite differences: ${c.name}`, () => {
      const s = 3000 + 10 * idx;
      const x = randomHost(c.x, s);
      gradCheck(([x]) => avgPool2d(x!, c.attrs), [x], (dy) => [avgPool2dBackward(dy, c.x, c.attrs)], s + 1);
    });
  });

  it('rejects a dy of the wrong shape', () => {
    expectError(() => avgPool2dBackward(hostZeros([1, 1, 3, 3]), [1, 1, 4, 4], { kernelSize: 2 }), ShapeError, 'avgPool2dBackward', '[1, 1, 3, 3]', '[1, 1, 2, 2]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('globalAvgPool', () => {
  it('forward and backward by hand', () => {
    const x = host([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
    expectTensor(globalAvgPool(x), [1, 2], [2.5, 25]);
    // dy / (H·W) = [1/4, 2/4] spread over each channel
    expectTensor(globalAvgPoolBackward(host([1, 2], [1, 2]), [1, 2, 2, 2]), [1, 2, 2, 2], [0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5]);
  });

  it('backward matches finite differences', () => {
    const x = randomHost([2, 3, 4, 5], 4000);
    gradCheck(([x]) => globalAvgPool(x!), [x], (dy) => [globalAvgPoolBackward(dy, x.shape)], 4001);
  });

  it('rejects a dy of the wrong shape', () => {
    expectError(() => globalAvgPoolBackward(hostZeros([2, 4]), [2, 3, 4, 5]), ShapeError, 'globalAvgPoolBackward', '[2, 4]', '[2, 3]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('activations', () => {
  const x = host([-1, 0, 2], [3]);

  it('relu and its gradient by hand, 0 at x == 0', () => {
    expectTensor(relu(x), [3], [0, 0, 2]);
    expectTensor(reluBackward(x, host([5, 5, 5], [3])), [3], [0, 0, 5]);
  });

  it('leaky relu and its gradient by hand, slope alpha at x == 0', () => {
    expectTensor(leakyRelu(x, 0.1), [3], [-0.1, 0, 2]);
    expectTensor(leakyReluBackward(x, host([1, 1, 1], [3]), 0.1), [3], [0.1, 0.1, 1]);
  });

  it('sigmoid and tanh by hand', () => {
    // sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; tanh(ln 2) = (2 − 1/2) / (2 + 1/2) = 3/5
    expectTensor(sigmoid(host([0, Math.log(3)], [2])), [2], [0.5, 0.75]);
    expectTensor(tanh(host([0, Math.log(2)], [2])), [2], [0, 0.6]);
    // take the OUTPUT: 2·0.5·0.5 = 0.5; 1 − 0.6² = 0.64
    expectTensor(sigmoidBackward(host([0.5], [1]), host([2], [1])), [1], [0.5]);
    expectTensor(tanhBackward(host([0.6], [1]), host([1], [1])), [1], [0.64]);
    // far tails stay finite
    expectTensor(sigmoid(host([-1000, 1000], [2])), [2], [0, 1]);
  });

  it('backward matches finite differences (x kept away from 0 for relu and leaky relu)', () => {
    const xr = awayFromZero([2, 3, 4], 5000);
    gradCheck(([x]) => relu(x!), [xr], (dy) => [reluBackward(xr, dy)], 5001);
    const xl = awayFromZero([2, 3, 4], 5010);
    gradCheck(([x]) => leakyRelu(x!, 0.2), [xl], (dy) => [leakyReluBackward(xl, dy, 0.2)], 5011);
    const xs = randomHost([2, 3, 4], 5020, -3, 3);
    gradCheck(([x]) => sigmoid(x!), [xs], (dy) => [sigmoidBackward(sigmoid(xs), dy)], 5021);
    const xt = randomHost([2, 3, 4], 5030, -2, 2);
    gradCheck(([x]) => tanh(x!), [xt], (dy) => [tanhBackward(tanh(xt), dy)], 5031);
  });

  it('rejects mismatched shapes', () => {
    expectError(() => reluBackward(hostZeros([2, 3]), hostZeros([3, 2])), ShapeError, 'reluBackward', '[2, 3]', '[3, 2]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('softmaxCrossEntropy', () => {
  it('loss, probabilities and gradient by hand', () => {
    // Row 0: logits [0, 0] → p = [1/2, 1/2], label 0, loss ln 2.
    // Row 1: logits [0, ln 3] → p = [1/4, 3/4], label 1, loss −ln(3/4).
    const logits = host([0, 0, 0, Math.log(3)], [2, 2]);
    const labels = host([0, 1], [2]);
    const { loss, probs } = softmaxCrossEntropy(logits, labels);
    expectTensor(loss, [1], [(Math.log(2) - Math.log(0.75)) / 2]);
    expectTensor(probs, [2, 2], [0.5, 0.5, 0.25, 0.75]);
    // (p − onehot) / N: row 0 [−1/2, 1/2]/2, row 1 [1/4, −1/4]/2
    expectTensor(softmaxCrossEntropyBackward(logits, labels), [2, 2], [-0.25, 0.25, 0.125, -0.125]);
    expectTensor(softmaxCrossEntropyBackward(logits, labels, 4), [2, 2], [-1, 1, 0.5, -0.5]);
  });

  it('is stable for huge logits', () => {
    // logits [1000, 0]: p = [1, e^−1000 ≈ 0]; loss 0 for label 0, 1000 for label 1.
    const logits = host([1000, 0, 1000, 0], [2, 2]);
    const { loss, probs } = softmaxCrossEntropy(logits, host([0, 1], [2]));
    expectTensor(loss, [1], [500]);
    expectTensor(probs, [2, 2], [1, 0, 1, 0]);
  });

  it('backward matches finite differences', () => {
    const logits = randomHost([4, 5], 6000, -3, 3);
    const labels = host([0, 4, 2, 2], [4]);
    gradCheck(
      ([z]) => softmaxCrossEntropy(z!, labels).loss,
      [logits],
      (dy) => [softmaxCrossEntropyBackward(logits, labels, dy.data[0]!)],
      6001,
    );
  });

  it('rejects bad labels and shapes', () => {
    const logits = hostZeros([3, 4]);
    expectError(() => softmaxCrossEntropy(logits, host([0, 4, 1], [3])), AttributeError, 'softmaxCrossEntropy', 'label 4', 'index 1', 'C = 4');
    expectError(() => softmaxCrossEntropy(logits, host([0, 1, 1.5], [3])), AttributeError, 'softmaxCrossEntropy', 'label 1.5', 'index 2');
    expectError(() => softmaxCrossEntropy(logits, host([-1, 1, 1], [3])), AttributeError, 'label -1', 'index 0');
    expectError(() => softmaxCrossEntropy(logits, host([0, 1], [2])), ShapeError, 'softmaxCrossEntropy', '[2]', '[3, 4]');
    expectError(() => softmaxCrossEntropyBackward(logits, host([0, 1, 9], [3])), AttributeError, 'softmaxCrossEntropyBackward', 'label 9');
  });
});

// ---------------------------------------------------------------------------------------------

describe('elementwise', () => {
  const a = host([1, 2], [2]);
  const b = host([3, 4], [2]);

  it('add, mul, scale and mulBackward by hand', () => {
    expectTensor(add(a, b), [2], [4, 6]);
    expectTensor(mul(a, b), [2], [3, 8]);
    expectTensor(scale(a, 3), [2], [3, 6]);
    // da = dy ⊙ b = [1·3, 10·4], db = dy ⊙ a = [1·1, 10·2]
    const { da, db } = mulBackward(a, b, host([1, 10], [2]));
    expectTensor(da, [2], [3, 40]);
    expectTensor(db, [2], [1, 20]);
  });

  it('mul backward matches finite differences', () => {
    const x = randomHost([2, 3, 4], 7000);
    const y = randomHost([2, 3, 4], 7001);
    gradCheck(
      ([x, y]) => mul(x!, y!),
      [x, y],
      (dy) => {
        const { da, db } = mulBackward(x, y, dy);
        return [da, db];
      },
      7002,
    );
  });

  it('rejects mismatched shapes', () => {
    expectError(() => add(a, hostZeros([3])), ShapeError, 'add', '[2]', '[3]');
    expectError(() => mul(hostZeros([2, 3]), hostZeros([3, 2])), ShapeError, 'mul', '[2, 3]', '[3, 2]');
    expectError(() => mulBackward(a, b, hostZeros([3])), ShapeError, 'mulBackward', '[3]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('sum', () => {
  const x = host([1, 2, 3, 4, 5, 6], [2, 3]);

  it('each axis by hand', () => {
    expectTensor(sum(x, 0), [3], [5, 7, 9]);
    expectTensor(sum(x, 1), [2], [6, 15]);
    expectTensor(sum(x, -1), [2], [6, 15]);
    expectTensor(sum(host([1, 2, 3], [3]), 0), [1], [6]);
  });

  it('backward broadcasts back, by hand', () => {
    expectTensor(sumBackward(host([1, 2], [2]), [2, 3], 1), [2, 3], [1, 1, 1, 2, 2, 2]);
    expectTensor(sumBackward(host([1, 2, 3], [3]), [2, 3], 0), [2, 3], [1, 2, 3, 1, 2, 3]);
  });

  for (const axis of [0, 1, 2, -1, -3]) {
    it(`backward matches finite differences: axis ${axis}`, () => {
      const xs = randomHost([2, 3, 4], 8000 + axis);
      gradCheck(([x]) => sum(x!, axis), [xs], (dy) => [sumBackward(dy, xs.shape, axis)], 8010 + axis);
    });
  }

  it('backward matches finite differences: rank 1', () => {
    const xs = randomHost([5], 8020);
    gradCheck(([x]) => sum(x!, 0), [xs], (dy) => [sumBackward(dy, [5], 0)], 8021);
  });

  it('rejects a bad axis and a dy of the wrong shape', () => {
    expectError(() => sum(x, 2), AttributeError, 'sum', 'axis 2', '[2, 3]');
    expectError(() => sum(x, -3), AttributeError, 'sum', 'axis -3');
    expectError(() => sum(x, 0.5), AttributeError, 'sum', 'axis 0.5');
    expectError(() => sumBackward(hostZeros([3]), [2, 3], 1), ShapeError, 'sumBackward', '[3]', '[2]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('sgdStep', () => {
  it('plain SGD by hand', () => {
    // p − lr·g = [2, −1] − 0.5·[1, 1]
    const r = sgdStep(host([2, -1], [2]), host([1, 1], [2]), hostZeros([2]), { lr: 0.5 });
    expectTensor(r.param, [2], [1.5, -1.5]);
    expectTensor(r.velocity, [2], [1, 1]);
  });

  it('three steps with momentum 0.9 and weight decay 0.01 by hand', () => {
    const o = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
    const grad = host([0.5], [1]);
    let param = host([1], [1]);
    let velocity = hostZeros([1]);
    const before = Float64Array.from(param.data);
    // step 1: g = 0.5 + 0.01·1 = 0.51; v = 0.51; p = 1 − 0.051
    ({ param, velocity } = sgdStep(param, grad, velocity, o));
    expect(before).toEqual(Float64Array.from([1])); // the input was not modified
    expectTensor(param, [1], [0.949]);
    expectTensor(velocity, [1], [0.51]);
    // step 2: g = 0.5 + 0.00949 = 0.50949; v = 0.459 + 0.50949 = 0.96849; p = 0.949 − 0.096849
    ({ param, velocity } = sgdStep(param, grad, velocity, o));
    expectTensor(velocity, [1], [0.96849]);
    expectTensor(param, [1], [0.852151]);
    // step 3: g = 0.50852151; v = 0.871641 + 0.50852151 = 1.38016251; p = 0.852151 − 0.138016251
    ({ param, velocity } = sgdStep(param, grad, velocity, o));
    expectTensor(velocity, [1], [1.38016251]);
    expectTensor(param, [1], [0.714134749]);
  });

  it('leaves its inputs unchanged and rejects mismatched shapes', () => {
    const p = host([1, 2], [2]);
    const g = host([3, 4], [2]);
    const v = host([5, 6], [2]);
    sgdStep(p, g, v, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
    expect([...p.data, ...g.data, ...v.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expectError(() => sgdStep(p, hostZeros([3]), v, { lr: 0.1 }), ShapeError, 'sgdStep', '[2]', '[3]');
  });
});

describe('adamStep', () => {
  it('three steps by hand', () => {
    const o = { lr: 0.1 };
    let s = { param: host([1], [1]), m: hostZeros([1]), v: hostZeros([1]) };
    // step 1, g = 0.5: m = 0.05, v = 0.00025; m̂ = 0.05/0.1 = 0.5, v̂ = 0.00025/0.001 = 0.25;
    // p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.9 + 2e-9 (to first order in eps)
    s = adamStep(s.param, host([0.5], [1]), s.m, s.v, { ...o, step: 1 });
    expectTensor(s.m, [1], [0.05]);
    expectTensor(s.v, [1], [0.00025]);
    expectTensor(s.param, [1], [0.900000002], 1e-15);
    // step 2, g = 0.5: m = 0.045 + 0.05 = 0.095, v = 0.00024975 + 0.00025 = 0.00049975;
    // m̂ = 0.095/0.19 = 0.5, v̂ = 0.00049975/0.001999 = 0.25: the same step again.
    s = adamStep(s.param, host([0.5], [1]), s.m, s.v, { ...o, step: 2 });
    expectTensor(s.m, [1], [0.095]);
    expectTensor(s.v, [1], [0.00049975]);
    expectTensor(s.param, [1], [0.800000004], 1e-15);
    // step 3, g = −1: m = 0.0855 − 0.1 = −0.0145, v = 0.00049925025 + 0.001 = 0.00149925025;
    // m̂ = −0.0145/(1 − 0.9³) = −0.0145/0.271, v̂ = 0.00149925025/(1 − 0.999³) = 0.00149925025/0.002997001
    s = adamStep(s.param, host([-1], [1]), s.m, s.v, { ...o, step: 3 });
    expectTensor(s.m, [1], [-0.0145]);
    expectTensor(s.v, [1], [0.00149925025]);
    expectTensor(s.param, [1], [0.800000004 + (0.1 * (0.0145 / 0.271)) / (Math.sqrt(0.00149925025 / 0.002997001) + 1e-8)]);
    expect(s.param.data[0]).toBeCloseTo(0.80756494, 8);
  });

  it('weight decay adds wd·param to the gradient, by hand', () => {
    // g = 0 + 0.5·2 = 1; m = 0.1, v = 0.001; m̂ = v̂ = 1; p = 2 − 0.01·1/(1 + 1e-8)
    const s = adamStep(host([2], [1]), host([0], [1]), hostZeros([1]), hostZeros([1]), { lr: 0.01, weightDecay: 0.5, step: 1 });
    expectTensor(s.m, [1], [0.1]);
    expectTensor(s.v, [1], [0.001]);
    expectTensor(s.param, [1], [1.9900000001], 1e-15);
  });

  it('leaves its inputs unchanged and rejects bad options', () => {
    const p = host([1, 2], [2]);
    const g = host([3, 4], [2]);
    const m = host([5, 6], [2]);
    const v = host([7, 8], [2]);
    adamStep(p, g, m, v, { lr: 0.1, weightDecay: 0.1, step: 4 });
    expect([...p.data, ...g.data, ...m.data, ...v.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expectError(() => adamStep(p, g, m, v, { lr: 0.1, step: 0 }), AttributeError, 'adamStep', 'step');
    expectError(() => adamStep(p, g, m, v, { lr: 0.1, beta1: 1, step: 1 }), AttributeError, 'adamStep', 'beta1');
    expectError(() => adamStep(p, g, hostZeros([3]), v, { lr: 0.1, step: 1 }), ShapeError, 'adamStep', '[2]', '[3]');
  });
});
