// The same model on the CPU reference backend: float64 loops from src/reference, the same
// initial weights (same seeds), and the same optimizer, so a GPU run can be checked layer
// by layer against it (see verify.ts), or used where there is no WebGPU at all.
import * as ref from '../reference/index.js';
import type { HostTensor } from '../reference/tensor.js';
import { ShapeError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Graph, ParamEntry } from './graph.js';
import { initParam, paramSeed } from './init.js';
import { lrAt, optimizerSlots, trainingSettings, type OptimizerSpec, type Schedule } from './optim.js';
import { checkParamSet } from './param-set.js';
import type { ModelOptions, NamedTensor } from './model.js';

export interface CpuStepRecord {
  loss: number;
  /** Output of every node (index = node id). */
  acts: HostTensor[];
  /** dLoss/d(output) of every node that has one. */
  grads: Array<HostTensor | undefined>;
  /** Parameter gradients by name. */
  paramGrads: Record<string, HostTensor>;
}

export class CpuModel {
  readonly paramEntries: ParamEntry[];
  params: Record<string, HostTensor> = {};
  state: Record<string, Record<string, HostTensor>> = {};
  readonly optimizer: OptimizerSpec;
  readonly schedule: Schedule | undefined;
  step = 0;

  /**
   * `start`: parameters (and optimizer state) to begin from instead of initialising them from
   * the seed, checked as setParams checks them (verify starts from a GPU model's weights, and
   * drawing AlexNet's 61M first took it 7 s).
   */
  constructor(
    readonly graph: Graph,
    opts: ModelOptions = {},
    start?: { params: Record<string, NamedTensor>; state?: Record<string, Record<string, NamedTensor>> },
  ) {
    const { optimizer, schedule, seed } = trainingSettings('CpuModel', opts);
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.paramEntries = graph.params();
    graph.freeze();
    for (const s of optimizerSlots(this.optimizer)) {
      this.state[s] = Object.fromEntries(this.paramEntries.map((e) => [e.name, ref.hostZeros(e.spec.shape)]));
    }
    if (start) {
      this.setParams(start.params, start.state);
      return;
    }
    for (const e of this.paramEntries) {
      // Rounded to f32 like the GPU's copy, so both start from the same numbers.
      this.params[e.name] = ref.host(initParam(e.spec, paramSeed(seed, e.name)), e.spec.shape);
    }
  }

  get paramCount(): number {
    return this.paramEntries.reduce((s, e) => s + sizeOf(e.spec.shape), 0);
  }

  private layerParams(node: number): Record<string, HostTensor> {
    const p: Record<string, HostTensor> = {};
    for (const e of this.paramEntries.filter((e) => e.node === node)) p[e.spec.name] = this.params[e.name]!;
    return p;
  }

  private input(x: ArrayLike<number>, batch: number): HostTensor {
    const shape = [batch, ...this.graph.inputShape];
    if (x.length !== sizeOf(shape)) throw new ShapeError(`cpu model: input has ${x.length} values, a batch needs ${fmtShape(shape)}.`);
    return ref.host(x, shape);
  }

  forward(x: ArrayLike<number>, batch: number, training: boolean): HostTensor[] {
    const shapes = this.graph.shapes(batch);
    const acts: HostTensor[] = [this.input(x, batch)];
    for (const n of this.graph.nodes.slice(1)) {
      acts[n.id] = n.layer!.cpuForward({
        inShapes: n.inputs.map((i) => shapes[i]!),
        outShape: shapes[n.id]!,
        x: n.inputs.map((i) => acts[i]!),
        p: this.layerParams(n.id),
        training,
        step: this.step,
      });
    }
    return acts;
  }

  predict(x: ArrayLike<number>, batch: number): Float64Array {
    this.graph.checkBatch('predict', batch, x);
    return this.forward(x, batch, false)[this.graph.output.id]!.data;
  }

  /** One step of forward, loss, backward and optimizer; returns everything it computed. */
  trainStep(x: ArrayLike<number>, labels: ArrayLike<number>, batch: number): CpuStepRecord {
    // Before the forward pass, which moves BatchNorm's running statistics, as the GPU plan does.
    this.graph.checkConnected();
    this.graph.checkBatch('train step', batch, x, labels);
    const shapes = this.graph.shapes(batch);
    const acts = this.forward(x, batch, true);
    const out = this.graph.output.id;
    const y = ref.host(labels, [batch]);
    const loss = ref.softmaxCrossEntropy(acts[out]!, y).loss.data[0]!;
    const grads: Array<HostTensor | undefined> = [];
    grads[out] = ref.softmaxCrossEntropyBackward(acts[out]!, y);
    const paramGrads: Record<string, HostTensor> = {};
    for (const n of [...this.graph.nodes.slice(1)].reverse()) {
      const dy = grads[n.id]!;
      const r = n.layer!.cpuBackward({
        inShapes: n.inputs.map((i) => shapes[i]!),
        outShape: shapes[n.id]!,
        x: n.inputs.map((i) => acts[i]!),
        p: this.layerParams(n.id),
        training: true,
        step: this.step,
        y: acts[n.id]!,
        dy,
      });
      n.inputs.forEach((i, k) => {
        const d = r.dx[k]!;
        grads[i] = grads[i] ? ref.add(grads[i]!, d) : d;
      });
      for (const [name, g] of Object.entries(r.dp)) paramGrads[`${n.layer!.name}.${name}`] = g;
    }
    this.applyGradients(paramGrads);
    return { loss, acts, grads, paramGrads };
  }

  /** The optimizer step (and step count) for these gradients of every trainable parameter. */
  applyGradients(paramGrads: Record<string, HostTensor>): void {
    const o = this.optimizer;
    const lr = lrAt(o.lr, this.schedule, this.step);
    for (const e of this.paramEntries) {
      if (e.spec.trainable === false) continue;
      const g = paramGrads[e.name]!;
      if (o.type === 'sgd') {
        const r = ref.sgdStep(this.params[e.name]!, g, this.state.velocity![e.name]!, { ...o, lr });
        this.params[e.name] = r.param;
        this.state.velocity![e.name] = r.velocity;
      } else {
        const r = ref.adamStep(this.params[e.name]!, g, this.state.m![e.name]!, this.state.v![e.name]!, { ...o, lr, step: this.step + 1 });
        this.params[e.name] = r.param;
        this.state.m![e.name] = r.m;
        this.state.v![e.name] = r.v;
      }
    }
    this.step++;
  }

  /** The first parameter whose value is not finite (gradients are not kept on the CPU). */
  async findNonFinite(): Promise<{ name: string; layer: string; what: 'gradient' | 'value' } | null> {
    for (const e of this.paramEntries) {
      if (!this.params[e.name]!.data.every(Number.isFinite)) return { name: e.name, layer: this.graph.nodes[e.node]!.layer!.label, what: 'value' };
    }
    return null;
  }

  getParams(): Record<string, NamedTensor> {
    return Object.fromEntries(Object.entries(this.params).map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
  }

  /** Optimizer state by slot ("velocity", "m", "v"), then by parameter name, rounded to f32. */
  getState(): Record<string, Record<string, NamedTensor>> {
    const out: Record<string, Record<string, NamedTensor>> = {};
    for (const [slot, ts] of Object.entries(this.state)) {
      out[slot] = Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
    }
    return out;
  }

  /** Replaces every parameter (and optionally the optimizer state); checks the whole set first (param-set.ts), so a bad one changes nothing. */
  setParams(params: Record<string, NamedTensor>, state?: Record<string, Record<string, NamedTensor>>): void {
    checkParamSet(this.paramEntries, 'the parameters', params);
    if (state) for (const slot of Object.keys(this.state)) checkParamSet(this.paramEntries, `optimizer state "${slot}"`, state[slot]);
    for (const e of this.paramEntries) this.params[e.name] = ref.host(params[e.name]!.data, e.spec.shape);
    if (state) {
      for (const slot of Object.keys(this.state)) {
        for (const e of this.paramEntries) this.state[slot]![e.name] = ref.host(state[slot]![e.name]!.data, e.spec.shape);
      }
    }
  }
}
