// TensorFlow.js's side: the same items with tf ops (NHWC / HWIO copies of the inputs, made
// before timing), timed from the call to `await tensor.data()`. The training step is
// LeNet written with tf ops and trained with tf.variableGrads / optimizer.minimize.
import type * as TF from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../../src/nn/model.js';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, oihwToHwio } from './data.js';
import { convOut } from './items.js';
import type { Inputs, Prepared } from './runner.js';
import { OPTIMIZER } from './runner.js';
import type { ItemSpec } from './types.js';

type Tf = typeof TF;

/** "Kernel 'X' not registered for backend 'y'" → the kernel's name. */
export function missingKernel(e: unknown): string | null {
  const m = /Kernel '(\w+)' not registered for backend/.exec(String(e));
  return m ? m[1]! : null;
}

export function prepareTfjs(tf: Tf, item: ItemSpec, inp: Inputs): Prepared {
  if (item.kind === 'train') return prepareTrain(tf, item, inp);
  const a = inp.arrays;
  const owned: TF.Tensor[] = [];
  const t = <T extends TF.Tensor>(x: T): T => {
    owned.push(x);
    return x;
  };
  const nhwc = (name: string, s: number[]): TF.Tensor4D => t(tf.tensor4d(nchwToNhwc(a[name]!, s), [s[0]!, s[2]!, s[3]!, s[1]!]));
  let op: () => TF.Tensor;
  let back: (data: Float32Array) => Float32Array = (d) => d;
  if (item.kind === 'gemm') {
    const A = t(tf.tensor2d(a.a!, [item.m, item.k]));
    const B = t(tf.tensor2d(a.b!, [item.k, item.n]));
    op = () => tf.matMul(A, B);
  } else if (item.kind === 'conv') {
    const [n, c, h, w] = item.x as [number, number, number, number];
    const [o, , kh, kw] = item.w as [number, number, number, number];
    const ys = convOut(item.x, item.w, item.pad);
    const pad = item.pad === 0 ? 'valid' : item.pad;
    const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC' };
    if (item.pass === 'fwd') {
      const x = nhwc('x', item.x);
      const W = t(tf.tensor4d(oihwToHwio(a.w!, item.w), [kh, kw, c, o]));
      op = () => tf.conv2d(x, W, 1, pad);
      back = (d) => nhwcToNchw(d, [ys[0]!, ys[2]!, ys[3]!, ys[1]!]);
    } else if (item.pass === 'bwdInput') {
      const dy = nhwc('dy', ys);
      const W = t(tf.tensor4d(oihwToHwio(a.w!, item.w), [kh, kw, c, o]));
      op = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: W }, { ...attrs, inputShape: [n, h, w, c] }) as TF.Tensor;
      back = (d) => nhwcToNchw(d, [n, h, w, c]);
    } else {
      const x = nhwc('x', item.x);
      const dy = nhwc('dy', ys);
      op = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [kh, kw, c, o] }) as TF.Tensor;
      back = (d) => hwioToOihw(d, [kh, kw, c, o]);
    }
  } else {
    const [n, c, h, w] = item.x as [number, number, number, number];
    const s = item.size;
    const x = nhwc('x', item.x);
    const outShape = [n, h / s, w / s, c];
    if (item.pass === 'fwd') {
      op = () => tf.maxPool(x, s, s, 'valid');
      back = (d) => nhwcToNchw(d, outShape);
    } else {
      const y = t(tf.maxPool(x, s, s, 'valid'));
      const dy = nhwc('dy', [n, c, h / s, w / s]);
      op = () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: [s, s], strides: [s, s], pad: 'valid' }) as TF.Tensor;
      back = (d) => nhwcToNchw(d, [n, h, w, c]);
    }
  }
  return {
    async run(check) {
      const t0 = performance.now();
      const y = op();
      const data = (await y.data()) as Float32Array;
      const wallMs = performance.now() - t0;
      y.dispose();
      return { wallMs, out: check ? back(data) : undefined };
    },
    async kernelMs() {
      if (tf.getBackend() !== 'webgpu') return undefined;
      let y: TF.Tensor | undefined;
      const info = await tf.time(() => {
        y = op();
      });
      y?.dispose();
      return typeof info.kernelMs === 'number' && info.kernelMs > 0 ? info.kernelMs : undefined;
    },
    dispose() {
      for (const x of owned) x.dispose();
    },
  };
}

/** Layout changes of LeNet's parameters between convgpu and the tf-ops model below. */
function lenetLayouts(item: Extract<ItemSpec, { kind: 'train' }>): Record<string, { toTf(d: Float32Array): Float32Array; fromTf(d: Float32Array): Float32Array; tfShape: number[] }> {
  const { c1, c2 } = item;
  const conv = (o: number, i: number) => ({
    tfShape: [5, 5, i, o],
    toTf: (d: Float32Array) => oihwToHwio(d, [o, i, 5, 5]),
    fromTf: (d: Float32Array) => hwioToOihw(d, [5, 5, i, o]),
  });
  // convgpu's Linear is y = x·Wᵀ with W [out, in]; tf gets W [in, out]. The first one
  // follows Flatten, whose order is (c, h, w) in NCHW but (h, w, c) in NHWC: permute its rows.
  const linear = (out: number, inF: number, flattenC = 0) => {
    const cgCol = (r: number): number => {
      if (!flattenC) return r;
      const c = r % flattenC;
      const hw = (r - c) / flattenC;
      return c * (inF / flattenC) + hw;
    };
    return {
      tfShape: [inF, out],
      toTf: (d: Float32Array) => {
        const o = new Float32Array(d.length);
        for (let r = 0; r < inF; r++) for (let j = 0; j < out; j++) o[r * out + j] = d[j * inF + cgCol(r)]!;
        return o;
      },
      fromTf: (d: Float32Array) => {
        const o = new Float32Array(d.length);
        for (let r = 0; r < inF; r++) for (let j = 0; j < out; j++) o[j * inF + cgCol(r)] = d[r * out + j]!;
        return o;
      },
    };
  };
  const same = (n: number) => ({ tfShape: [n], toTf: (d: Float32Array) => d, fromTf: (d: Float32Array) => d });
  return {
    'conv2d_0.weight': conv(c1, 1),
    'conv2d_0.bias': same(c1),
    'conv2d_1.weight': conv(c2, c1),
    'conv2d_1.bias': same(c2),
    'linear_0.weight': linear(120, c2 * 25, c2),
    'linear_0.bias': same(120),
    'linear_1.weight': linear(84, 120),
    'linear_1.bias': same(84),
    'linear_2.weight': linear(10, 84),
    'linear_2.bias': same(10),
  };
}

let variableCounter = 0;

function prepareTrain(tf: Tf, item: Extract<ItemSpec, { kind: 'train' }>, inp: Inputs): Prepared {
  const layouts = lenetLayouts(item);
  const params = inp.params as Record<string, NamedTensor>;
  const missing = Object.keys(layouts).filter((k) => !params[k]);
  if (missing.length || Object.keys(params).length !== Object.keys(layouts).length) {
    throw new Error(`LeNet's parameter names changed (missing ${missing.join(', ')}); update bench/lib/tfjs.ts`);
  }
  const tag = `#${tf.getBackend()}#${variableCounter++}`;
  const vars: Record<string, TF.Variable> = {};
  for (const [name, l] of Object.entries(layouts)) vars[name] = tf.variable(tf.tensor(l.toTf(params[name]!.data), l.tfShape), true, name + tag);
  const v = (name: string): TF.Tensor => vars[name]!;
  const N = item.batch;
  const x = tf.tensor4d(inp.arrays.x!, [N, 28, 28, 1]); // C = 1: NCHW and NHWC are the same bytes
  const labels = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(inp.arrays.labels!, 'int32'), 10), 'float32'));
  const lossFn = (): TF.Scalar =>
    tf.tidy(() => {
      const h1 = tf.fused.conv2d({ x, filter: v('conv2d_0.weight') as TF.Tensor4D, strides: 1, pad: 2, bias: v('conv2d_0.bias'), activation: 'relu' });
      const p1 = tf.maxPool(h1, 2, 2, 'valid');
      const h2 = tf.fused.conv2d({ x: p1, filter: v('conv2d_1.weight') as TF.Tensor4D, strides: 1, pad: 'valid', bias: v('conv2d_1.bias'), activation: 'relu' });
      const p2 = tf.maxPool(h2, 2, 2, 'valid');
      const f = tf.reshape(p2, [N, -1]) as TF.Tensor2D;
      const d1 = tf.fused.matMul({ a: f, b: v('linear_0.weight') as TF.Tensor2D, bias: v('linear_0.bias'), activation: 'relu' });
      const d2 = tf.fused.matMul({ a: d1, b: v('linear_1.weight') as TF.Tensor2D, bias: v('linear_1.bias'), activation: 'relu' });
      const logits = tf.fused.matMul({ a: d2, b: v('linear_2.weight') as TF.Tensor2D, bias: v('linear_2.bias') });
      return tf.losses.softmaxCrossEntropy(labels, logits) as TF.Scalar;
    });
  const varList = Object.values(vars);
  const opt = tf.train.momentum(OPTIMIZER.lr, OPTIMIZER.type === 'sgd' ? (OPTIMIZER.momentum ?? 0) : 0);
  return {
    // Timed to the loss read back once, after the update (as convgpu's step): TF.js runs the
    // update's kernels before that read returns (webgpu: one queue; wasm and cpu: at once).
    async run(check) {
      const t0 = performance.now();
      if (check) {
        const { value, grads } = tf.variableGrads(lossFn, varList);
        opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        const loss = (await value.data())[0]!;
        const wallMs = performance.now() - t0;
        const out: Record<string, Float32Array> = {};
        for (const [name, l] of Object.entries(layouts)) out[name] = l.fromTf((await grads[name + tag]!.data()) as Float32Array);
        value.dispose();
        tf.dispose(Object.values(grads));
        return { wallMs, out: { loss, grads: out } };
      }
      const loss = opt.minimize(lossFn, true, varList)!;
      await loss.data();
      const wallMs = performance.now() - t0;
      loss.dispose();
      return { wallMs };
    },
    dispose() {
      opt.dispose();
      tf.dispose([x, labels, ...varList]);
    },
  };
}

/**
 * A Conv2DBackpropFilter for tfjs-backend-wasm 4.22, which has none, built from wasm's own
 * Transpose, Conv2D and Slice: dW[kh,kw,c,o] = Σ x[n, i+kh, j+kw, c]·dy[n, i, j, o] is a
 * convolution of x viewed as [C, H, W, N] with dy viewed as a filter [OH, OW, N, O].
 * Stride 1 and dilation 1 only. Returns the function that unregisters it.
 */
export function registerWasmConv2DBackpropFilter(tf: Tf): () => void {
  const kernel = (name: string): TF.KernelFunc => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`tfjs-backend-wasm has no ${name} kernel to build Conv2DBackpropFilter from`);
    return k.kernelFunc;
  };
  const transpose = kernel('Transpose');
  const conv2d = kernel('Conv2D');
  const slice = kernel('Slice');
  const one = (r: TF.TensorInfo | TF.TensorInfo[]): TF.TensorInfo => (Array.isArray(r) ? r[0]! : r);
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: TF.TensorInfo; dy: TF.TensorInfo };
      const at = attrs ?? {};
      const filterShape = at.filterShape as [number, number, number, number];
      const strides = at.strides as number | [number, number];
      if (at.dataFormat !== 'NHWC') throw new Error('patched Conv2DBackpropFilter: NHWC only');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        strides,
        1,
        at.pad as 'valid' | 'same' | number,
        at.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
      );
      if (info.strideHeight !== 1 || info.strideWidth !== 1) throw new Error('patched Conv2DBackpropFilter: stride 1 only');
      const [kh, kw, c, o] = filterShape;
      const { top, bottom, left, right } = info.padInfo;
      const xt = one(transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }));
      const dyt = one(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
      const full = one(conv2d({ inputs: { x: xt, filter: dyt }, backend, attrs: { strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] } }));
      const exact = full.shape[1] === kh && full.shape[2] === kw;
      const cut = exact ? full : one(slice({ inputs: { x: full }, backend, attrs: { begin: [0, 0, 0, 0], size: [c, kh, kw, o] } }));
      const dw = one(transpose({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } }));
      for (const tmp of exact ? [xt, dyt, full] : [xt, dyt, full, cut]) (backend as TF.KernelBackend).disposeData(tmp.dataId);
      return dw;
    },
  });
  return () => tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
}
