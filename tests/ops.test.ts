// The shared op suite: every op, forward and backward, on WebGPU against the CPU
// reference, on seeded random inputs. One row per (op, attrs, shapes).
//
// Tolerance: |gpu − ref| ≤ atol + rtol·|ref|, with ref in float64 and gpu in f32.
// A K-term dot product of values in [−1, 1] has a sum of size ≈ √K/3 and an f32
// rounding error of ≈ ε·√K·√K/3 = ε·K/3 (ε = 6e-8), i.e. 2e-8·K. We allow 1e-6·K + 1e-5:
// 50× headroom for summation order and the emulators' non-fused multiply-adds, yet a
// wrong index (an error of order 0.1) still fails. Pointwise ops use K = 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, compare, type AnyTensor, type Backend, type WebGpuBackend } from '../src/backend.js';
import type { Conv2dAttrs, Pool2dAttrs } from '../src/ops/geometry.js';
import { conv2dGeom, pool2dGeom } from '../src/ops/geometry.js';
import { conv2dBwdFilterDispatches, conv2dBwdInputRoute, conv2dFwdDispatches, conv2dScratch, colPasses, im2colFilterGroups, im2colFilterPlan, useIm2col } from '../src/ops/conv2d.js';
import { gemmDispatch, gemmScratch, sharedTile } from '../src/ops/gemm.js';
import { elementwiseDispatch, elementwiseKernel } from '../src/ops/elementwise.js';
import { vec4Kernel } from '../src/ops/dispatch.js';
import { sizeOf } from '../src/shape.js';
import type { Dispatch } from '../src/runtime/engine.js';
import { gpuBackend } from './helpers/gpu.js';
import { defaultTuning, subgroupKernelsFit, type Tuning } from '../src/ops/tuning.js';
import { rng } from './helpers/rng.js';
import { sweep } from './helpers/sweep.js';
import { withLimits } from './helpers/limits.js';
import { DeviceLimitError } from '../src/errors.js';

/** |got − want| ≤ 1e-5 + 1e-6·K + 1e-4·|want| everywhere (the suite's tolerance, K the longest reduction); names the first element that is not. */
function expectClose(got: Float32Array, want: Float32Array, k: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let at = -1;
  for (let j = 0; j < got.length && at < 0; j++) if (!(Math.abs(got[j]! - want[j]!) <= 1e-5 + 1e-6 * k + 1e-4 * Math.abs(want[j]!))) at = j;
  expect(at, `${what}: element ${at} gpu=${got[at]} ref=${want[at]} (tolerance 1e-5 + 1e-6·${k} + 1e-4·|ref|)`).toBe(-1);
}

type Inputs<T> = Record<string, T>;
interface InputSpec {
  shape: number[];
  /** 'uniform' in [-1, 1) (default), 'labels' (class indices < classes), 'distinct' (no ties), 'positive'. */
  kind?: 'uniform' | 'labels' | 'distinct' | 'positive' | 'awayFromZero';
  classes?: number;
}
interface OpCase {
  name: string;
  inputs: Record<string, InputSpec>;
  /** Length of the longest reduction, for the tolerance. */
  k: number;
  run<T extends AnyTensor>(be: Backend<T>, x: Inputs<T>): Promise<T[]>;
}

function makeData(spec: InputSpec, seed: number): Float32Array {
  const n = sizeOf(spec.shape);
  const u = rng(seed);
  const out = new Float32Array(n);
  switch (spec.kind ?? 'uniform') {
    case 'labels':
      for (let i = 0; i < n; i++) out[i] = Math.floor(u() * spec.classes!);
      break;
    case 'distinct': {
      // A shuffled ramp: every value different, so max pooling has no ties.
      const idx = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(u() * (i + 1));
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
      for (let i = 0; i < n; i++) out[i] = (idx[i]! / n) * 2 - 1;
      break;
    }
    case 'positive':
      for (let i = 0; i < n; i++) out[i] = 0.1 + u();
      break;
    case 'awayFromZero':
      for (let i = 0; i < n; i++) out[i] = (u() < 0.5 ? -1 : 1) * (0.05 + u());
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = u() * 2 - 1;
  }
  return out;
}

const convShape = (x: number[], w: number[], a: Conv2dAttrs): number[] => {
  const g = conv2dGeom(x, w, a);
  return [g.n, g.o, g.oh, g.ow];
};

/** Four rows per conv configuration: forward (with bias and ReLU), dx, dw and db. */
function convCases(label: string, x: number[], w: number[], attrs: Conv2dAttrs): OpCase[] {
  const y = convShape(x, w, attrs);
  const kFwd = w[1]! * w[2]! * w[3]!;
  const kIn = (w[0]! / (attrs.groups ?? 1)) * w[2]! * w[3]!;
  const kW = y[0]! * y[2]! * y[3]!;
  return [
    {
      name: `conv2d ${label}`,
      inputs: { x: { shape: x }, w: { shape: w }, b: { shape: [w[0]!] } },
      k: kFwd,
      run: async (be, t) => [await be.conv2d(t.x!, t.w!, attrs), await be.conv2d(t.x!, t.w!, { ...attrs, bias: t.b!, relu: true })],
    },
    {
      name: `conv2dBackwardInput ${label}`,
      inputs: { dy: { shape: y }, w: { shape: w } },
      k: kIn,
      run: async (be, t) => [await be.conv2dBackwardInput(t.dy!, t.w!, x, attrs)],
    },
    {
      name: `conv2dBackwardFilter ${label}`,
      inputs: { x: { shape: x }, dy: { shape: y } },
      k: kW,
      run: async (be, t) => [await be.conv2dBackwardFilter(t.x!, t.dy!, w, attrs)],
    },
    {
      name: `conv2dBackwardBias ${label}`,
      inputs: { dy: { shape: y } },
      k: kW,
      run: async (be, t) => [await be.conv2dBackwardBias(t.dy!)],
    },
  ];
}

function poolCases(label: string, x: number[], attrs: Pool2dAttrs): OpCase[] {
  return [
    {
      name: `maxPool2d fwd+bwd ${label}`,
      inputs: { x: { shape: x, kind: 'distinct' }, seed: { shape: [1] } },
      k: 1,
      run: async (be, t) => {
        const y = await be.maxPool2d(t.x!, attrs);
        const dy = be.tensor(makeData({ shape: [...y.shape] }, 99), y.shape);
        return [y, await be.maxPool2dBackward(t.x!, dy, attrs)];
      },
    },
    {
      name: `avgPool2d fwd+bwd ${label}`,
      inputs: { x: { shape: x } },
      k: 16,
      run: async (be, t) => {
        const y = await be.avgPool2d(t.x!, attrs);
        const dy = be.tensor(makeData({ shape: [...y.shape] }, 98), y.shape);
        return [y, await be.avgPool2dBackward(dy, x, attrs)];
      },
    },
  ];
}

function gemmCases(label: string, a: number[], b: number[], o: { transA?: boolean; transB?: boolean }): OpCase[] {
  const m = o.transA ? a.at(-1)! : a.at(-2)!;
  const k = o.transA ? a.at(-2)! : a.at(-1)!;
  const n = o.transB ? b.at(-2)! : b.at(-1)!;
  const yShape = a.length === 3 ? [a[0]!, m, n] : [m, n];
  return [
    {
      name: `matmul ${label}`,
      inputs: { a: { shape: a }, b: { shape: b }, bias: { shape: [n] } },
      k,
      run: async (be, t) => [await be.matmul(t.a!, t.b!, o), await be.matmul(t.a!, t.b!, { ...o, bias: t.bias!, relu: true })],
    },
    {
      name: `matmulBackward ${label}`,
      inputs: { a: { shape: a }, b: { shape: b }, dy: { shape: yShape } },
      k: Math.max(m * (a.length === 3 ? a[0]! : 1), n),
      run: async (be, t) => {
        const { da, db } = await be.matmulBackward(t.a!, t.b!, t.dy!, o);
        return [da, db];
      },
    },
  ];
}

const cases: OpCase[] = [
  // GEMM: sizes off every tile, vectors, transposes, batched and shared B.
  ...gemmCases('37×29 · 29×43', [37, 29], [29, 43], {}),
  ...gemmCases('1×1 · 1×1', [1, 1], [1, 1], {}),
  ...gemmCases('aᵀ 19×5, b 19×7', [19, 5], [19, 7], { transA: true }),
  ...gemmCases('b ᵀ 6×33, 9×33', [6, 33], [9, 33], { transB: true }),
  ...gemmCases('both ᵀ', [17, 6], [5, 17], { transA: true, transB: true }),
  ...gemmCases('batched 3×13×10 · 3×10×11', [3, 13, 10], [3, 10, 11], {}),
  ...gemmCases('batched, shared b', [2, 9, 7], [7, 6], {}),
  ...gemmCases('batched aᵀ, shared bᵀ', [2, 7, 9], [6, 7], { transA: true, transB: true }),
  ...gemmCases('128×256 · 256×96', [128, 256], [256, 96], {}),
  // Past one 128×128 block of the GPU kernel each way, with K off its step.
  ...gemmCases('aᵀ 70×150, bᵀ 260×70', [70, 150], [260, 70], { transA: true, transB: true }),
  // Whole 128×128 blocks and K steps (the GPU kernel's unchecked fetch), and a ragged edge.
  ...gemmCases('256×136 · 136×260', [256, 136], [136, 260], {}),
  ...gemmCases('aᵀ 136×256, bᵀ 260×136', [136, 256], [260, 136], { transA: true, transB: true }),

  // conv2d: the standard's list of shapes.
  ...convCases('3-ch 7×9, 5 out, 3×3, batch 2', [2, 3, 7, 9], [5, 3, 3, 3], {}),
  ...convCases('batch 1, 1×1 kernel', [1, 6, 5, 5], [7, 6, 1, 1], {}),
  ...convCases('stride 2, padding 1', [2, 4, 11, 10], [6, 4, 3, 3], { stride: 2, padding: 1 }),
  ...convCases('asymmetric padding [1,0,2,1], stride [2,1]', [1, 3, 8, 9], [4, 3, 3, 2], { stride: [2, 1], padding: [1, 0, 2, 1] }),
  ...convCases("'same', stride 2", [2, 2, 9, 7], [3, 2, 4, 4], { stride: 2, padding: 'same' }),
  ...convCases('dilation 2, padding 2', [1, 3, 12, 11], [5, 3, 3, 3], { dilation: 2, padding: 2 }),
  ...convCases('groups 2', [2, 6, 8, 8], [10, 3, 3, 3], { groups: 2, padding: 1 }),
  ...convCases('depthwise (groups = channels), stride 2', [2, 5, 9, 9], [5, 1, 3, 3], { groups: 5, stride: 2, padding: 1 }),
  ...convCases('LeNet 5×5 on 28×28', [4, 1, 28, 28], [6, 1, 5, 5], {}),
  ...convCases('large: 64×64×32 → 64, 3×3', [1, 32, 64, 64], [64, 32, 3, 3], { padding: 1 }),
  // More output channels than one 64-wide channel panel (conv2d.fwd.channel_cols.wgsl), and
  // pixels (3·5·6) that are no multiple of a 16-pixel block.
  ...convCases('70 out-ch, 3×3 pad 1, batch 3', [3, 4, 5, 6], [70, 4, 3, 3], { padding: 1 }),
  // Channels that fill 32-wide panels but not 64-wide ones: 4 channels per lane.
  ...convCases('30 out-ch, 5×5 pad 2', [3, 1, 12, 11], [30, 1, 5, 5], { padding: 2 }),
  // "Same" convolutions with enough channels take the input gradient as a forward conv.
  ...convCases('same 16-ch, dilation 2', [2, 16, 9, 10], [8, 16, 3, 3], { dilation: 2, padding: 2 }),
  ...convCases("same 16-ch, 4×4 'same' (asymmetric)", [1, 16, 7, 8], [4, 16, 4, 4], { padding: 'same' }),
  ...convCases('same 16-ch, 1×1 padding 1 (dy cropped)', [2, 16, 5, 4], [4, 16, 1, 1], { padding: 1 }),
  // Batches that fill the CPU emulators' image tiles take conv2d.bwd_input.subgroup.wgsl
  // (columns = the images at one pixel): full tiles, a partial image tile, a partial
  // channel block, dilation and asymmetric padding, a 1×1 kernel whose padding dy holds.
  ...convCases('wide batch 64, 5×5 valid', [64, 16, 9, 9], [8, 16, 5, 5], {}),
  ...convCases('wide batch 60, 13-ch, 1×1 padding [1,0,2,1]', [60, 13, 5, 6], [9, 13, 1, 1], { padding: [1, 0, 2, 1] }),
  ...convCases('wide batch 50, 3×3 pad 1', [50, 16, 6, 7], [12, 16, 3, 3], { padding: 1 }),
  ...convCases("wide batch 64, 15-ch, [3,2] dilation 2, 'same'", [64, 15, 5, 6], [7, 15, 3, 2], { dilation: 2, padding: 'same' }),
  // A deep layer's small planes: O·C·KH·KW·N far above the im2col filter gradient's col, whose
  // GEMM on GPUs runs over all N·OH·OW pixels at once; 3×3 taps mostly in the padding.
  ...convCases('deep 2×2 planes, batch 12, 40 → 36 3×3 pad 1', [12, 40, 2, 2], [36, 40, 3, 3], { padding: 1 }),

  // Pooling.
  ...poolCases('2×2 / 2 on 3-ch 9×8', [2, 3, 9, 8], { kernelSize: 2 }),
  // Windows that tile the input exactly take maxpool2d.bwd_windows.wgsl, and 2×2 ones on rows
  // of whole vec4s maxpool2d.fwd_2x2.wgsl and maxpool2d.bwd_2x2.wgsl (2 or 1 output rows each).
  ...poolCases('2×2 / 2 tiling 3-ch 8×10, batch 1', [1, 3, 8, 10], { kernelSize: 2 }),
  ...poolCases('2×2 / 2 tiling 8×12 (2×2 windows per invocation)', [2, 3, 8, 12], { kernelSize: 2 }),
  ...poolCases('2×2 / 2 tiling 6×4 (1×2 windows per invocation)', [1, 2, 6, 4], { kernelSize: 2 }),
  ...poolCases('[3,2] / [3,2] tiling 9×6', [2, 2, 9, 6], { kernelSize: [3, 2] }),
  ...poolCases('3×3 / 2, padding 1', [1, 4, 10, 11], { kernelSize: 3, stride: 2, padding: 1 }),
  ...poolCases('[2,3] / [1,2], same', [2, 2, 7, 9], { kernelSize: [2, 3], stride: [1, 2], padding: 'same' }),
  {
    name: 'globalAvgPool fwd+bwd',
    inputs: { x: { shape: [3, 5, 6, 7] }, dy: { shape: [3, 5] } },
    k: 42,
    run: async (be, t) => [await be.globalAvgPool(t.x!), await be.globalAvgPoolBackward(t.dy!, [3, 5, 6, 7])],
  },

  // Activations: forward, and backward from the tensor each one needs; on 315 elements (one
  // per invocation) and on 120 (as vec4s: ops/dispatch.ts pointwiseDispatch).
  ...(['relu', 'leakyRelu', 'sigmoid', 'tanh'] as const).flatMap((kind) => [[3, 7, 5, 3], [2, 4, 5, 3]].map(
    (shape): OpCase => ({
      name: `${kind} fwd+bwd ${shape.join('×')}`,
      inputs: { x: { shape, kind: 'awayFromZero' }, dy: { shape } },
      k: 1,
      run: async (be, t) => {
        const x = t.x!;
        const dy = t.dy!;
        switch (kind) {
          case 'relu':
            return [await be.relu(x), await be.reluBackward(x, dy)];
          case 'leakyRelu':
            return [await be.leakyRelu(x, 0.1), await be.leakyReluBackward(x, dy, 0.1)];
          case 'sigmoid': {
            const y = await be.sigmoid(x);
            return [y, await be.sigmoidBackward(y, dy)];
          }
          case 'tanh': {
            const y = await be.tanh(x);
            return [y, await be.tanhBackward(y, dy)];
          }
        }
      },
    }),
  )),

  // Softmax cross-entropy, including large logits (stability).
  {
    name: 'softmaxCrossEntropy fwd+bwd, 37 rows × 10',
    inputs: { z: { shape: [37, 10] }, labels: { shape: [37], kind: 'labels', classes: 10 } },
    k: 37,
    run: async (be, t) => [await be.softmaxCrossEntropy(t.z!, t.labels!), await be.softmaxCrossEntropyBackward(t.z!, t.labels!, 0.5)],
  },
  {
    name: 'softmaxCrossEntropy with logits ±80 (stability)',
    inputs: { z: { shape: [5, 3] }, labels: { shape: [5], kind: 'labels', classes: 3 } },
    k: 5,
    run: async (be, t) => {
      const big = await be.scale(t.z!, 80);
      return [await be.softmaxCrossEntropy(big, t.labels!), await be.softmaxCrossEntropyBackward(big, t.labels!)];
    },
  },

  // Elementwise and reductions.
  ...[[4, 3, 5], [3, 5, 7]].map((shape): OpCase => ({
    name: `add, mul, mulBackward, scale ${shape.join('×')}`,
    inputs: { a: { shape }, b: { shape }, dy: { shape } },
    k: 1,
    run: async (be, t) => {
      const { da, db } = await be.mulBackward(t.a!, t.b!, t.dy!);
      return [await be.add(t.a!, t.b!), await be.mul(t.a!, t.b!), da, db, await be.scale(t.a!, -2.5)];
    },
  })),
  {
    name: 'sum over each axis of [4, 3, 5]',
    inputs: { x: { shape: [4, 3, 5] } },
    k: 5,
    run: async (be, t) => [await be.sum(t.x!, 0), await be.sum(t.x!, 1), await be.sum(t.x!, -1)],
  },

  // Optimizers: three in-place steps, on 91 parameters and on 104 (vec4s).
  ...[[7, 13], [8, 13]].flatMap((shape): OpCase[] => [
    {
      name: `sgdStep ×3 (momentum, weight decay) ${shape.join('×')}`,
      inputs: { p: { shape }, g: { shape } },
      k: 3,
      run: async (be, t) => {
        const v = be.zeros(shape);
        for (let i = 0; i < 3; i++) await be.sgdStep(t.p!, t.g!, v, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
        return [t.p!, v];
      },
    },
    {
      name: `adamStep ×3 ${shape.join('×')}`,
      inputs: { p: { shape }, g: { shape } },
      k: 3,
      run: async (be, t) => {
        const m = be.zeros(shape);
        const v = be.zeros(shape);
        for (let step = 1; step <= 3; step++) await be.adamStep(t.p!, t.g!, m, v, { lr: 0.01, step, weightDecay: 0.001 });
        return [t.p!, m, v];
      },
    },
  ]),
];

/**
 * Seeded random configurations beyond the hand-picked rows above: channels, kernel, stride,
 * padding, dilation, groups and batch drawn together, so the routes' edges meet in
 * combinations nobody listed (a row's name is its configuration, to rerun it by hand).
 */
function randomCases(seed: number, counts: { conv: number; pool: number; gemm: number }): OpCase[] {
  const u = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(u() * xs.length)]!;
  const upTo = (lo: number, hi: number): number => lo + Math.floor(u() * (hi - lo + 1));
  const out: OpCase[] = [];
  for (let i = 0; i < counts.conv; ) {
    const groups = pick([1, 1, 1, 2, 3]);
    const [cg, og] = [pick([1, 2, 3, 5, 8, 16]), pick([1, 2, 5, 6, 8, 16, 24, 33])];
    const [kh, kw] = [pick([1, 2, 3, 5]), pick([1, 3, 4, 5])];
    const attrs: Conv2dAttrs = {
      stride: [pick([1, 1, 2, 3]), pick([1, 1, 2])],
      dilation: [pick([1, 1, 2]), pick([1, 1, 3])],
      padding: pick<Conv2dAttrs['padding']>([0, 1, 'same', [1, 2, 0, 3], [2, 1]]),
      groups,
    };
    const x = [pick([1, 2, 3, 9, 17, 64]), cg * groups, upTo(kh, 16), upTo(kw, 17)];
    const w = [og * groups, cg, kh, kw];
    let y: number[];
    try {
      y = convShape(x, w, attrs);
    } catch {
      continue; // a window larger than the padded input: draw again
    }
    if (sizeOf(y) * cg * kh * kw > 3e6 || sizeOf(x) > 2e5) continue; // keep the reference quick
    out.push(...convCases(`random #${i} x [${x}] w [${w}] ${JSON.stringify(attrs)}`, x, w, attrs));
    i++;
  }
  for (let i = 0; i < counts.pool; ) {
    const k = pick([1, 2, 2, 3, 4]);
    const kernelSize: [number, number] = [k, u() < 0.7 ? k : pick([1, 2, 3])];
    const s = pick([0, 0, 1, 2, 3]); // 0: the default, the window
    const attrs: Pool2dAttrs = { kernelSize, ...(s ? { stride: [s, pick([1, 2, s])] as [number, number] } : {}), padding: pick<Pool2dAttrs['padding']>([0, 0, 1, 'same', [0, 1, 1, 0]]) };
    const x = [pick([1, 2, 3, 8]), pick([1, 3, 6, 16]), upTo(kernelSize[0], 17), pick([4, 8, 12, 28, upTo(kernelSize[1], 19)])];
    try {
      pool2dGeom(x, attrs, 'random');
    } catch {
      continue; // padding not smaller than the window, or no output
    }
    out.push(...poolCases(`random #${i} x [${x}] ${JSON.stringify(attrs)}`, x, attrs));
    i++;
  }
  for (let i = 0; i < counts.gemm; i++) {
    const [m, k, n] = [pick([1, 3, 16, 33, 64, 130]), pick([1, 5, 16, 64, 129]), pick([1, 4, 7, 64, 100])];
    const o = { transA: u() < 0.5, transB: u() < 0.5 };
    const batch = pick([0, 0, 2, 3]); // 0: unbatched
    const shared = batch > 0 && u() < 0.3; // one B for every batch entry
    const a = [...(batch ? [batch] : []), ...(o.transA ? [k, m] : [m, k])];
    const b = [...(batch && !shared ? [batch] : []), ...(o.transB ? [n, k] : [k, n])];
    out.push(...gemmCases(`random #${i} a [${a}] b [${b}] ${JSON.stringify(o)}`, a, b, o));
  }
  return out;
}
const { seed: randomSeed, count: randomScale } = sweep(2026, 1); // CONVGPU_TEST_SEED / CONVGPU_TEST_CONFIGS
const randomRows = randomCases(randomSeed, { conv: 12 * randomScale, pool: 8 * randomScale, gemm: 8 * randomScale });
const randomKernelRows = randomRows.filter((c) => /^(matmul|conv2d)/.test(c.name));

// One device for the whole file, as the helper intends; each suite swaps its tuning into the
// engine and restores it after (pipelines are cached by their constants). Dawn keeps a
// destroyed device's threads until GC: a CI dry-run once hung with eight lavapipe devices
// alive in this file's process, one per suite.
let shared: WebGpuBackend | undefined;
const sharedGpu = async (): Promise<WebGpuBackend> => (shared ??= await gpuBackend());
afterAll(() => shared?.engine.destroy());

function suite(title: string, rows: OpCase[], tuning?: Partial<Tuning>): void {
describe(title, () => {
  let gpu: WebGpuBackend;
  let saved: Tuning;
  const cpu = new CpuBackend();
  beforeAll(async () => {
    gpu = await sharedGpu();
    saved = gpu.engine.tuning;
    gpu.engine.tuning = { ...saved, ...tuning, subgroupSize: saved.subgroupSize };
    console.log(`adapter: ${gpu.engine.describe()}`);
  });
  afterAll(() => {
    gpu.engine.tuning = saved;
  });

  it.each(rows.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const data = Object.fromEntries(Object.entries(c.inputs).map(([k, s], j) => [k, makeData(s, 1000 * i + j)]));
    const mk = <T extends AnyTensor>(be: Backend<T>): Inputs<T> =>
      Object.fromEntries(Object.entries(c.inputs).map(([k, s]) => [k, be.tensor(data[k]!, s.shape)]));
    const before = gpu.engine.memory().liveBytes;
    const [got, want] = await Promise.all([
      gpu.engine.scope(async () => {
        const outs = await c.run(gpu, mk(gpu));
        return Promise.all(outs.map((o) => o.read()));
      }),
      c.run(cpu, mk(cpu)).then((outs) => Promise.all(outs.map((o) => o.read()))),
    ]);
    // Nothing allocated by the op outlives the scope.
    expect(gpu.engine.memory().liveBytes).toBe(before);
    const atol = 1e-5 + 1e-6 * c.k;
    const rtol = 1e-4;
    expect(got.length).toBe(want.length);
    got.forEach((g, o) => {
      const w = want[o]!;
      expect(g.length, `output ${o} length`).toBe(w.length);
      let worst = 0;
      let at = -1;
      for (let j = 0; j < g.length; j++) {
        const excess = Math.abs(g[j]! - w[j]!) - (atol + rtol * Math.abs(w[j]!));
        if (!(excess <= worst)) {
          worst = Number.isNaN(excess) ? Infinity : excess;
          at = j;
        }
      }
      expect(at, `output ${o}: element ${at} gpu=${g[at]} ref=${w[at]} (atol ${atol}, rtol ${rtol})`).toBe(-1);
    });
  });
});
}

suite('ops on WebGPU match the CPU reference', cases);
// A GPU's tuning at K step 8, for the suites whose subject is not the K step: on the emulators
// a K-16 pipeline compiles about twice as slowly (SwiftShader: a small GEMM 0.8 → 1.8 s), and
// these compile one per shape; the default-tuning suites keep K step 16.
const gpuTuningK8: Tuning = { ...defaultTuning(false), gemmTileK: 8 };
// Small workgroups, so that most GEMMs here have full slices, which take the vec4 fetches.
const sharedSmall: Partial<Tuning> = {
  gemm: 'shared', gemmTileK: 8, gemmVec4: true, gemmStages: 2, tiled: { WG_X: 4, WG_Y: 8 }, conv: { WG_X: 8, WG_Y: 2 }, rowwise: false,
};
// The GPU-oriented GEMM (workgroup-memory staging), element-wise padding and other workgroup shapes, on this adapter too.
suite(
  'gemm with workgroup-memory tiles, and other workgroup shapes, match the reference',
  cases.filter((c) => /^(matmul|conv2d 3-ch|conv2dBackward\w* (stride 2|same|wide batch)|conv2d groups)/.test(c.name)),
  sharedSmall,
);
// A GPU's defaults (8×8 register tiles in 128×128 blocks even on small GEMMs), and 8×8 tiles
// on a small workgroup, where the K step is halved to fit the staging budget. The other two
// workgroup-memory suites fetch vec4s where rows are multiples of 4 and stage into two buffers
// (gemm.shared's VEC_A / VEC_B and STAGES = 2; the GPU default has neither).
// (conv2d's forward and filter gradient go through im2col there, the input gradient through col2im;
// with sharedMinGroups 0 the filter gradient is one GEMM over all N·OH·OW pixels.)
const sharedCases = cases.filter((c) =>
  /^(matmul|conv2d(Backward\w*)? (3-ch|batch 1|stride 2|asymmetric|'same'|dilation 2|groups 2|wide batch 64, 5|deep)|conv2dBackwardFilter (70 out|30 out|wide batch|same 16-ch))/.test(c.name),
);
suite("a GPU's default tuning matches the reference", sharedCases, { ...defaultTuning(false), sharedMinGroups: 0 });
// There most of these GEMMs fit half an 8×8 block on an axis, or have K ≤ 64, and take 4-wide
// tiles (tuning.sharedTrim, sharedShortK); here the 8×8 tiles on every axis, staging rows past
// the operands' edges.
suite(
  "a GPU's default tuning without trimmed tiles matches the reference",
  sharedCases.filter((c) => /^(matmul|conv2d(Backward\w*)? (3-ch|batch 1|deep))/.test(c.name)),
  { ...gpuTuningK8, sharedMinGroups: 0, sharedTrim: false, sharedShortK: 0 },
);
// With a GPU's sharedMinGroups (128), small filter gradients split their images into groups,
// one GEMM each, then a sum (im2colFilterGroups): ragged last groups (64 images as 11 groups of
// 6, 50 as 13 of 4), even ones (60 as 20 of 3), one image per group (LeNet's 4), one group (the rest).
suite(
  "the im2col filter gradient over groups of images (a GPU's sharedMinGroups) matches the reference",
  cases.filter((c) => /^conv2dBackwardFilter (3-ch|batch 1|stride 2|dilation 2|LeNet|70 out|wide batch|deep)/.test(c.name)),
  gpuTuningK8,
);
suite('gemm with 8×8 register tiles on 4×8 workgroups matches the reference', sharedCases.filter((c) => /^matmul\w* (37×29|aᵀ 70×150|128×256|aᵀ 136×256)/.test(c.name)), {
  gemm: 'shared', sharedTile: 8, sharedMinGroups: 0, sharedShortK: 0, gemmTileK: 16, gemmVec4: true, gemmStages: 2, tiled: { WG_X: 4, WG_Y: 8 },
});
// The register-tiled GEMM and the conv kernel with 8 and with 4 rows (pixels) per invocation.
const tileCases = cases.filter((c) => /^(matmul|conv2d(BackwardInput)? (3-ch|stride 2|groups|depthwise|dilation|same|wide batch))/.test(c.name));
suite('8 rows / 8 pixels per invocation match the reference', tileCases, { gemm: 'registers', gemmRows: 8, convPixels: 8, tiled: { WG_X: 8, WG_Y: 2 } });
suite('4 rows / 4 pixels per invocation match the reference', tileCases, { gemm: 'registers', gemmRows: 4, convPixels: 4, tiled: { WG_X: 2, WG_Y: 8 } });
// The subgroup-broadcast kernels (the default on CPU adapters with a fixed subgroup size)
// with one row block and 4 columns per lane, the shapes the defaults do not reach.
const subgroupCases = cases.filter((c) => /^(matmul|conv2d(Backward\w*)? (3-ch|stride 2|groups|depthwise|dilation|same|wide batch))/.test(c.name));
suite('subgroup kernels with 1 row block and 4 columns per lane match the reference', subgroupCases, { gemm: 'subgroup', sgRows: 1, sgCols: 4, convBwdInputDirect: 1 });
// The packed subgroup GEMM (gemm.pack, then gemm.subgroup with PACKED_A/B; lavapipe packs
// 1024³-like GEMMs) on every GEMM case: edges of both panels, transposes, batches with a shared
// A or B, bias + ReLU; A alone, B alone and both. sgRows 3 gives 12-row blocks on 4-lane
// subgroups, which the packer rounds up to 16 (unpacked A keeps 12).
const packCases = cases.filter((c) => /^matmul/.test(c.name));
suite('the packed subgroup GEMM matches the reference', packCases, { gemm: 'subgroup', gemmPack: 'both' });
suite('the subgroup GEMM with only A packed, 1 row block and 4 columns per lane, matches the reference', packCases, { gemm: 'subgroup', gemmPack: 'a', sgRows: 1, sgCols: 4 });
suite('the subgroup GEMM with only B packed, and with 3 row blocks, matches the reference', packCases, { gemm: 'subgroup', gemmPack: 'b', sgRows: 3 });
suite('the packed subgroup GEMM with 3 row blocks matches the reference', packCases, { gemm: 'subgroup', gemmPack: 'both', sgRows: 3 });
// The forward and filter gradient with output channels as columns on packed weights / dy
// (lavapipe takes them where the channels fill the panels), on every conv case: groups,
// depthwise, partial panels, pixel and tap blocks; the input gradient's 'forward' route runs
// the forward kernel too.
const channelColCases = cases.filter((c) => /^conv2d(BackwardInput|BackwardFilter)? /.test(c.name));
suite('conv2d forward and filter gradient with channel columns match the reference', channelColCases, { gemm: 'subgroup', convChannelCols: 'always' });
suite('conv2d forward and filter gradient with channel columns, 1 row block and 4 channels per lane, match the reference', channelColCases.filter((c) => /^conv2d(BackwardFilter)? (3-ch|batch 1|groups|depthwise|dilation|70 out)/.test(c.name)), {
  gemm: 'subgroup', convChannelCols: 'always', sgRows: 1, sgCols: 4,
});
// The seeded random configurations on this adapter's tuning, on a GPU's tuning at K step 8
// (im2col, col2im and the workgroup-memory GEMM; K step 16 runs the fixed cases above), and
// on the register-tiled kernels.
// Then on the variants the defaults leave out: subgroup tiles of 1 row block and 4 columns,
// the packed GEMM, channel columns, and the workgroup-memory GEMM with vec4 fetches and two
// staging buffers.
suite(`seeded random configurations (seed ${randomSeed}) match the reference`, randomRows);
suite("seeded random configurations on a GPU's tuning at K step 8 match the reference", randomKernelRows, { ...gpuTuningK8, sharedMinGroups: 0 });
suite('seeded random configurations on the register-tiled kernels match the reference', randomKernelRows, { gemm: 'registers' });
suite('seeded random configurations on the subgroup kernels with 1 row block and 4 columns per lane match the reference', randomKernelRows, { gemm: 'subgroup', sgRows: 1, sgCols: 4 });
suite('seeded random configurations on the packed subgroup GEMM with 3 row blocks match the reference', randomKernelRows.filter((c) => /^matmul/.test(c.name)), { gemm: 'subgroup', gemmPack: 'both', sgRows: 3 });
suite('seeded random configurations with channel columns match the reference', randomKernelRows.filter((c) => /^conv2d/.test(c.name)), { gemm: 'subgroup', convChannelCols: 'always' });
suite('seeded random configurations on the workgroup-memory GEMM with vec4 fetches and two stages match the reference', randomKernelRows, sharedSmall);
// col2im's clipped tap loops (SwiftShader's default) on every input gradient that takes col2im
// on a GPU's tuning; the suites on that tuning above run the masked loops.
suite(
  "col2im's clipped tap loops match the reference",
  [...cases, ...randomRows].filter((c) => /^conv2dBackwardInput (?!large)/.test(c.name)),
  { ...gpuTuningK8, sharedMinGroups: 0, col2imClip: true },
);
// The direct input-gradient kernel with the default tiles, on adapters that do not pick it.
suite('the direct conv2d input-gradient kernel matches the reference', cases.filter((c) => /^conv2dBackwardInput wide batch/.test(c.name)), { gemm: 'subgroup', convBwdInputDirect: 1 });

describe('pointwise kernels (elementwise, activations, optimizers)', () => {
  it('take 4 elements per invocation where the count is a multiple of 4 and every binding starts on 16 bytes', async () => {
    const e = (await sharedGpu()).engine;
    const buf = e.dummy;
    const pick = (total: number, offset = 0) => {
      const d = elementwiseDispatch(e, 'add', total, buf, { buffer: buf, offset }, buf);
      return `${d.kernel.name} ${new Uint32Array(d.params!)[0]}`;
    };
    expect(pick(1024)).toBe('elementwise.vec4 256');
    expect(pick(1022)).toBe('elementwise 1022');
    expect(pick(1024, 256)).toBe('elementwise.vec4 256');
    expect(pick(1024, 4)).toBe('elementwise 1024'); // a binding off the 16-byte grid: scalar
  });
  it('refuses a kernel that does not declare its element type as the alias', () => {
    expect(vec4Kernel(elementwiseKernel).code).toContain('alias V = vec4<f32>;');
    expect(() => vec4Kernel({ name: 'no-alias', code: '@compute @workgroup_size(1) fn main() {}' })).toThrow(/alias V = f32;/);
  });
});

describe('which GEMMs the subgroup path packs (tuning.gemmPack auto)', () => {
  it('packs A where its rows alias in the cache, B where in place it cannot load vec4s, and only big GEMMs', async () => {
    const e = (await sharedGpu()).engine;
    const saved = e.tuning;
    try {
      e.tuning = { ...saved, gemm: 'subgroup', gemmPack: 'auto' };
      const packed = (m: number, n: number, k: number, transA = false, transB = false) =>
        Object.keys(gemmScratch(e, { batch: 1, m, n, k, transA, transB, broadcastB: false })).sort().join(',');
      const fits = subgroupKernelsFit(e.tuning.subgroupSize);
      const is = (ops: string) => (fits ? ops : '');
      expect(packed(1024, 1024, 1024)).toBe(is('packA')); // A's rows 4 KiB apart; B's rows load as vec4s
      expect(packed(1024, 1024, 1024, false, true)).toBe(is('packA,packB')); // and Bᵀ's columns are strided
      expect(packed(512, 512, 512, false, true)).toBe(is('packB'));
      expect(packed(300, 302, 256)).toBe(is('packB')); // rows of 302 floats: no aligned vec4s in place
      expect(packed(1024, 512, 512, true)).toBe(''); // Aᵀ: a lane group reads 16 adjacent floats per k
      expect(packed(2048, 1024, 512)).toBe('');
      expect(packed(512, 512, 512)).toBe('');
      expect(packed(1536, 1536, 1536)).toBe('');
      expect(packed(64, 1024, 1024, false, true)).toBe(''); // m·n/(m+n) = 60: the packing passes would not pay
      e.tuning = { ...saved, gemm: 'subgroup', gemmPack: 'never' };
      expect(packed(1024, 1024, 1024, false, true)).toBe('');
    } finally {
      e.tuning = saved;
    }
  });
});

describe("which register tiles the workgroup-memory GEMM takes (GPUs' tuning)", () => {
  it('8×8 on big grids, 4×4 on small ones, and 4 wide on an axis that fits half an 8-wide block: the same grid, none of it half idle', async () => {
    const e = (await sharedGpu()).engine;
    const saved = e.tuning;
    try {
      const tile = (t: Partial<Tuning>, m: number, n: number, k: number, batch = 1) => {
        e.tuning = { ...defaultTuning(false), subgroupSize: 0, ...t };
        const g = { batch, m, n, k, transA: false, transB: false, broadcastB: false };
        const { TM, TN } = sharedTile(e, g);
        return { tile: `${TM}×${TN}`, grid: gemmDispatch(e, g, e.dummy, e.dummy, e.dummy).workgroups.join('×') };
      };
      expect(tile({}, 4096, 4096, 4096)).toEqual({ tile: '8×8', grid: '32×32×1' });
      expect(tile({}, 1024, 1024, 1024)).toEqual({ tile: '4×4', grid: '16×16×1' }); // 64 blocks of 128²: under sharedMinGroups
      // The bench's 32×32×32×64→64 forward, a GEMM per image: 64 rows, half a 128-row block.
      expect(tile({}, 64, 1024, 576, 32)).toEqual({ tile: '4×8', grid: '8×1×32' });
      expect(tile({ sharedTrim: false }, 64, 1024, 576, 32)).toEqual({ tile: '8×8', grid: '8×1×32' });
      // K ≤ sharedShortK (64): 4×4 in 64×64 blocks. 64×28×28×1→32 forward (K = 25 taps), and the
      // input gradient's dcol of 32×32×32×64→64 (K = 64 output channels).
      expect(tile({}, 32, 784, 25, 64)).toEqual({ tile: '4×4', grid: '13×1×64' });
      expect(tile({ sharedShortK: 0 }, 32, 784, 25, 64)).toEqual({ tile: '4×8', grid: '7×1×64' }); // trimmed: a quarter of it
      expect(tile({}, 576, 1024, 64, 32)).toEqual({ tile: '4×4', grid: '16×9×32' });
      expect(tile({}, 576, 1024, 65, 32)).toEqual({ tile: '8×8', grid: '8×5×32' });
      expect(tile({}, 4096, 64, 512, 4)).toEqual({ tile: '8×4', grid: '1×32×4' });
      expect(tile({}, 65, 4096, 512, 4)).toEqual({ tile: '8×8', grid: '32×1×4' }); // 4-wide tiles would take two block rows
      // Half a block follows the workgroup: 32×8 makes blocks of 64 rows and 256 columns.
      expect(tile({ tiled: { WG_X: 32, WG_Y: 8 } }, 32, 4096, 512, 8)).toEqual({ tile: '4×8', grid: '16×1×8' });
      expect(tile({ tiled: { WG_X: 32, WG_Y: 8 } }, 40, 4096, 512, 8)).toEqual({ tile: '8×8', grid: '16×1×8' });
      expect(tile({ tiled: { WG_X: 32, WG_Y: 8 } }, 4096, 128, 512, 8)).toEqual({ tile: '8×4', grid: '1×64×8' });
    } finally {
      e.tuning = saved;
    }
  });
});

describe('which convolutions take channel columns (tuning.convChannelCols auto, 8-lane subgroups)', () => {
  it('channels that fill 64-wide panels: 8 per lane; that fill only 32-wide ones: 4; fewer: pixel (or tap) columns, taps 4 per lane where 8 would leave most columns empty', async () => {
    const e = (await sharedGpu()).engine;
    const saved = e.tuning;
    try {
      e.tuning = { ...saved, gemm: 'subgroup', subgroupSize: 8, sgRows: 2, sgCols: 8, convChannelCols: 'auto' };
      const d = e.dummy;
      const tile = (o: number, pass: 'fwd' | 'bwdFilter') => {
        const g = conv2dGeom([64, 1, 28, 28], [o, 1, 5, 5], { padding: 2 });
        const ds = pass === 'fwd' ? conv2dFwdDispatches(e, g, d, d, d, { wpack: d, xpad: d }) : conv2dBwdFilterDispatches(e, g, d, d, d, { dypack: d, xpad: d, part: d });
        const k = ds.find((x) => /channel_cols|fwd\.subgroup|bwd_filter\.subgroup/.test(x.kernel.name))!;
        return `${k.kernel.name.split('.').slice(1).join('.')} TN ${k.constants?.TN}`;
      };
      for (const pass of ['fwd', 'bwdFilter'] as const) {
        const cols = pass === 'fwd' ? 'fwd.channel_cols' : 'bwd_filter.channel_cols';
        expect(tile(64, pass)).toBe(`${cols} TN 8`);
        expect(tile(50, pass)).toBe(`${cols} TN 8`); // 50 / 64 ≥ 3/4
        expect(tile(32, pass)).toBe(`${cols} TN 4`); // 32 / 64 < 3/4, 32 / 32 full
        expect(tile(80, pass)).toBe(`${cols} TN 4`); // 80 / 128 < 3/4, 80 / 96 ≥ 3/4
        // Pixel columns 8 per lane; tap columns (25 taps) 4 per lane: 25 of 32 columns, not 25 of 64.
        expect(tile(6, pass)).toBe(pass === 'fwd' ? 'fwd.subgroup TN 8' : 'bwd_filter.subgroup TN 4');
      }
    } finally {
      e.tuning = saved;
    }
  });
});

describe('the im2col filter gradient (GPUs)', () => {
  // Under a GPU's tuning on this adapter: sharedMinGroups 0 (one GEMM over every image) or a GPU's 128.
  const underGpuTuning = async <R>(sharedMinGroups: number, body: (e: WebGpuBackend['engine']) => Promise<R> | R): Promise<R> => {
    const e = (await sharedGpu()).engine;
    const saved = e.tuning;
    try {
      e.tuning = { ...gpuTuningK8, sharedMinGroups, subgroupSize: saved.subgroupSize };
      return await body(e);
    } finally {
      e.tuning = saved;
    }
  };
  const kernels = (e: WebGpuBackend['engine'], x: number[], w: number[], attrs: Conv2dAttrs = {}) => {
    const d = e.dummy;
    return conv2dBwdFilterDispatches(e, conv2dGeom(x, w, attrs), d, d, d, { col: d, dyGroups: d, part: d }).map((k) => k.kernel.name);
  };

  it('needs no col and no N·O·C·KH·KW partial sums: one GEMM over all images that reads im2col from x, or a few groups where the GEMM alone would leave the GPU idle', async () => {
    await underGpuTuning(0, (e) => {
      // Refused before (DeviceLimitError on part, 130·512·512 floats = 136 MB); then col and dy regrouped, 1 MB each; now dy regrouped.
      const g = conv2dGeom([130, 512, 2, 2], [512, 512, 1, 1], {});
      expect(conv2dScratch(e, g, 'bwdFilter')).toEqual({ dyGroups: 130 * 512 * 4 });
      expect(kernels(e, [130, 512, 2, 2], [512, 512, 1, 1])).toEqual(['conv2d.bwd_filter.dy_groups', 'gemm.shared']);
      // 64×512×7×7 → 512 3×3: part was 64·512·4608 floats (604 MB), then 58 MB of col; now 6.4 MB of dy.
      const deep = conv2dGeom([64, 512, 7, 7], [512, 512, 3, 3], { padding: 1 });
      expect(conv2dScratch(e, deep, 'bwdFilter')).toEqual({ dyGroups: 64 * 512 * 49 });
      // One image: dy is the GEMM's A as it is.
      expect(kernels(e, [1, 6, 5, 5], [7, 6, 1, 1])).toEqual(['gemm.shared']);
    });
    await underGpuTuning(128, (e) => {
      // 512 × 512 is 16 blocks of 128²; K = 520 allows 4 groups, not the 8 those need, so 64 blocks
      // of 64² in 2 groups of 65 images (K = 260 each) and their sum; part 2 MB.
      expect(im2colFilterGroups(e, conv2dGeom([130, 512, 2, 2], [512, 512, 1, 1], {}))).toEqual({ groups: 2, chunk: 65 });
      expect(conv2dScratch(e, conv2dGeom([130, 512, 2, 2], [512, 512, 1, 1], {}), 'bwdFilter')).toEqual({ dyGroups: 130 * 512 * 4, part: 2 * 512 * 512 });
      expect(kernels(e, [130, 512, 2, 2], [512, 512, 1, 1])).toEqual(['conv2d.bwd_filter.dy_groups', 'gemm.shared', 'sum']);
      // 576 × 64 is 25 blocks of 128², so 6 groups fill the grid: 10 images as 10 of 1, not 5 of 2
      // (⌈10/6⌉ = 2), which would leave 125 blocks and drop gemm.shared to 4×4 tiles.
      expect(im2colFilterGroups(e, conv2dGeom([10, 64, 11, 11], [576, 64, 3, 3], {}))).toEqual({ groups: 10, chunk: 1 });
      // 144 blocks already: one group.
      expect(im2colFilterGroups(e, conv2dGeom([64, 512, 7, 7], [512, 512, 3, 3], { padding: 1 }))).toEqual({ groups: 1, chunk: 64 });
      // A first layer (64 × 27: one block) keeps one GEMM per image, dy in place, as before.
      const first = conv2dGeom([64, 3, 32, 32], [64, 3, 3, 3], { padding: 1 });
      expect(im2colFilterGroups(e, first)).toEqual({ groups: 64, chunk: 1 });
      expect(conv2dScratch(e, first, 'bwdFilter')).toEqual({ part: 64 * 64 * 27 });
      expect(kernels(e, [64, 3, 32, 32], [64, 3, 3, 3], { padding: 1 })).toEqual(['gemm.shared', 'sum']);
    });
  });

  it('keeps one group where col and the regrouped dy together would not fit the scratch: it keeps no col', async () => {
    await underGpuTuning(0, (e) => {
      const cap = Math.min(e.limits.maxStorageBufferBindingSize, e.limits.maxBufferSize, 256 * 2 ** 20) / 4;
      // A 1×1 conv of one channel on 2 images: col and the regrouped dy are 2·H·W floats each, ¾ of
      // the cap. It fell back to the split-K kernels, then to one image per group and a sum.
      const x = [2, 1, 1024, Math.ceil((0.375 * cap) / 1024)];
      const g = conv2dGeom(x, [1, 1, 1, 1], {});
      expect(useIm2col(e, g, 'bwdFilter')).toBe(true);
      expect(im2colFilterPlan(e, g)).toEqual({ groups: 1, chunk: 2, perPass: 1 });
      expect(conv2dScratch(e, g, 'bwdFilter')).toEqual({ dyGroups: 2 * x[2]! * x[3]! });
      expect(kernels(e, x, [1, 1, 1, 1])).toEqual(['conv2d.bwd_filter.dy_groups', 'gemm.shared']);
    });
  });

  // Under a binding limit lowered to a few images' col (and 16- or 256-byte alignment), where
  // the groups used to run in passes through col: one pass now, reading im2col from x, as the
  // regrouped dy and the partial sums fit. Passes through col remain where even those do not fit
  // while a group's col does (dy near the limit, its last group padded, many output channels).
  // Tolerance as in the suite above, K = N·OH·OW terms. 16 input channels keep dW (4·144 floats a
  // group) and dy (4·OH·OW an image) in whole 256-byte units, so these plans hold at the
  // device's alignment, whatever it is; the 3-channel case is at 256.
  it.each([
    ['one GEMM over all 6 images (before: 2 groups of 3 through col, a pass each)', 0, 0, [6, 16, 8, 8], [4, 16, 3, 3], 0, { groups: 1, chunk: 6, perPass: 1 }],
    ['3 groups of 2 images, dy regrouped, one pass (before: passes of 2 and 1)', 128, 0, [6, 16, 8, 8], [4, 16, 3, 3], 0, { groups: 3, chunk: 2, perPass: 3 }],
    ['6 groups of one image, dy in place, one pass (before: passes of 4 and 2)', 128, 0, [6, 16, 12, 12], [4, 16, 3, 3], 0, { groups: 6, chunk: 1, perPass: 6 }],
    ['3 groups of 2 at 256 bytes with 3 channels, one pass (before: split-K, as a pass through col would have needed 16 groups)', 128, 256, [6, 3, 8, 8], [4, 3, 3, 3], 0, { groups: 3, chunk: 2, perPass: 3 }],
    ['5 images as groups of 3 and 2 (the last one padded with zeros), one pass', 128, 0, [5, 16, 7, 9], [4, 16, 3, 3], 0, { groups: 2, chunk: 3, perPass: 2 }],
    ['passes through col: 5 images as groups of 3 and 2, 64 output channels, the binding a little over dy', 128, 0, [5, 1, 8, 8], [64, 1, 3, 3], 88_000, { groups: 2, chunk: 3, perPass: 1 }],
  ] as const)('%s', async (_name, minGroups, align, xs, ws, limit, plan) => {
    const gpu = await sharedGpu();
    const cpu = new CpuBackend();
    const ckk = xs[1] * 9;
    const g = conv2dGeom([...xs], [...ws], { padding: 1 });
    const u = rng(77);
    const data = (n: number) => Float32Array.from({ length: n }, () => u() * 2 - 1);
    const x = data(sizeOf([...xs])), dy = data(g.n * g.o * g.oh * g.ow);
    const dyShape = [g.n, g.o, g.oh, g.ow];
    const want = await (await cpu.conv2dBackwardFilter(cpu.tensor(x, [...xs]), cpu.tensor(dy, dyShape), [...ws], { padding: 1 })).read();
    await underGpuTuning(minGroups, async (e) => {
      // Room for 4 images' col and dy (C·9 + 4 floats a pixel), and part for 8 groups; or the row's limit.
      const bytes = limit || 4 * (4 * (ckk + 4) * g.oh * g.ow) + 4 * 8 * 4 * ckk;
      await withLimits(e, { maxStorageBufferBindingSize: bytes, ...(align ? { minStorageBufferOffsetAlignment: align } : {}) }, async () => {
        expect(im2colFilterPlan(e, g)).toEqual(plan);
        const im2cols = kernels(e, [...xs], [...ws], { padding: 1 }).filter((k) => k === 'conv2d.im2col').length;
        expect(im2cols).toBe(plan.perPass < plan.groups ? Math.ceil(plan.groups / plan.perPass) : 0);
        const got = await gpu.engine.scope(async () => (await gpu.conv2dBackwardFilter(gpu.tensor(x, [...xs]), gpu.tensor(dy, dyShape), [...ws], { padding: 1 })).read());
        expectClose(got, want, g.n * g.oh * g.ow, 'filter gradient');
      });
    });
  });

  it('on the refused shape scaled down ([130, 128, 2, 2] → 128 1×1: part would be 130× col), one GEMM or four groups, matches the reference', async () => {
    const gpu = await sharedGpu();
    const cpu = new CpuBackend();
    const [xShape, wShape] = [[130, 128, 2, 2], [128, 128, 1, 1]];
    const xs = makeData({ shape: xShape }, 71);
    const dys = makeData({ shape: xShape }, 72);
    const want = await cpu.conv2dBackwardFilter(cpu.tensor(xs, xShape), cpu.tensor(dys, xShape), wShape);
    for (const [minGroups, groups] of [[0, 1], [128, 4]] as const) {
      await underGpuTuning(minGroups, async (e) => {
        expect(im2colFilterGroups(e, conv2dGeom(xShape, wShape, {})).groups).toBe(groups);
        const got = await gpu.engine.scope(async () => (await gpu.conv2dBackwardFilter(gpu.tensor(xs, xShape), gpu.tensor(dys, xShape), wShape)).read());
        const { maxAbs } = await compare(cpu.tensor(got, wShape), want);
        expect(maxAbs).toBeLessThan(1e-5 + 1e-6 * 520); // K = 520 terms in f32: see the top of this file
      });
    }
  });
});

describe('conv2d input-gradient route', () => {
  // The route under a given tuning of this adapter, restored afterwards.
  const routesUnder = async (tuning: Tuning, check: (route: (x: number[], w: number[], attrs: Conv2dAttrs) => string, t: Tuning) => void) => {
    const e = (await sharedGpu()).engine;
    const saved = e.tuning;
    try {
      e.tuning = { ...tuning, subgroupSize: e.adapterInfo.subgroupSize };
      check((x, w, attrs) => conv2dBwdInputRoute(e, conv2dGeom(x, w, attrs)), e.tuning);
    } finally {
      e.tuning = saved;
    }
  };

  it('on CPU emulators: the direct kernel where its tiles fill, the forward conv for same-size convolutions with enough channels, col2im where either would multiply many zeros', async () => {
    const info = (await sharedGpu()).engine.adapterInfo;
    await routesUnder(defaultTuning(true, info.architecture, info.subgroupSize), (route, t) => {
      expect(route([2, 16, 9, 10], [8, 16, 3, 3], { dilation: 2, padding: 2 })).toBe('forward');
      expect(route([1, 32, 64, 64], [64, 32, 3, 3], { padding: 1 })).toBe('forward');
      expect(route([2, 16, 5, 4], [4, 16, 1, 1], { padding: 1 })).toBe('forward'); // padding past the window: dy cropped
      expect(route([2, 6, 8, 8], [10, 3, 3, 3], { groups: 2, padding: 1 })).toBe('forward'); // grouped: the only route
      expect(route([1, 3, 16, 16], [8, 3, 3, 3], { padding: 1 })).toBe('col2im'); // 3 of 16 tile rows
      expect(route([2, 16, 9, 9], [8, 16, 3, 3], { stride: 2, padding: 1 })).toBe('col2im'); // stride holes
      expect(route([64, 16, 9, 9], [8, 16, 3, 3], { stride: 2, padding: 1 })).toBe('col2im');
      // A valid 5×5: the forward route would multiply 196 / 100 pixels' worth; the direct
      // kernel (CPU emulators' subgroup kernels) only the real taps.
      const minWaste = t.convBwdInputDirect;
      const direct = minWaste !== null;
      expect(route([64, 32, 14, 14], [64, 32, 5, 5], {})).toBe(direct ? 'direct' : 'col2im');
      expect(route([64, 16, 9, 9], [8, 16, 5, 5], {})).toBe(direct ? 'direct' : 'col2im');
      expect(route([2, 32, 14, 14], [64, 32, 5, 5], {})).toBe('col2im'); // image tiles mostly empty
      // "same": the forward route multiplies the padding's zeros, (70 / 64)² = 1.196 times the
      // real work at 14×14 5×5, (96 / 94)² = 1.043 at 32×32 3×3.
      expect(route([64, 32, 14, 14], [64, 32, 5, 5], { padding: 2 })).toBe(direct && minWaste <= 1.196 ? 'direct' : 'forward');
      expect(route([64, 64, 32, 32], [64, 64, 3, 3], { padding: 1 })).toBe(direct && minWaste <= 1.043 ? 'direct' : 'forward');
    });
  });

  it('on GPUs: col2im (its GEMM is the workgroup-memory one), the forward conv only where grouped', async () => {
    await routesUnder(defaultTuning(false), (route) => {
      expect(route([1, 32, 64, 64], [64, 32, 3, 3], { padding: 1 })).toBe('col2im');
      expect(route([64, 32, 14, 14], [64, 32, 5, 5], {})).toBe('col2im');
      expect(route([2, 6, 8, 8], [10, 3, 3, 3], { groups: 2, padding: 1 })).toBe('forward');
    });
  });
});

describe('conv2d bias gradient over more channels than a dispatch dimension has workgroups', () => {
  it.each([
    ['per-plane sums (CPU emulators)', true],
    ['one workgroup per channel (GPUs)', false],
  ] as const)('%s', async (_name, rowwise) => {
    const gpu = await sharedGpu();
    const saved = gpu.engine.tuning;
    try {
      gpu.engine.tuning = { ...saved, rowwise };
      const shape = [2, gpu.engine.limits.maxComputeWorkgroupsPerDimension + 3, 1, 3];
      const u = rng(91);
      const dy = Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1);
      const got = await gpu.engine.scope(async () => (await gpu.conv2dBackwardBias(gpu.tensor(dy, shape))).read());
      const want = await (await new CpuBackend().conv2dBackwardBias(new CpuBackend().tensor(dy, shape))).read();
      // 6 terms per channel: f32 rounding stays below 1e-6.
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(got.length).toBe(shape[1]);
      expect(worst).toBeLessThan(1e-5);
    } finally {
      gpu.engine.tuning = saved;
    }
  });
});

describe('grids over the per-dimension workgroup limit fold x onto z', () => {
  // A large image's N·OH·OW pixels (a GEMM's columns) pass maxComputeWorkgroupsPerDimension
  // (65,535) long before its buffers pass their limits: 2048×2048 at batch 1 on lavapipe. The
  // tiled kernels then take x blocks folded onto z (ops/dispatch.ts foldX). Checked here at
  // small sizes under a limit lowered to 16 or 24: under the x blocks of these shapes (at most
  // 128 pixels or columns per workgroup), over every other grid of these ops (grid1d's limit²
  // groups of pointwise elements), and at 24 room on z for the 2 groups of 150 blocks that
  // 16-pixel tiles make. Tolerance as in the suite above.
  const tunings: Array<[string, number, Partial<Tuning>]> = [
    ["this adapter's defaults", 16, {}],
    ['subgroup kernels, 1 row block and 4 columns per lane', 24, { gemm: 'subgroup', sgRows: 1, sgCols: 4 }],
    ['subgroup kernels with channel columns and the packed GEMM', 24, { gemm: 'subgroup', convChannelCols: 'always', gemmPack: 'both' }],
    ['register tiles (32-pixel and 16-column workgroups)', 24, { gemm: 'registers', gemmRows: 4, convPixels: 4, conv: { WG_X: 8, WG_Y: 2 }, tiled: { WG_X: 4, WG_Y: 4 } }],
    ["a GPU's defaults (im2col, col2im, workgroup-memory GEMM) on 4×4 workgroups", 24, { ...gpuTuningK8, sharedMinGroups: 0, tiled: { WG_X: 4, WG_Y: 4 }, conv: { WG_X: 8, WG_Y: 2 } }],
  ];
  // 48×50 = 2400 output pixels: 19–150 x blocks on these tilings; 2,050–2,100 columns 17–132.
  const convs: Array<[string, number[], number[], Conv2dAttrs]> = [
    ['conv 1×48×50 → 5, 3×3 "same", batch 1', [1, 1, 48, 50], [5, 1, 3, 3], { padding: 1 }],
    ['conv 2×48×50 → 4, 2 groups (z = 2)', [1, 2, 48, 50], [4, 1, 3, 3], { padding: 1, groups: 2 }],
  ];
  const gemms: Array<[string, number[], number[], boolean]> = [
    ['matmul 5×7 · 7×2100, bias and ReLU', [5, 7], [7, 2100], true],
    ['matmul batch 2 (z = 2): 5×7 · 7×2050', [2, 5, 7], [2, 7, 2050], false],
  ];
  it.each(tunings)('%s (limit %i)', async (_name, limit, tuning) => {
    const gpu = await sharedGpu();
    const e = gpu.engine;
    const cpu = new CpuBackend();
    const saved = { tuning: e.tuning, check: e.checkWorkgroups };
    const folded: string[] = [];
    try {
      e.tuning = { ...saved.tuning, ...tuning, subgroupSize: saved.tuning.subgroupSize };
      e.checkWorkgroups = (d) => {
        if (d.constants?.FOLD_Z) folded.push(`${d.kernel.name} [${d.workgroups.join(', ')}]`);
        saved.check.call(e, d);
      };
      // Where the adapter's subgroups are not 4 or 8 wide (a GPU's 32), the subgroup cases run
      // the other kernels, whose 128-pixel blocks (19 on these shapes) fold only under 16.
      const lim = tuning.gemm === 'subgroup' && !subgroupKernelsFit(saved.tuning.subgroupSize) ? 16 : limit;
      await withLimits(e, { maxComputeWorkgroupsPerDimension: lim }, async () => {
        const u = rng(4242);
        const data = (shape: number[]) => Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1);
        for (const [what, xs, ws, attrs] of convs) {
          const x = data(xs), w = data(ws), b = data([ws[0]!]);
          const ys = conv2dGeom(xs, ws, attrs);
          const yShape = [ys.n, ys.o, ys.oh, ys.ow];
          const dy = data(yShape);
          const k = ws[1]! * ws[2]! * ws[3]!;
          const run = async <T extends AnyTensor>(be: Backend<T>) => [
            await (await be.conv2d(be.tensor(x, xs), be.tensor(w, ws), { ...attrs, bias: be.tensor(b, [ws[0]!]), relu: true })).read(),
            await (await be.conv2dBackwardInput(be.tensor(dy, yShape), be.tensor(w, ws), xs, attrs)).read(),
            await (await be.conv2dBackwardFilter(be.tensor(x, xs), be.tensor(dy, yShape), ws, attrs)).read(),
          ];
          const before = folded.length;
          const [got, want] = [await e.scope(() => run(gpu)), await run(cpu)];
          ['forward', 'input gradient', 'filter gradient'].forEach((pass, i) => expectClose(got[i]!, want[i]!, i === 2 ? ys.n * ys.oh * ys.ow : k * ws[0]!, `${what}: ${pass}`));
          expect(folded.length, `${what}: no dispatch folded`).toBeGreaterThan(before);
        }
        for (const [what, as, bs, bias] of gemms) {
          const a = data(as), b = data(bs), c = data([bs.at(-1)!]);
          const run = async <T extends AnyTensor>(be: Backend<T>) =>
            (await be.matmul(be.tensor(a, as), be.tensor(b, bs), bias ? { bias: be.tensor(c, [bs.at(-1)!]), relu: true } : {})).read();
          const before = folded.length;
          expectClose(await e.scope(() => run(gpu)), await run(cpu), as.at(-1)!, what);
          expect(folded.length, `${what}: no dispatch folded`).toBeGreaterThan(before);
        }
      });
    } finally {
      e.tuning = saved.tuning;
      e.checkWorkgroups = saved.check;
    }
  });

  it("a 2048×2048 image at batch 1, at the device's own limit: forward and input gradient", async () => {
    const gpu = await sharedGpu();
    const e = gpu.engine;
    const cpu = new CpuBackend();
    const check = e.checkWorkgroups;
    let widest = 0;
    try {
      e.checkWorkgroups = (d) => {
        if (d.constants?.FOLD_Z) widest = Math.max(widest, d.workgroups[0] * (d.workgroups[2] / (d.constants.FOLD_Z as number)));
        check.call(e, d);
      };
      const xs = [1, 1, 2048, 2048], ws = [2, 1, 3, 3], attrs = { padding: 1 };
      const u = rng(2048);
      const data = (shape: number[]) => Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1);
      const x = data(xs), w = data(ws), b = data([2]), dy = data([1, 2, 2048, 2048]);
      const run = async <T extends AnyTensor>(be: Backend<T>) => [
        await (await be.conv2d(be.tensor(x, xs), be.tensor(w, ws), { ...attrs, bias: be.tensor(b, [2]), relu: true })).read(),
        await (await be.conv2dBackwardInput(be.tensor(dy, [1, 2, 2048, 2048]), be.tensor(w, ws), xs, attrs)).read(),
      ];
      const [got, want] = [await e.scope(() => run(gpu)), await run(cpu)];
      got.forEach((g, i) => expectClose(g, want[i]!, 9 * (i + 1), ['forward', 'input gradient'][i]!));
      // The emulators' subgroup tiles hold 32 or 64 pixels: 4.2M pixels pass 65,535 blocks. (A GPU's
      // im2col GEMM, at 128 columns per workgroup, does not need to fold.)
      if (e.tuning.gemm === 'subgroup') expect(widest).toBeGreaterThan(e.limits.maxComputeWorkgroupsPerDimension);
    } finally {
      e.checkWorkgroups = check;
    }
  });
});

describe("a GPU's col2im input gradient over a batch whose dcol passes the scratch limit, and its forward, which keeps no col", () => {
  // AlexNet's first layer at batch 128 needs 563 MB of dcol, over any binding: the input
  // gradient runs dcol's GEMM and col2im over runs of images (conv2d.ts colPasses), dy and dx
  // bound at offsets, instead of falling back to the forward route. The forward reads im2col
  // from x inside its GEMM (gemm.shared IM2COL_B): one dispatch, whatever col would take.
  // Here under a binding limit lowered to a few images' col, at the device's own offset
  // alignment or at 256 bytes (WebGPU's largest, so valid on any device): a run's bindings must
  // start on one. Tolerance as in the suite above.
  it.each([
    ["runs of 2, 2 and 1 images, at the device's alignment (4·8·8 and 3·8·8 floats an image: whole units)", [5, 3, 8, 8], [4, 3, 3, 3], 0, 2, [[0, 2], [2, 2], [4, 1]]],
    ['the same at 256 bytes', [5, 3, 8, 8], [4, 3, 3, 3], 256, 2, [[0, 2], [2, 2], [4, 1]]],
    ['no run at 256 bytes: dy and dx start on 256 bytes only every 4 images, and dcol holds 3; the forward route instead', [5, 3, 4, 4], [2, 3, 3, 3], 256, 3, []],
    ['no run at 256 bytes (6·7·9 floats an image: runs of 32): the forward route instead', [5, 3, 7, 9], [6, 3, 3, 3], 256, 2, []],
  ] as const)('%s', async (_name, xs, ws, align, fit, bwdPasses) => {
    const gpu = await sharedGpu();
    const e = gpu.engine;
    const cpu = new CpuBackend();
    const saved = { tuning: e.tuning, check: e.checkWorkgroups };
    const dispatched = new Set<Dispatch>(); // checked on submit and again on encode
    const g = conv2dGeom([...xs], [...ws], { padding: 1 });
    const colImage = g.c * g.kh * g.kw * g.oh * g.ow * 4;
    try {
      e.tuning = { ...gpuTuningK8, sharedMinGroups: 0, subgroupSize: saved.tuning.subgroupSize };
      await withLimits(e, { maxStorageBufferBindingSize: fit * colImage + 100, ...(align ? { minStorageBufferOffsetAlignment: align } : {}) }, async () => {
        expect(colPasses(e, g)).toEqual(bwdPasses);
        expect(conv2dBwdInputRoute(e, g)).toBe(bwdPasses.length ? 'col2im' : 'forward');
        expect(conv2dScratch(e, g, 'fwd')).toEqual({});
        e.checkWorkgroups = (d) => {
          dispatched.add(d);
          saved.check.call(e, d);
        };
        const u = rng(512);
        const data = (shape: readonly number[]) => Float32Array.from({ length: sizeOf([...shape]) }, () => u() * 2 - 1);
        const x = data(xs), w = data(ws), b = data([ws[0]]), dy = data([g.n, g.o, g.oh, g.ow]);
        const forward = async <T extends AnyTensor>(be: Backend<T>) =>
          (await be.conv2d(be.tensor(x, [...xs]), be.tensor(w, [...ws]), { padding: 1, bias: be.tensor(b, [ws[0]]), relu: true })).read();
        const got = await e.scope(() => forward(gpu));
        expect([...dispatched].map((d) => `${d.kernel.name}${d.constants?.IM2COL_B ? ' (im2col of x)' : ''}`)).toEqual(['gemm.shared (im2col of x)']);
        const bwd = async <T extends AnyTensor>(be: Backend<T>) =>
          (await be.conv2dBackwardInput(be.tensor(dy, [g.n, g.o, g.oh, g.ow]), be.tensor(w, [...ws]), [...xs], { padding: 1 })).read();
        const gotDx = await e.scope(() => bwd(gpu));
        expect([...dispatched].filter((d) => d.kernel.name === 'conv2d.col2im').length).toBe(bwdPasses.length);
        expectClose(got, await forward(cpu), 27, 'forward');
        expectClose(gotDx, await bwd(cpu), g.o * 9, 'input gradient');
      });
    } finally {
      e.tuning = saved.tuning;
      e.checkWorkgroups = saved.check;
    }
  });
});

// Seeded random convs (odd sizes, stride, padding, dilation, groups) under limits lowered at
// random: a grid limit of 12–48 workgroups (x folds onto z: dispatch.ts foldX) and a binding of
// 1.25–4.25× the largest tensor at 256-byte or the device's alignment, on this adapter's kernels
// and on a GPU's; there the binding holds 1 to N images of im2col's columns at random, so the
// input gradient's col2im runs in passes (colPasses). Each case matches the
// reference or is refused with a DeviceLimitError that names the op and the limit (the
// emulator routes' padded copies, xpad and dyUp, do not run in passes); the seed's cases must
// fold and pass somewhere, and ¾ must run. Tolerance as in the suite above.
describe('random convs past lowered limits', () => {
  const { seed, count } = sweep(4343, 16);
  it(`fold and run in passes where needed, and match the reference (seed ${seed}, ${count} cases)`, async () => {
    const gpu = await sharedGpu();
    const e = gpu.engine;
    const cpu = new CpuBackend();
    const saved = { tuning: e.tuning, check: e.checkWorkgroups };
    const u = rng(seed);
    const ri = (a: number, b: number) => a + Math.floor(u() * (b - a + 1));
    const tally = { ran: 0, refused: 0, folded: 0, offsets: 0 };
    // K step 8 (gpuTuningK8): each random geometry compiles its own GEMM pipelines (the conv's
    // shape is in their constants); on lavapipe with a cold shader cache, at K step 16 the test
    // took over two minutes (96 s at 8).
    const tunings: Array<Partial<Tuning>> = [{}, { ...gpuTuningK8, sharedMinGroups: 0, tiled: { WG_X: 4, WG_Y: 4 }, conv: { WG_X: 8, WG_Y: 2 } }];
    for (let i = 0; i < count; i++) {
      const groups = u() < 0.25 ? ri(2, 3) : 1;
      const gpuTuned = i % 2 === 1;
      // Every other GPU-tuned case a "same" conv on images of whole 256-byte units, so that runs of
      // images can start on any device's offset alignment (WebGPU's largest is 256 bytes).
      const aligned = i % 4 === 1;
      const [cg, og] = [ri(1, 6), ri(1, 6)];
      const [kh, kw] = aligned ? [2 * ri(0, 2) + 1, 2 * ri(0, 2) + 1] : [ri(1, 5), ri(1, 5)];
      const dilation = u() < 0.2 ? 2 : 1;
      const attrs: Conv2dAttrs = aligned
        ? { padding: [(dilation * (kh - 1)) / 2, (dilation * (kw - 1)) / 2], dilation, groups }
        : { stride: u() < 0.3 ? [ri(1, 3), ri(1, 3)] : 1, padding: ri(0, 2), dilation, groups };
      const side = (k: number) => (aligned ? 8 * ri(1, 4) : ri(k * 2 + 2, 40)); // ≥ the dilated kernel
      const xs = [ri(Number(gpuTuned) + 1, 6), cg * groups, side(kh), side(kw)];
      const ws = [og * groups, cg, kh, kw];
      const g = conv2dGeom(xs, ws, attrs);
      const yShape = [g.n, g.o, g.oh, g.ow];
      // Under a GPU's tuning, room for 1 to N images of dcol, so that col2im runs in passes.
      const largest = 4 * Math.max(sizeOf(xs), sizeOf(yShape), sizeOf(ws));
      const colImage = 4 * g.c * g.kh * g.kw * g.oh * g.ow;
      const limits = {
        maxComputeWorkgroupsPerDimension: ri(12, 48),
        maxStorageBufferBindingSize: Math.ceil(Math.max(largest * (1.25 + 3 * u()), gpuTuned ? colImage * (1 + u() * (g.n - 1)) : 0) / 256) * 256,
        ...(u() < 0.5 ? { minStorageBufferOffsetAlignment: 256 } : {}),
      };
      const tuning = tunings[Number(gpuTuned)]!;
      const what = `#${i} x [${xs}] w [${ws}] ${JSON.stringify(attrs)} under ${JSON.stringify(limits)}${gpuTuned ? " and a GPU's tuning" : ''}`;
      const data = (shape: number[]) => Float32Array.from({ length: sizeOf(shape) }, () => u() * 2 - 1);
      const x = data(xs), w = data(ws), b = data([ws[0]!]), dy = data(yShape);
      const run = async <T extends AnyTensor>(be: Backend<T>) => [
        await (await be.conv2d(be.tensor(x, xs), be.tensor(w, ws), { ...attrs, bias: be.tensor(b, [ws[0]!]), relu: true })).read(),
        await (await be.conv2dBackwardInput(be.tensor(dy, yShape), be.tensor(w, ws), xs, attrs)).read(),
        await (await be.conv2dBackwardFilter(be.tensor(x, xs), be.tensor(dy, yShape), ws, attrs)).read(),
      ];
      const want = await run(cpu);
      let [folded, offsets] = [false, false];
      e.tuning = { ...saved.tuning, ...tuning, subgroupSize: saved.tuning.subgroupSize };
      e.checkWorkgroups = (d) => {
        folded ||= Boolean(d.constants?.FOLD_Z);
        offsets ||= d.buffers.some((bd) => 'offset' in bd && (bd.offset ?? 0) > 0);
        saved.check.call(e, d);
      };
      const got = await withLimits(e, limits, () => e.scope(() => run(gpu)))
        .catch((err: unknown) => err as Error)
        .finally(() => Object.assign(e, { tuning: saved.tuning, checkWorkgroups: saved.check }));
      if (got instanceof Error) {
        expect(got, `${what}: ${got.message}`).toBeInstanceOf(DeviceLimitError);
        expect(got.message, what).toMatch(/^conv2d\w*: .*(over this device's limit of \d+ bytes per storage binding|too large for one dispatch)/);
        console.log(`refused ${what}: ${got.message.slice(0, 160)}`);
        tally.refused++;
        continue;
      }
      const ks = [cg * kh * kw, og * kh * kw, g.n * g.oh * g.ow];
      ['forward', 'input gradient', 'filter gradient'].forEach((pass, j) => expectClose(got[j]!, want[j]!, ks[j]!, `${what}: ${pass}`));
      tally.ran++;
      tally.folded += Number(folded);
      tally.offsets += Number(offsets);
    }
    console.log(`random convs past lowered limits: ${JSON.stringify(tally)}`);
    expect(tally.ran, JSON.stringify(tally)).toBeGreaterThanOrEqual(0.75 * count);
    expect(tally.folded, JSON.stringify(tally)).toBeGreaterThan(0);
    expect(tally.offsets, JSON.stringify(tally)).toBeGreaterThan(0);
  }, 300_000); // cold shader caches on lavapipe: ~100 s of pipeline compiles
});

describe('max pooling ties on WebGPU', () => {
  it('every backward kernel gives the gradient to the first maximum, as the reference does', async () => {
    const gpu = await sharedGpu();
    const cpu = new CpuBackend();
    const u = rng(77);
    // 2×2/2 tiling 8×8 (bwd_2x2) and 8×6 (bwd_windows); 3×3/2 overlaps (the gather kernel).
    const runs: Array<[number[], Pool2dAttrs]> = [[[2, 3, 8, 8], { kernelSize: 2 }], [[2, 3, 8, 6], { kernelSize: 2 }], [[2, 3, 8, 6], { kernelSize: 3, stride: 2 }]];
    for (const [shape, attrs] of runs) {
      // Values from {0, 1, 2}: most windows hold ties.
      const xs = Float32Array.from({ length: sizeOf(shape) }, () => Math.floor(u() * 3));
      const dys = (n: number) => Float32Array.from({ length: n }, (_, i) => i + 1);
      const run = async <T extends AnyTensor>(be: Backend<T>) => {
        const x = be.tensor(xs, shape);
        const y = await be.maxPool2d(x, attrs);
        return (await be.maxPool2dBackward(x, be.tensor(dys(sizeOf(y.shape)), y.shape), attrs)).read();
      };
      expect(Array.from(await run(gpu)), JSON.stringify({ shape, attrs })).toEqual(Array.from(await run(cpu)));
    }
  });
});

describe('tile constants written in both TypeScript and WGSL agree', () => {
  // WGSL sizes private arrays and vec4 tiles with constants, not overrides, so these are written
  // twice: read the kernels' sources (as the engine compiles them) and compare.
  const literals = (code: string, re: RegExp): number[] => [...code.matchAll(re)].map((m) => Number(m[1]));

  it('REG_TILE: the columns (gemm) or channels and taps (conv2d) of one invocation', async () => {
    const { REG_TILE } = await import('../src/ops/dispatch.js');
    const { gemmKernel } = await import('../src/ops/gemm.js');
    const { conv2dKernels } = await import('../src/ops/conv2d.js');
    expect(literals(gemmKernel.code, /lid\.x\) \* (\d+)u/g), 'gemm.wgsl col0').toEqual([REG_TILE]);
    expect(literals(conv2dKernels.fwd.code, /gid\.y \* (\d+)u/g), 'conv2d.fwd.wgsl oc0').toEqual([REG_TILE]);
    expect(literals(conv2dKernels.bwdFilter.code, /gid\.[xy] \* (\d+)u/g), 'conv2d.bwd_filter.wgsl col0, oc0').toEqual([REG_TILE, REG_TILE]);
  });

  it("SHARED_MAX_LOADS: gemm.shared.wgsl's MAX_LOADS", async () => {
    const { SHARED_MAX_LOADS, gemmSharedKernel } = await import('../src/ops/gemm.js');
    expect(literals(gemmSharedKernel.code, /const MAX_LOADS = (\d+)u;/g)).toEqual([SHARED_MAX_LOADS]);
  });

  it("SUBGROUP_TILE_ROWS: the rows of subgroup_tile.wgsl's register tile, SUBGROUP_TILE_ROWS / 4 row blocks for 4 lanes", async () => {
    const { SUBGROUP_TILE_ROWS } = await import('../src/ops/tuning.js');
    const { gemmSubgroupKernel } = await import('../src/ops/gemm.js');
    const tile = [...gemmSubgroupKernel.code.matchAll(/var<private> c(\d+)_(\d+): f32;/g)];
    expect(new Set(tile.map((m) => m[1])).size, 'rows c0_* … c15_*').toBe(SUBGROUP_TILE_ROWS);
    expect(new Set(tile.map((m) => m[2])).size, 'columns: sgCols 8 at most').toBe(8);
    const accumulate = /fn accumulate\(([^)]*)\)/.exec(gemmSubgroupKernel.code)![1]!;
    expect(literals(accumulate, /av(\d+): f32/g).length, 'one A value per row block').toBe(SUBGROUP_TILE_ROWS / 4);
  });
});
