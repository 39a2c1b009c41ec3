// The same public op functions on both backends: WebGPU kernels and the CPU reference.
// Write a check once against `Backend<T>`, run it on both, and compare the results.
import { ShapeError, fmtShape } from './errors.js';
import * as adamGpu from './ops/adam.js';
import * as act from './ops/activation.js';
import * as avg from './ops/avgpool2d.js';
import * as conv from './ops/conv2d.js';
import * as ew from './ops/elementwise.js';
import * as gemm from './ops/gemm.js';
import type { Conv2dAttrs, GemmAttrs, Pool2dAttrs } from './ops/geometry.js';
import * as gap from './ops/globalavgpool.js';
import * as maxp from './ops/maxpool2d.js';
import * as sgdGpu from './ops/sgd.js';
import * as sx from './ops/softmax_xent.js';
import * as sumGpu from './ops/sum.js';
import * as ref from './reference/index.js';
import type { HostTensor } from './reference/tensor.js';
import { Engine, checkFinite, type EngineOptions } from './runtime/engine.js';
import { Tensor } from './runtime/tensor.js';
import { checkDistinct, checkShape, sizeOf, type Shape } from './shape.js';
import type { AdamOptions } from './ops/adam.js';
import type { SgdOptions } from './ops/sgd.js';

/** What both backends' tensors offer. */
export interface AnyTensor {
  readonly shape: readonly number[];
  read(): Promise<Float32Array>;
  dispose(): void;
}

export interface Backend<T extends AnyTensor> {
  readonly name: 'webgpu' | 'cpu';
  /** Refuses NaN and ±Infinity unless allowNonFinite, on both backends. */
  tensor(data: ArrayLike<number>, shape: Shape, opts?: { allowNonFinite?: boolean }): T;
  zeros(shape: Shape): T;

  matmul(a: T, b: T, o?: GemmAttrs & { bias?: T; relu?: boolean }): Promise<T>;
  matmulBackward(a: T, b: T, dy: T, o?: GemmAttrs): Promise<{ da: T; db: T }>;

  conv2d(x: T, w: T, o?: Conv2dAttrs & { bias?: T; relu?: boolean }): Promise<T>;
  conv2dBackwardInput(dy: T, w: T, xShape: Shape, o?: Conv2dAttrs): Promise<T>;
  conv2dBackwardFilter(x: T, dy: T, wShape: Shape, o?: Conv2dAttrs): Promise<T>;
  conv2dBackwardBias(dy: T): Promise<T>;

  maxPool2d(x: T, o: Pool2dAttrs): Promise<T>;
  maxPool2dBackward(x: T, dy: T, o: Pool2dAttrs): Promise<T>;
  avgPool2d(x: T, o: Pool2dAttrs): Promise<T>;
  avgPool2dBackward(dy: T, xShape: Shape, o: Pool2dAttrs): Promise<T>;
  globalAvgPool(x: T): Promise<T>;
  globalAvgPoolBackward(dy: T, xShape: Shape): Promise<T>;

  relu(x: T): Promise<T>;
  reluBackward(x: T, dy: T): Promise<T>;
  leakyRelu(x: T, alpha: number): Promise<T>;
  leakyReluBackward(x: T, dy: T, alpha: number): Promise<T>;
  sigmoid(x: T): Promise<T>;
  /** y is sigmoid's output. */
  sigmoidBackward(y: T, dy: T): Promise<T>;
  tanh(x: T): Promise<T>;
  /** y is tanh's output. */
  tanhBackward(y: T, dy: T): Promise<T>;

  /** Mean loss, shape [1]. labels: [N] class indices. */
  softmaxCrossEntropy(logits: T, labels: T): Promise<T>;
  softmaxCrossEntropyBackward(logits: T, labels: T, dloss?: number): Promise<T>;

  add(a: T, b: T): Promise<T>;
  mul(a: T, b: T): Promise<T>;
  mulBackward(a: T, b: T, dy: T): Promise<{ da: T; db: T }>;
  scale(a: T, s: number): Promise<T>;
  sum(x: T, axis: number): Promise<T>;

  /** In place: param and velocity. */
  sgdStep(param: T, grad: T, velocity: T, o: SgdOptions): Promise<void>;
  /** In place: param, m and v. */
  adamStep(param: T, grad: T, m: T, v: T, o: AdamOptions): Promise<void>;
}

/** The WebGPU backend: each op runs its WGSL kernels on the engine's device. */
export class WebGpuBackend implements Backend<Tensor> {
  readonly name = 'webgpu' as const;
  constructor(readonly engine: Engine) {}

  static async create(opts: EngineOptions = {}): Promise<WebGpuBackend> {
    return new WebGpuBackend(await Engine.create(opts));
  }

  tensor(data: ArrayLike<number>, shape: Shape, opts?: { allowNonFinite?: boolean }): Tensor {
    return this.engine.tensor(data, shape, opts);
  }
  zeros(shape: Shape): Tensor {
    return this.engine.zeros(shape);
  }
  matmul(a: Tensor, b: Tensor, o?: gemm.MatmulOptions) { return gemm.matmul(this.engine, a, b, o); }
  matmulBackward(a: Tensor, b: Tensor, dy: Tensor, o?: GemmAttrs) { return gemm.matmulBackward(this.engine, a, b, dy, o); }
  conv2d(x: Tensor, w: Tensor, o?: conv.Conv2dOptions) { return conv.conv2d(this.engine, x, w, o); }
  conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, o?: Conv2dAttrs) { return conv.conv2dBackwardInput(this.engine, dy, w, xShape, o); }
  conv2dBackwardFilter(x: Tensor, dy: Tensor, wShape: Shape, o?: Conv2dAttrs) { return conv.conv2dBackwardFilter(this.engine, x, dy, wShape, o); }
  conv2dBackwardBias(dy: Tensor) { return conv.conv2dBackwardBias(this.engine, dy); }
  maxPool2d(x: Tensor, o: Pool2dAttrs) { return maxp.maxPool2d(this.engine, x, o); }
  maxPool2dBackward(x: Tensor, dy: Tensor, o: Pool2dAttrs) { return maxp.maxPool2dBackward(this.engine, x, dy, o); }
  avgPool2d(x: Tensor, o: Pool2dAttrs) { return avg.avgPool2d(this.engine, x, o); }
  avgPool2dBackward(dy: Tensor, xShape: Shape, o: Pool2dAttrs) { return avg.avgPool2dBackward(this.engine, dy, xShape, o); }
  globalAvgPool(x: Tensor) { return gap.globalAvgPool(this.engine, x); }
  globalAvgPoolBackward(dy: Tensor, xShape: Shape) { return gap.globalAvgPoolBackward(this.engine, dy, xShape); }
  relu(x: Tensor) { return act.activation(this.engine, 'relu', x); }
  reluBackward(x: Tensor, dy: Tensor) { return act.activationBackward(this.engine, 'relu', x, dy); }
  leakyRelu(x: Tensor, alpha: number) { return act.activation(this.engine, 'leakyRelu', x, alpha); }
  leakyReluBackward(x: Tensor, dy: Tensor, alpha: number) { return act.activationBackward(this.engine, 'leakyRelu', x, dy, alpha); }
  sigmoid(x: Tensor) { return act.activation(this.engine, 'sigmoid', x); }
  sigmoidBackward(y: Tensor, dy: Tensor) { return act.activationBackward(this.engine, 'sigmoid', y, dy); }
  tanh(x: Tensor) { return act.activation(this.engine, 'tanh', x); }
  tanhBackward(y: Tensor, dy: Tensor) { return act.activationBackward(this.engine, 'tanh', y, dy); }
  softmaxCrossEntropy(logits: Tensor, labels: Tensor) { return sx.softmaxCrossEntropy(this.engine, logits, labels); }
  softmaxCrossEntropyBackward(logits: Tensor, labels: Tensor, dloss?: number) { return sx.softmaxCrossEntropyBackward(this.engine, logits, labels, dloss); }
  add(a: Tensor, b: Tensor) { return ew.add(this.engine, a, b); }
  mul(a: Tensor, b: Tensor) { return ew.mul(this.engine, a, b); }
  mulBackward(a: Tensor, b: Tensor, dy: Tensor) { return ew.mulBackward(this.engine, a, b, dy); }
  scale(a: Tensor, s: number) { return ew.scale(this.engine, a, s); }
  sum(x: Tensor, axis: number) { return sumGpu.sum(this.engine, x, axis); }
  sgdStep(param: Tensor, grad: Tensor, velocity: Tensor, o: SgdOptions) { return sgdGpu.sgdStep(this.engine, param, grad, velocity, o); }
  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamOptions) { return adamGpu.adamStep(this.engine, param, grad, m, v, o); }
}

/** A CPU reference tensor: float64 values, read back rounded to f32 like the GPU's. */
export class CpuTensor implements AnyTensor {
  constructor(public host: HostTensor) {}
  get shape(): readonly number[] {
    return this.host.shape;
  }
  async read(): Promise<Float32Array> {
    return Float32Array.from(this.host.data);
  }
  dispose(): void {}
}

const wrap = (h: HostTensor): CpuTensor => new CpuTensor(h);

/** The CPU reference backend: plain float64 loops (src/reference), written from the math. */
export class CpuBackend implements Backend<CpuTensor> {
  readonly name = 'cpu' as const;
  tensor(data: ArrayLike<number>, shape: Shape, opts: { allowNonFinite?: boolean } = {}): CpuTensor {
    const t = ref.host(data, shape);
    if (!opts.allowNonFinite) checkFinite('tensor', t.data, shape);
    return wrap(t);
  }
  zeros(shape: Shape): CpuTensor {
    checkShape('zeros', 'tensor', shape);
    return wrap(ref.host(new Float64Array(sizeOf(shape)), shape));
  }
  async matmul(a: CpuTensor, b: CpuTensor, o: GemmAttrs & { bias?: CpuTensor; relu?: boolean } = {}) {
    return wrap(ref.matmul(a.host, b.host, { ...o, bias: o.bias?.host }));
  }
  async matmulBackward(a: CpuTensor, b: CpuTensor, dy: CpuTensor, o?: GemmAttrs) {
    const r = ref.matmulBackward(a.host, b.host, dy.host, o);
    return { da: wrap(r.da), db: wrap(r.db) };
  }
  async conv2d(x: CpuTensor, w: CpuTensor, o: Conv2dAttrs & { bias?: CpuTensor; relu?: boolean } = {}) {
    return wrap(ref.conv2d(x.host, w.host, { ...o, bias: o.bias?.host }));
  }
  async conv2dBackwardInput(dy: CpuTensor, w: CpuTensor, xShape: Shape, o?: Conv2dAttrs) {
    return wrap(ref.conv2dBackwardInput(dy.host, w.host, [...xShape], o));
  }
  async conv2dBackwardFilter(x: CpuTensor, dy: CpuTensor, wShape: Shape, o?: Conv2dAttrs) {
    return wrap(ref.conv2dBackwardFilter(x.host, dy.host, [...wShape], o));
  }
  async conv2dBackwardBias(dy: CpuTensor) { return wrap(ref.conv2dBackwardBias(dy.host)); }
  async maxPool2d(x: CpuTensor, o: Pool2dAttrs) { return wrap(ref.maxPool2d(x.host, o)); }
  async maxPool2dBackward(x: CpuTensor, dy: CpuTensor, o: Pool2dAttrs) { return wrap(ref.maxPool2dBackward(x.host, dy.host, o)); }
  async avgPool2d(x: CpuTensor, o: Pool2dAttrs) { return wrap(ref.avgPool2d(x.host, o)); }
  async avgPool2dBackward(dy: CpuTensor, xShape: Shape, o: Pool2dAttrs) { return wrap(ref.avgPool2dBackward(dy.host, [...xShape], o)); }
  async globalAvgPool(x: CpuTensor) { return wrap(ref.globalAvgPool(x.host)); }
  async globalAvgPoolBackward(dy: CpuTensor, xShape: Shape) { return wrap(ref.globalAvgPoolBackward(dy.host, [...xShape])); }
  async relu(x: CpuTensor) { return wrap(ref.relu(x.host)); }
  async reluBackward(x: CpuTensor, dy: CpuTensor) { return wrap(ref.reluBackward(x.host, dy.host)); }
  async leakyRelu(x: CpuTensor, alpha: number) { return wrap(ref.leakyRelu(x.host, alpha)); }
  async leakyReluBackward(x: CpuTensor, dy: CpuTensor, alpha: number) { return wrap(ref.leakyReluBackward(x.host, dy.host, alpha)); }
  async sigmoid(x: CpuTensor) { return wrap(ref.sigmoid(x.host)); }
  async sigmoidBackward(y: CpuTensor, dy: CpuTensor) { return wrap(ref.sigmoidBackward(y.host, dy.host)); }
  async tanh(x: CpuTensor) { return wrap(ref.tanh(x.host)); }
  async tanhBackward(y: CpuTensor, dy: CpuTensor) { return wrap(ref.tanhBackward(y.host, dy.host)); }
  async softmaxCrossEntropy(logits: CpuTensor, labels: CpuTensor) { return wrap(ref.softmaxCrossEntropy(logits.host, labels.host).loss); }
  async softmaxCrossEntropyBackward(logits: CpuTensor, labels: CpuTensor, dloss = 1) {
    return wrap(ref.softmaxCrossEntropyBackward(logits.host, labels.host, dloss));
  }
  async add(a: CpuTensor, b: CpuTensor) { return wrap(ref.add(a.host, b.host)); }
  async mul(a: CpuTensor, b: CpuTensor) { return wrap(ref.mul(a.host, b.host)); }
  async mulBackward(a: CpuTensor, b: CpuTensor, dy: CpuTensor) {
    const r = ref.mulBackward(a.host, b.host, dy.host);
    return { da: wrap(r.da), db: wrap(r.db) };
  }
  async scale(a: CpuTensor, s: number) { return wrap(ref.scale(a.host, s)); }
  async sum(x: CpuTensor, axis: number) { return wrap(ref.sum(x.host, axis)); }
  async sgdStep(param: CpuTensor, grad: CpuTensor, velocity: CpuTensor, o: SgdOptions) {
    checkDistinct('sgdStep', [['param', param], ['grad', grad], ['velocity', velocity]]);
    const r = ref.sgdStep(param.host, grad.host, velocity.host, o);
    param.host = r.param;
    velocity.host = r.velocity;
  }
  async adamStep(param: CpuTensor, grad: CpuTensor, m: CpuTensor, v: CpuTensor, o: AdamOptions) {
    checkDistinct('adamStep', [['param', param], ['grad', grad], ['m', m], ['v', v]]);
    const r = ref.adamStep(param.host, grad.host, m.host, v.host, o);
    param.host = r.param;
    m.host = r.m;
    v.host = r.v;
  }
}

/** Largest absolute and relative difference between two results, for `verify`-style checks. */
export async function compare(a: AnyTensor, b: AnyTensor): Promise<{ maxAbs: number; maxRel: number }> {
  if (fmtShape(a.shape) !== fmtShape(b.shape)) {
    throw new ShapeError(`compare: shapes differ, ${fmtShape(a.shape)} and ${fmtShape(b.shape)}.`);
  }
  const [x, y] = await Promise.all([a.read(), b.read()]);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i] || (Number.isNaN(x[i]) && Number.isNaN(y[i]))) continue; // equal infinities, NaN in both places
    const d = Math.abs(x[i]! - y[i]!) || Infinity; // NaN: one side only
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(y[i]!), 1e-6));
  }
  return { maxAbs, maxRel };
}
