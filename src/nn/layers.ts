// Layers: each one states its shape rule, its parameters, and its forward and backward
// on both backends (WGSL dispatches and the float64 reference). Shapes include the batch.
import { AttributeError, ShapeError, fmtShape } from '../errors.js';
import * as act from '../ops/activation.js';
import * as avg from '../ops/avgpool2d.js';
import { bnApplyDispatch, bnBackwardDispatches, bnStatsDispatch, type BnGeom } from '../ops/batchnorm2d.js';
import { concatDispatch } from '../ops/concat.js';
import * as conv from '../ops/conv2d.js';
import { dropoutDispatch, dropoutKeep, dropoutParams } from '../ops/dropout.js';
import { elementwiseDispatch } from '../ops/elementwise.js';
import { gemmDispatches, gemmScratch } from '../ops/gemm.js';
import { mergeScratch } from '../ops/dispatch.js';
import { conv2dGeom, pool2dGeom, type Conv2dAttrs, type Pool2dAttrs } from '../ops/geometry.js';
import * as gap from '../ops/globalavgpool.js';
import * as maxp from '../ops/maxpool2d.js';
import { sumAxisDispatch } from '../ops/sum.js';
import * as ref from '../reference/index.js';
import type { HostTensor } from '../reference/tensor.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { sizeOf } from '../shape.js';
import { paramSeed } from './init.js';

/** 'running': BatchNorm's [2, C] running statistics, means 0 then variances 1. */
export type Init = 'he' | 'glorot' | 'zeros' | 'ones' | 'running';

export interface ParamSpec {
  /** Short name within the layer: 'weight', 'bias'. */
  name: string;
  shape: number[];
  init: Init;
  /** Inputs feeding each output unit, for He/Glorot. */
  fanIn: number;
  fanOut: number;
  /** false for state the optimizer must not touch (BatchNorm's running statistics). */
  trainable?: boolean;
}

export interface GpuCtx {
  engine: Engine;
  inShapes: number[][];
  outShape: number[];
  x: Binding[];
  y: Binding;
  p: Record<string, Binding>;
  training: boolean;
  /** Buffers named by scratchForward (forward) or scratchBackward (backward). */
  scratch: Record<string, Binding>;
  /** Forward only, where fusesRelu: write ReLU(output), for a following ReLU whose dispatch the plan drops. */
  relu?: boolean;
}

export interface GpuBwdCtx extends GpuCtx {
  dy: Binding;
  /** null where no gradient is needed (the model input). */
  dx: (Binding | null)[];
  /** Where fusesReluBackward: the input is a ReLU's output; dx is the gradient of that ReLU's input. */
  reluMask?: boolean;
  dp: Record<string, Binding>;
}

export interface CpuCtx {
  inShapes: number[][];
  outShape: number[];
  x: HostTensor[];
  p: Record<string, HostTensor>;
  training: boolean;
  /** Training step, for layers that draw random numbers (dropout). */
  step: number;
}

export interface CpuBwdCtx extends CpuCtx {
  y: HostTensor;
  dy: HostTensor;
}

/** A dispatch whose uniform params change every step (dropout seeds). */
export type StepDispatch = Dispatch & { perStep?: (step: number) => ArrayBuffer; /** What the dispatch is for, e.g. "conv2d_0 backward" (for profiles). */ label?: string };

export abstract class Layer {
  abstract readonly kind: string;
  /** Unique in its model; set when the layer is added to a graph. */
  name = '';
  /** Number of inputs; -1 for any number ≥ 2. */
  readonly arity: number = 1;
  /** What the backward pass reads: the forward inputs, the forward output. */
  readonly saves: { inputs: boolean; output: boolean } = { inputs: false, output: false };
  /** The output is the input's storage, reshaped (Flatten). */
  readonly isView: boolean = false;
  /** gpuForward can apply ReLU to its output in the same kernel (GpuCtx.relu). */
  readonly fusesRelu: boolean = false;
  /** gpuBackward can also do the backward of a ReLU that produced its input (GpuBwdCtx.reluMask). */
  readonly fusesReluBackward: boolean = false;

  abstract outShape(inShapes: number[][]): number[];
  params(_inShapes: number[][]): ParamSpec[] {
    return [];
  }
  /** Multiply-adds ×2 for the forward pass of the whole batch. */
  flops(_inShapes: number[][], _outShape: number[]): number {
    return 0;
  }
  /**
   * What sets a convolution apart from a dense layer, in two numbers per image: the input values
   * each output reads (local connectivity: a conv's window, C/groups·KH·KW; a dense layer's whole
   * input) and the outputs each weight serves (shared weights: a filter at all OH·OW positions; a
   * dense weight at one; BatchNorm's per-channel scale at all H·W). Null for layers without weights.
   */
  weightUse(_inShapes: number[][]): { fanIn: number; uses: number } | null {
    return null;
  }
  /** Scratch buffers (float counts by name) the GPU forward needs, alive during that pass only. */
  scratchForward(_engine: Engine, _inShapes: number[][]): Record<string, number> {
    return {};
  }
  /** Scratch buffers the GPU backward needs; needDx is false where no input gradient is wanted. */
  scratchBackward(_engine: Engine, _inShapes: number[][], _needDx: boolean): Record<string, number> {
    return {};
  }
  abstract gpuForward(c: GpuCtx): StepDispatch[];
  abstract gpuBackward(c: GpuBwdCtx): StepDispatch[];
  abstract cpuForward(c: CpuCtx): HostTensor;
  abstract cpuBackward(c: CpuBwdCtx): { dx: HostTensor[]; dp: Record<string, HostTensor> };

  /** "conv2d_0 (Conv2d)", for error messages. */
  get label(): string {
    return `${this.name || '(unnamed)'} (${this.kind})`;
  }

  protected fail(msg: string): never {
    throw new ShapeError(`${this.label}: ${msg}`);
  }

  protected rank(inShape: number[], r: number, layout: string): void {
    if (inShape.length !== r) this.fail(`expects a rank-${r} input ${layout}, got ${fmtShape(inShape)}.`);
  }

  /** Re-throws an op's shape error with this layer's name in front. */
  protected named<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ShapeError || e instanceof AttributeError) {
        const E = e.constructor as new (m: string) => Error;
        throw new E(`${this.label}: ${e.message}`);
      }
      throw e;
    }
  }
}

function copyDispatch(engine: Engine, total: number, src: Binding, dst: Binding): Dispatch {
  return elementwiseDispatch(engine, 'scale', total, src, engine.dummy, dst, 1);
}

export interface Conv2dOptions extends Conv2dAttrs {
  bias?: boolean;
  init?: Init;
}

export class Conv2d extends Layer {
  readonly kind = 'Conv2d';
  override readonly saves = { inputs: true, output: false };
  override readonly fusesRelu = true;
  readonly attrs: Conv2dAttrs;
  readonly bias: boolean;
  readonly init: Init;
  readonly kernel: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    opts: Conv2dOptions = {},
  ) {
    super();
    this.kernel = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const { bias = true, init = 'he', ...attrs } = opts;
    this.attrs = attrs;
    this.bias = bias;
    this.init = init;
  }

  private wShape(): number[] {
    return [this.outChannels, this.inChannels / (this.attrs.groups ?? 1), ...this.kernel];
  }

  geom(inShapes: number[][]) {
    const x = inShapes[0]!;
    this.rank(x, 4, '[N, C, H, W]');
    if (x[1] !== this.inChannels) this.fail(`was built for ${this.inChannels} input channels, but its input is ${fmtShape(x)}.`);
    const groups = this.attrs.groups ?? 1;
    if (this.inChannels % groups !== 0 || this.outChannels % groups !== 0) {
      throw new AttributeError(`${this.label}: groups=${groups} must divide both ${this.inChannels} input and ${this.outChannels} output channels.`);
    }
    return this.named(() => conv2dGeom(x, this.wShape(), this.attrs, 'conv2d'));
  }

  outShape(inShapes: number[][]): number[] {
    return conv.conv2dOutShape(this.geom(inShapes));
  }

  override params(inShapes: number[][]): ParamSpec[] {
    const g = this.geom(inShapes);
    const k = g.kh * g.kw;
    const ps: ParamSpec[] = [{ name: 'weight', shape: this.wShape(), init: this.init, fanIn: g.cg * k, fanOut: g.og * k }];
    if (this.bias) ps.push({ name: 'bias', shape: [this.outChannels], init: 'zeros', fanIn: 1, fanOut: 1 });
    return ps;
  }

  override flops(inShapes: number[][]): number {
    const g = this.geom(inShapes);
    return 2 * g.n * g.o * g.oh * g.ow * g.cg * g.kh * g.kw;
  }

  override weightUse(inShapes: number[][]): { fanIn: number; uses: number } {
    const g = this.geom(inShapes);
    return { fanIn: g.cg * g.kh * g.kw, uses: g.oh * g.ow };
  }

  override scratchForward(engine: Engine, inShapes: number[][]): Record<string, number> {
    return conv.conv2dScratch(engine, this.geom(inShapes), 'fwd');
  }

  override scratchBackward(engine: Engine, inShapes: number[][], needDx: boolean): Record<string, number> {
    const g = this.geom(inShapes);
    // Passes run one after another, so the input-gradient and filter-gradient scratch may share names' buffers.
    return mergeScratch(
      needDx ? conv.conv2dScratch(engine, g, 'bwdInput') : {},
      conv.conv2dScratch(engine, g, 'bwdFilter'),
      this.bias ? conv.conv2dBwdBiasScratch(engine, g.n, g.o) : {},
    );
  }

  gpuForward(c: GpuCtx): StepDispatch[] {
    return conv.conv2dFwdDispatches(c.engine, this.geom(c.inShapes), c.x[0]!, c.p.weight!, c.y, c.scratch, { bias: c.p.bias, relu: c.relu });
  }

  gpuBackward(c: GpuBwdCtx): StepDispatch[] {
    const g = this.geom(c.inShapes);
    const ds: StepDispatch[] = [];
    if (c.dx[0]) ds.push(...conv.conv2dBwdInputDispatches(c.engine, g, c.dy, c.p.weight!, c.dx[0], c.scratch));
    ds.push(...conv.conv2dBwdFilterDispatches(c.engine, g, c.x[0]!, c.dy, c.dp.weight!, c.scratch));
    if (this.bias) ds.push(...conv.conv2dBwdBiasDispatches(c.engine, g.n, g.o, g.oh * g.ow, c.dy, c.dp.bias!, c.scratch));
    return ds;
  }

  cpuForward(c: CpuCtx): HostTensor {
    return ref.conv2d(c.x[0]!, c.p.weight!, { ...this.attrs, bias: c.p.bias });
  }

  cpuBackward(c: CpuBwdCtx) {
    const dp: Record<string, HostTensor> = { weight: ref.conv2dBackwardFilter(c.x[0]!, c.dy, this.wShape(), this.attrs) };
    if (this.bias) dp.bias = ref.conv2dBackwardBias(c.dy);
    return { dx: [ref.conv2dBackwardInput(c.dy, c.p.weight!, c.inShapes[0]!, this.attrs)], dp };
  }
}

export class Linear extends Layer {
  readonly kind: string = 'Linear';
  override readonly saves = { inputs: true, output: false };
  override readonly fusesRelu = true;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly opts: { bias?: boolean; init?: Init } = {},
  ) {
    super();
  }

  outShape(inShapes: number[][]): number[] {
    const x = inShapes[0]!;
    if (x.length !== 2) this.fail(`expects [N, ${this.inFeatures}], got ${fmtShape(x)}; add a Flatten before it.`);
    if (x[1] !== this.inFeatures) this.fail(`was built for ${this.inFeatures} input features, but its input is ${fmtShape(x)}.`);
    return [x[0]!, this.outFeatures];
  }

  override params(): ParamSpec[] {
    const ps: ParamSpec[] = [
      { name: 'weight', shape: [this.outFeatures, this.inFeatures], init: this.opts.init ?? 'he', fanIn: this.inFeatures, fanOut: this.outFeatures },
    ];
    if (this.opts.bias !== false) ps.push({ name: 'bias', shape: [this.outFeatures], init: 'zeros', fanIn: 1, fanOut: 1 });
    return ps;
  }

  override flops(inShapes: number[][]): number {
    return 2 * inShapes[0]![0]! * this.inFeatures * this.outFeatures;
  }

  override weightUse(): { fanIn: number; uses: number } {
    return { fanIn: this.inFeatures, uses: 1 };
  }

  // The GEMMs: y = x·Wᵀ; dx = dy·W; dW = dyᵀ·x.
  private gemms(n: number) {
    const [i, o] = [this.inFeatures, this.outFeatures];
    const g = (m: number, nn: number, k: number, transA: boolean, transB: boolean) => ({ batch: 1, m, n: nn, k, transA, transB, broadcastB: false });
    return { fwd: g(n, o, i, false, true), dx: g(n, i, o, false, false), dw: g(o, i, n, true, false) };
  }

  override scratchForward(engine: Engine, inShapes: number[][]): Record<string, number> {
    return gemmScratch(engine, this.gemms(inShapes[0]![0]!).fwd);
  }

  override scratchBackward(engine: Engine, inShapes: number[][], needDx: boolean): Record<string, number> {
    const gs = this.gemms(inShapes[0]![0]!);
    // The two GEMMs run one after the other and share the packing scratch.
    return mergeScratch(gemmScratch(engine, gs.dw), needDx ? gemmScratch(engine, gs.dx) : {});
  }

  gpuForward(c: GpuCtx): StepDispatch[] {
    return gemmDispatches(c.engine, this.gemms(c.inShapes[0]![0]!).fwd, c.x[0]!, c.p.weight!, c.y, { bias: c.p.bias, relu: c.relu }, c.scratch);
  }

  gpuBackward(c: GpuBwdCtx): StepDispatch[] {
    const n = c.inShapes[0]![0]!;
    const o = this.outFeatures;
    const gs = this.gemms(n);
    const ds: StepDispatch[] = [];
    if (c.dx[0]) ds.push(...gemmDispatches(c.engine, gs.dx, c.dy, c.p.weight!, c.dx[0], {}, c.scratch));
    ds.push(...gemmDispatches(c.engine, gs.dw, c.dy, c.x[0]!, c.dp.weight!, {}, c.scratch));
    if (c.dp.bias) ds.push(sumAxisDispatch(c.engine, c.dy, c.dp.bias, 1, n, o)); // db = Σ_batch dy
    return ds;
  }

  cpuForward(c: CpuCtx): HostTensor {
    return ref.matmul(c.x[0]!, c.p.weight!, { transB: true, bias: c.p.bias });
  }

  cpuBackward(c: CpuBwdCtx) {
    const { da, db } = ref.matmulBackward(c.x[0]!, c.p.weight!, c.dy, { transB: true });
    const dp: Record<string, HostTensor> = { weight: db };
    if (c.p.bias) dp.bias = ref.sum(c.dy, 0);
    return { dx: [da], dp };
  }
}

/** Keras' name for Linear. */
export class Dense extends Linear {
  override readonly kind = 'Dense';
}

abstract class Pool extends Layer {
  constructor(readonly attrs: Pool2dAttrs) {
    super();
  }
  geom(inShapes: number[][]) {
    this.rank(inShapes[0]!, 4, '[N, C, H, W]');
    return this.named(() => pool2dGeom(inShapes[0]!, this.attrs, this.kind));
  }
  outShape(inShapes: number[][]): number[] {
    const g = this.geom(inShapes);
    return [g.n, g.c, g.oh, g.ow];
  }
  /** One compare or add per window element. */
  override flops(inShapes: number[][]): number {
    const g = this.geom(inShapes);
    return g.n * g.c * g.oh * g.ow * g.kh * g.kw;
  }
}

export class MaxPool2d extends Pool {
  readonly kind = 'MaxPool2d';
  override readonly saves = { inputs: true, output: false };
  override readonly fusesReluBackward = true;
  constructor(kernelSize: number | [number, number], opts: Omit<Pool2dAttrs, 'kernelSize'> = {}) {
    super({ kernelSize, ...opts });
  }
  gpuForward(c: GpuCtx) {
    return [maxp.maxPool2dFwdDispatch(c.engine, this.geom(c.inShapes), c.x[0]!, c.y)];
  }
  gpuBackward(c: GpuBwdCtx) {
    return c.dx[0] ? [maxp.maxPool2dBwdDispatch(c.engine, this.geom(c.inShapes), c.x[0]!, c.dy, c.dx[0], { reluMask: c.reluMask })] : [];
  }
  cpuForward(c: CpuCtx) {
    return ref.maxPool2d(c.x[0]!, this.attrs);
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [ref.maxPool2dBackward(c.x[0]!, c.dy, this.attrs)], dp: {} };
  }
}

export class AvgPool2d extends Pool {
  readonly kind = 'AvgPool2d';
  constructor(kernelSize: number | [number, number], opts: Omit<Pool2dAttrs, 'kernelSize'> = {}) {
    super({ kernelSize, ...opts });
  }
  gpuForward(c: GpuCtx) {
    return [avg.avgPool2dFwdDispatch(c.engine, this.geom(c.inShapes), c.x[0]!, c.y)];
  }
  gpuBackward(c: GpuBwdCtx) {
    return c.dx[0] ? [avg.avgPool2dBwdDispatch(c.engine, this.geom(c.inShapes), c.dy, c.dx[0])] : [];
  }
  cpuForward(c: CpuCtx) {
    return ref.avgPool2d(c.x[0]!, this.attrs);
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [ref.avgPool2dBackward(c.dy, c.inShapes[0]!, this.attrs)], dp: {} };
  }
}

export class GlobalAvgPool extends Layer {
  readonly kind = 'GlobalAvgPool';
  outShape(inShapes: number[][]): number[] {
    this.rank(inShapes[0]!, 4, '[N, C, H, W]');
    return [inShapes[0]![0]!, inShapes[0]![1]!];
  }
  gpuForward(c: GpuCtx) {
    return [gap.globalAvgPoolFwdDispatch(c.engine, c.inShapes[0]!, c.x[0]!, c.y)];
  }
  gpuBackward(c: GpuBwdCtx) {
    return c.dx[0] ? [gap.globalAvgPoolBwdDispatch(c.engine, c.inShapes[0]!, c.dy, c.dx[0])] : [];
  }
  cpuForward(c: CpuCtx) {
    return ref.globalAvgPool(c.x[0]!);
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [ref.globalAvgPoolBackward(c.dy, c.inShapes[0]!)], dp: {} };
  }
}

/**
 * Pointwise activations. The backward pass reads the OUTPUT for all four: y > 0 iff x > 0
 * for ReLU and leaky ReLU (alpha ≥ 0), and sigmoid/tanh derivatives are cheapest in y.
 * Keeping y instead of x lets x's buffer be reused as soon as the forward is done.
 */
class ActivationLayer extends Layer {
  override readonly saves = { inputs: false, output: true };
  constructor(
    readonly kind: string,
    readonly fn: act.Activation,
    readonly alpha = 0,
  ) {
    super();
    if (fn === 'leakyRelu' && !(alpha >= 0 && Number.isFinite(alpha))) {
      throw new AttributeError(`LeakyReLU: alpha must be a finite number ≥ 0, got ${alpha}.`);
    }
  }
  outShape(inShapes: number[][]): number[] {
    return [...inShapes[0]!];
  }
  override flops(inShapes: number[][]): number {
    return sizeOf(inShapes[0]!);
  }
  gpuForward(c: GpuCtx) {
    return [act.activationFwdDispatch(c.engine, this.fn, sizeOf(c.outShape), c.x[0]!, c.y, this.alpha)];
  }
  gpuBackward(c: GpuBwdCtx) {
    return c.dx[0] ? [act.activationBwdDispatch(c.engine, this.fn, sizeOf(c.outShape), c.y, c.dy, c.dx[0], this.alpha)] : [];
  }
  cpuForward(c: CpuCtx): HostTensor {
    const x = c.x[0]!;
    switch (this.fn) {
      case 'relu': return ref.relu(x);
      case 'leakyRelu': return ref.leakyRelu(x, this.alpha);
      case 'sigmoid': return ref.sigmoid(x);
      case 'tanh': return ref.tanh(x);
    }
  }
  cpuBackward(c: CpuBwdCtx) {
    const { y, dy } = c;
    const dx = (() => {
      switch (this.fn) {
        case 'relu': return ref.reluBackward(y, dy);
        case 'leakyRelu': return ref.leakyReluBackward(y, dy, this.alpha);
        case 'sigmoid': return ref.sigmoidBackward(y, dy);
        case 'tanh': return ref.tanhBackward(y, dy);
      }
    })();
    return { dx: [dx], dp: {} };
  }
}

export class ReLU extends ActivationLayer {
  constructor() {
    super('ReLU', 'relu');
  }
}
export class LeakyReLU extends ActivationLayer {
  constructor(alpha = 0.01) {
    super('LeakyReLU', 'leakyRelu', alpha);
  }
}
export class Sigmoid extends ActivationLayer {
  constructor() {
    super('Sigmoid', 'sigmoid');
  }
}
export class Tanh extends ActivationLayer {
  constructor() {
    super('Tanh', 'tanh');
  }
}

/** [N, ...] → [N, product]. A view: no kernel, the storage is shared. */
export class Flatten extends Layer {
  readonly kind = 'Flatten';
  override readonly isView = true;
  outShape(inShapes: number[][]): number[] {
    const x = inShapes[0]!;
    return [x[0]!, sizeOf(x.slice(1))];
  }
  gpuForward() {
    return [];
  }
  gpuBackward() {
    return [];
  }
  cpuForward(c: CpuCtx): HostTensor {
    return { shape: this.outShape(c.inShapes), data: c.x[0]!.data };
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [{ shape: [...c.inShapes[0]!], data: c.dy.data }], dp: {} };
  }
}

/** Inverted dropout: zero each element with probability p while training, scale the rest by 1/(1−p). */
export class Dropout extends Layer {
  readonly kind = 'Dropout';
  constructor(
    readonly p = 0.5,
    readonly seed = 1234,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new AttributeError(`Dropout: p must be in [0, 1), got ${p}.`);
  }
  /**
   * The mask seed for a training step (same on both backends). The layer's name is mixed in, so
   * two dropouts on same-shaped tensors (two branches) drop different units.
   */
  seedFor(step: number): number {
    return (Math.imul(paramSeed(this.seed, this.name), 0x9e3779b1) + step) >>> 0;
  }
  outShape(inShapes: number[][]): number[] {
    return [...inShapes[0]!];
  }
  gpuForward(c: GpuCtx): StepDispatch[] {
    const total = sizeOf(c.outShape);
    if (!c.training) return [copyDispatch(c.engine, total, c.x[0]!, c.y)];
    return [{ ...dropoutDispatch(c.engine, total, c.x[0]!, c.y, 0, this.p), perStep: (s) => dropoutParams(total, this.seedFor(s), this.p) }];
  }
  gpuBackward(c: GpuBwdCtx): StepDispatch[] {
    const total = sizeOf(c.outShape);
    if (!c.dx[0]) return [];
    return [{ ...dropoutDispatch(c.engine, total, c.dy, c.dx[0], 0, this.p), perStep: (s) => dropoutParams(total, this.seedFor(s), this.p) }];
  }
  private apply(t: HostTensor, c: CpuCtx): HostTensor {
    if (!c.training) return { shape: [...t.shape], data: t.data.slice() };
    const seed = this.seedFor(c.step);
    const k = 1 / (1 - Math.fround(this.p));
    return { shape: [...t.shape], data: t.data.map((v, i) => (dropoutKeep(i, seed, this.p) ? v * k : 0)) };
  }
  cpuForward(c: CpuCtx) {
    return this.apply(c.x[0]!, c);
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [this.apply(c.dy, c)], dp: {} };
  }
}

/** Elementwise sum of two branches (residual joins). */
export class Add extends Layer {
  readonly kind = 'Add';
  override readonly arity = 2;
  outShape(inShapes: number[][]): number[] {
    const [a, b] = inShapes as [number[], number[]];
    if (fmtShape(a) !== fmtShape(b)) this.fail(`inputs ${fmtShape(a)} and ${fmtShape(b)} must have the same shape.`);
    return [...a];
  }
  gpuForward(c: GpuCtx) {
    return [elementwiseDispatch(c.engine, 'add', sizeOf(c.outShape), c.x[0]!, c.x[1]!, c.y)];
  }
  gpuBackward(c: GpuBwdCtx) {
    const total = sizeOf(c.outShape);
    return c.dx.flatMap((d) => (d ? [copyDispatch(c.engine, total, c.dy, d)] : []));
  }
  cpuForward(c: CpuCtx) {
    return ref.add(c.x[0]!, c.x[1]!);
  }
  cpuBackward(c: CpuBwdCtx) {
    return { dx: [c.dy, c.dy], dp: {} };
  }
}

/** Concatenation along channels (inception-style joins). */
export class Concat extends Layer {
  readonly kind = 'Concat';
  override readonly arity = -1;
  outShape(inShapes: number[][]): number[] {
    const first = inShapes[0]!;
    this.rank(first, 4, '[N, C, H, W]');
    for (const s of inShapes) {
      if (s.length !== 4 || s[0] !== first[0] || s[2] !== first[2] || s[3] !== first[3]) {
        this.fail(`inputs ${inShapes.map(fmtShape).join(', ')} must agree in N, H and W.`);
      }
    }
    return [first[0]!, inShapes.reduce((t, s) => t + s[1]!, 0), first[2]!, first[3]!];
  }
  private parts(inShapes: number[][]) {
    let c0 = 0;
    return inShapes.map((s) => {
      const part = { n: s[0]!, c: s[1]!, s: s[2]! * s[3]!, c0 };
      c0 += s[1]!;
      return part;
    });
  }
  gpuForward(c: GpuCtx) {
    const ct = c.outShape[1]!;
    return this.parts(c.inShapes).map((p, i) => concatDispatch(c.engine, 'scatter', p.n, p.c, p.s, ct, p.c0, c.x[i]!, c.y));
  }
  gpuBackward(c: GpuBwdCtx) {
    const ct = c.outShape[1]!;
    return this.parts(c.inShapes).flatMap((p, i) => (c.dx[i] ? [concatDispatch(c.engine, 'gather', p.n, p.c, p.s, ct, p.c0, c.dy, c.dx[i]!)] : []));
  }
  cpuForward(c: CpuCtx): HostTensor {
    const out = ref.hostZeros(c.outShape);
    const ct = c.outShape[1]!;
    this.parts(c.inShapes).forEach((p, i) => {
      const x = c.x[i]!.data;
      for (let n = 0; n < p.n; n++) for (let ch = 0; ch < p.c; ch++) for (let s = 0; s < p.s; s++) {
        out.data[(n * ct + p.c0 + ch) * p.s + s] = x[(n * p.c + ch) * p.s + s]!;
      }
    });
    return out;
  }
  cpuBackward(c: CpuBwdCtx) {
    const ct = c.outShape[1]!;
    const dx = this.parts(c.inShapes).map((p, i) => {
      const d = ref.hostZeros(c.inShapes[i]!);
      for (let n = 0; n < p.n; n++) for (let ch = 0; ch < p.c; ch++) for (let s = 0; s < p.s; s++) {
        d.data[(n * p.c + ch) * p.s + s] = c.dy.data[(n * ct + p.c0 + ch) * p.s + s]!;
      }
      return d;
    });
    return { dx, dp: {} };
  }
}

/**
 * Batch normalisation over N, H, W per channel, with learned scale (weight) and shift (bias).
 * Training uses the batch's statistics and moves the running ones (kept as a non-trainable
 * [2, C] parameter, so checkpoints carry them); inference uses the running statistics.
 */
export class BatchNorm2d extends Layer {
  readonly kind = 'BatchNorm2d';
  override readonly saves = { inputs: true, output: false };

  constructor(
    readonly channels: number,
    readonly opts: { eps?: number; momentum?: number } = {},
  ) {
    super();
    const { eps = 1e-5, momentum = 0.1 } = opts;
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
      throw new AttributeError(`BatchNorm2d: eps must be > 0 and momentum in [0, 1], got eps ${eps}, momentum ${momentum}.`);
    }
  }

  private g(inShapes: number[][]): BnGeom {
    const x = inShapes[0]!;
    this.rank(x, 4, '[N, C, H, W]');
    if (x[1] !== this.channels) this.fail(`was built for ${this.channels} channels, but its input is ${fmtShape(x)}.`);
    return { n: x[0]!, c: x[1]!, s: x[2]! * x[3]!, eps: this.opts.eps ?? 1e-5, momentum: this.opts.momentum ?? 0.1 };
  }

  outShape(inShapes: number[][]): number[] {
    this.g(inShapes);
    return [...inShapes[0]!];
  }

  override params(): ParamSpec[] {
    const c = this.channels;
    return [
      { name: 'weight', shape: [c], init: 'ones', fanIn: 1, fanOut: 1 },
      { name: 'bias', shape: [c], init: 'zeros', fanIn: 1, fanOut: 1 },
      { name: 'running', shape: [2, c], init: 'running', fanIn: 1, fanOut: 1, trainable: false },
    ];
  }

  override flops(inShapes: number[][]): number {
    return 4 * sizeOf(inShapes[0]!);
  }

  /** A channel's scale (and shift) serves every pixel of that channel; each output reads one input. */
  override weightUse(inShapes: number[][]): { fanIn: number; uses: number } {
    const x = inShapes[0]!;
    return { fanIn: 1, uses: x[2]! * x[3]! };
  }

  override scratchForward(): Record<string, number> {
    return { stats: 2 * this.channels };
  }

  override scratchBackward(): Record<string, number> {
    return { stats: 2 * this.channels };
  }

  gpuForward(c: GpuCtx): StepDispatch[] {
    const g = this.g(c.inShapes);
    if (!c.training) return [bnApplyDispatch(c.engine, g, c.x[0]!, c.p.running!, c.p.weight!, c.p.bias!, c.y)];
    return [
      bnStatsDispatch(c.engine, g, c.x[0]!, c.scratch.stats!, c.p.running!),
      bnApplyDispatch(c.engine, g, c.x[0]!, c.scratch.stats!, c.p.weight!, c.p.bias!, c.y),
    ];
  }

  gpuBackward(c: GpuBwdCtx): StepDispatch[] {
    const g = this.g(c.inShapes);
    // The batch statistics are recomputed rather than kept alive from the forward pass.
    return [
      bnStatsDispatch(c.engine, g, c.x[0]!, c.scratch.stats!),
      ...bnBackwardDispatches(c.engine, g, c.x[0]!, c.dy, c.scratch.stats!, c.p.weight!, c.dp.weight!, c.dp.bias!, c.dx[0] ?? null),
    ];
  }

  cpuForward(c: CpuCtx): HostTensor {
    const r = ref.batchNorm2d(c.x[0]!, c.p.weight!, c.p.bias!, c.p.running!, { training: c.training, eps: this.opts.eps, momentum: this.opts.momentum });
    // The running statistics are state, updated in place like the GPU's.
    if (c.training) c.p.running!.data.set(r.running.data);
    return r.y;
  }

  cpuBackward(c: CpuBwdCtx) {
    const r = ref.batchNorm2dBackward(c.x[0]!, c.dy, c.p.weight!, this.opts.eps ?? 1e-5);
    return { dx: [r.dx], dp: { weight: r.dgamma, bias: r.dbeta } };
  }
}
