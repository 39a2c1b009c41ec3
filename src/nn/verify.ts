// verify: one training step of the same model, from the same weights, on WebGPU and on
// the CPU reference; per layer, the largest differences of the activations, the
// gradients, and the updated weights.
import { ConvGpuError } from '../errors.js';
import * as ref from '../reference/index.js';
import type { HostTensor } from '../reference/tensor.js';
import { CpuModel } from './cpu-model.js';
import { Model, type NamedTensor } from './model.js';

export interface VerifyRow {
  /** "conv2d_0 activation", "conv2d_0.weight grad", … */
  what: string;
  maxAbs: number;
  /** maxAbs (for updates, less the f32 rounding of the stored weight) over the reference's largest magnitude. */
  rel: number;
  ok: boolean;
  /**
   * Where rel is over the tolerance: rel again, against the reference of this one layer run on
   * WebGPU's own inputs (its input activations, output and output gradient). The row passes if
   * this is within the tolerance (see verify).
   */
  localRel?: number;
}

export interface VerifyReport {
  rows: VerifyRow[];
  ok: boolean;
  tolerance: number;
  lossGpu: number;
  lossCpu: number;
}

/** Thrown by verify when a difference is over the tolerance. */
export class VerifyError extends ConvGpuError {
  override name = 'VerifyError';
}

/** `slack`: per element, a difference the comparison forgives (the f32 rounding of a stored weight). */
function diff(what: string, gpu: Float32Array, cpu: ArrayLike<number>, tol: number, floor: number, slack?: ArrayLike<number>): VerifyRow {
  let maxAbs = 0;
  let excess = 0;
  for (let i = 0; i < gpu.length; i++) {
    const d = Math.abs(gpu[i]! - cpu[i]!);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    excess = Number.isNaN(d) ? Infinity : Math.max(excess, d - (slack?.[i] ?? 0));
  }
  const rel = excess / Math.max(scaleOf(cpu), floor);
  return { what, maxAbs, rel, ok: rel <= tol };
}

function scaleOf(t: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < t.length; i++) m = Math.max(m, Math.abs(t[i]!));
  return m;
}

/**
 * Runs one step on both backends, then puts the model's weights, optimizer state and step
 * count back: checking a model does not train it (so do not train it meanwhile: those steps
 * would be undone too). The tolerance is on maxAbs / max(max|ref|, 1e-3 · the
 * largest value of that kind in the model): f32 sums of a few thousand terms differ from
 * float64 by ~1e-6 of the scale; 1e-3 leaves room for long reductions while any indexing
 * bug shows up as ~1.
 *
 * In a deep model, rounding flips ReLU and max-pool choices, and the gradient jumps with them:
 * GoogLeNet at 224×224 differs from its own reference in 98 gradients by over 1e-3 when the
 * input moves by 1e-6. So a row over the tolerance is checked again layer by layer: against the
 * reference of that layer alone, run on WebGPU's own inputs (VerifyRow.localRel). A wrong kernel
 * or a miswired buffer fails there too; a choice that rounding flipped upstream does not.
 */
export async function verify(
  model: Model,
  x: Float32Array,
  labels: Float32Array,
  batch: number,
  tolerance = 1e-3,
): Promise<VerifyReport> {
  const start: Record<string, NamedTensor> = await model.getParams();
  // NOTE: the optimizer state too: after training, SGD's velocity or Adam's moments are
  // part of the update, and a CPU model starting from zeros would disagree on every one.
  const startState = await model.getState();
  const settings = { optimizer: model.optimizer, schedule: model.schedule };
  const cpu = new CpuModel(model.graph, settings, { params: start, state: startState });
  const step0 = model.step;
  cpu.step = step0;

  const plan = await model.trainer(batch, { reuse: false });
  const engine = model.engine;
  const shapes = model.graph.shapes(batch);
  let r;
  try {
    r = await plan.step(x, labels, true);
    const rec = cpu.trainStep(x, labels, batch);
    // What WebGPU computed, by node (a view's data is its root's): the inputs of the local checks.
    const gpuAct = new Map<number, Float32Array>([[0, x]]);
    const gpuGrad = new Map<number, Float32Array>();
    const local = new LocalReference(model, shapes, start, step0, gpuAct, gpuGrad, labels);
    // Compared per kind, so that a tensor that should be ~0 (a conv bias's gradient before
    // BatchNorm, which removes it) is measured against its kind's largest value: its f32
    // rounding noise is ~1e-7 of that, not of its own (near zero) scale.
    type Pending = { what: string; kind: string; gpu: Float32Array; cpu: ArrayLike<number>; slack?: Float32Array; local?: () => ArrayLike<number> };
    const pending: Pending[] = [];
    const read = (key: string, n: number): Promise<Float32Array> => engine.readBuffer(plan.activations.get(key)!, n * 4);
    for (const node of model.graph.nodes.slice(1)) {
      if (node.layer!.isView) continue;
      const act = rec.acts[node.id]!;
      gpuAct.set(node.id, await read(`act:${node.id}`, act.data.length));
      pending.push({ what: `${node.layer!.name} activation`, kind: 'act', gpu: gpuAct.get(node.id)!, cpu: act.data, local: () => local.forward(node.id).y.data });
      const g = rec.grads[node.id];
      if (g && plan.activations.has(`grad:${node.id}`)) {
        gpuGrad.set(node.id, await read(`grad:${node.id}`, g.data.length));
        pending.push({ what: `${node.layer!.name} output grad`, kind: 'grad', gpu: gpuGrad.get(node.id)!, cpu: g.data, local: () => local.outputGrad(node.id) });
      }
    }
    const grads = await model.grads.readAll();
    const after = await model.getParams();
    // The optimizer is checked on WebGPU's own gradients (the grad rows check those): Adam
    // divides each gradient by its running size, so where a gradient is zero up to rounding
    // (a conv bias before BatchNorm) either backend steps ±lr, in a direction its rounding picks.
    const opt = new CpuModel(model.graph, settings, { params: start, state: startState });
    opt.step = step0;
    const trainable = model.paramEntries.filter((e) => e.spec.trainable !== false);
    opt.applyGradients(Object.fromEntries(trainable.map((e) => [e.name, { data: Float64Array.from(grads[e.name]!.data), shape: e.spec.shape }])));
    for (const e of model.paramEntries) {
      const isState = e.spec.trainable === false; // BatchNorm's running statistics: set by the forward pass
      const w0 = start[e.name]!.data;
      if (!isState) pending.push({ what: `${e.name} grad`, kind: 'pgrad', gpu: grads[e.name]!.data, cpu: rec.paramGrads[e.name]!.data, local: () => local.backward(e.node).dp[e.spec.name]!.data });
      // The update is small next to the weight: compare it, not the weight. WebGPU's new
      // weight is stored in f32, so its update carries up to an ulp of the weight (2^-22 of
      // it, with margin): forgiven, as with a small learning rate it can pass 1e-3 of the update.
      const w1 = after[e.name]!.data;
      const dGpu = w1.map((v, i) => v - w0[i]!);
      const dRef = (isState ? cpu : opt).params[e.name]!.data.map((v, i) => v - w0[i]!);
      const slack = w1.map((v, i) => 2 ** -22 * Math.max(Math.abs(v), Math.abs(w0[i]!)));
      const localState = isState ? () => local.forward(e.node).p[e.spec.name]!.data.map((v, i) => v - w0[i]!) : undefined;
      pending.push({ what: `${e.name} update`, kind: isState ? 'state' : 'update', gpu: dGpu, cpu: dRef, slack, local: localState });
    }
    const kindMax = new Map<string, number>();
    for (const p of pending) kindMax.set(p.kind, Math.max(kindMax.get(p.kind) ?? 0, scaleOf(p.cpu)));
    const loss: Pending = { what: 'loss', kind: 'loss', gpu: Float32Array.of(r!.loss), cpu: [rec.loss], local: () => [local.loss()] };
    const floors = [1e-5];
    for (const p of pending) {
      const m = kindMax.get(p.kind)!;
      // A parameter gradient that is zero in float64 (a conv bias before BatchNorm, which
      // removes it) is, in f32, the rounding noise of a sum that cancels exactly: seen up to
      // 5e-6 of the largest gradient in random graphs. Its floor is 0.1 of that, not 1e-3
      // (with the default tolerance, an error of 1e-4 of the largest gradient fails).
      const exactZero = p.kind === 'pgrad' && scaleOf(p.cpu) <= 1e-9 * m;
      floors.push(Math.max(1e-5, (exactZero ? 0.1 : 1e-3) * m));
    }
    const rows = [loss, ...pending].map((p, i) => {
      const row = diff(p.what, p.gpu, p.cpu, tolerance, floors[i]!, p.slack);
      if (!row.ok && p.local) {
        row.localRel = diff(p.what, p.gpu, p.local(), tolerance, floors[i]!, p.slack).rel;
        row.ok = row.localRel <= tolerance;
      }
      return row;
    });
    return { rows, ok: rows.every((x) => x.ok), tolerance, lossGpu: r!.loss, lossCpu: rec.loss };
  } finally {
    plan.dispose();
    if (!model.isDisposed && !engine.isDestroyed) {
      model.setParams(start, startState);
      model.step = step0;
    }
  }
}

/**
 * The reference of each layer alone, run on what WebGPU computed: its input activations, and
 * for the backward pass its output and output gradient. Each layer is run at most once a pass.
 */
class LocalReference {
  private fwd = new Map<number, { y: HostTensor; p: Record<string, HostTensor> }>();
  private bwd = new Map<number, { dx: HostTensor[]; dp: Record<string, HostTensor> }>();

  constructor(
    private readonly model: Model,
    private readonly shapes: number[][],
    private readonly start: Record<string, NamedTensor>,
    private readonly step: number,
    private readonly gpuAct: Map<number, Float32Array>,
    private readonly gpuGrad: Map<number, Float32Array>,
    private readonly labels: Float32Array,
  ) {}

  /** Node i's output on WebGPU, in node i's own shape (a view has its root's data). */
  private act(i: number): HostTensor {
    return ref.host(this.gpuAct.get(this.model.graph.viewRoot(i))!, this.shapes[i]!);
  }

  /** Fresh copies of the starting parameters of a node (BatchNorm updates its state in place). */
  private params(id: number): Record<string, HostTensor> {
    const p: Record<string, HostTensor> = {};
    for (const e of this.model.paramEntries.filter((e) => e.node === id)) p[e.spec.name] = ref.host(this.start[e.name]!.data, e.spec.shape);
    return p;
  }

  private ctx(id: number) {
    const n = this.model.graph.nodes[id]!;
    return { inShapes: n.inputs.map((i) => this.shapes[i]!), outShape: this.shapes[id]!, x: n.inputs.map((i) => this.act(i)), p: this.params(id), training: true, step: this.step };
  }

  forward(id: number): { y: HostTensor; p: Record<string, HostTensor> } {
    if (!this.fwd.has(id)) {
      const c = this.ctx(id);
      this.fwd.set(id, { y: this.model.graph.nodes[id]!.layer!.cpuForward(c), p: c.p });
    }
    return this.fwd.get(id)!;
  }

  backward(id: number): { dx: HostTensor[]; dp: Record<string, HostTensor> } {
    if (!this.bwd.has(id)) {
      const dy = this.gpuGrad.get(id);
      const layer = this.model.graph.nodes[id]!.layer!;
      if (!dy) throw new VerifyError(`verify: ${layer.label} has no output gradient on WebGPU to check its backward pass against; the training plan did not keep it.`);
      const c = { ...this.ctx(id), y: this.act(id), dy: ref.host(dy, this.shapes[id]!) };
      this.bwd.set(id, layer.cpuBackward(c));
    }
    return this.bwd.get(id)!;
  }

  /** The gradient of node r's output: the loss's, or the sum of what its readers pass back. */
  outputGrad(r: number): ArrayLike<number> {
    const g = this.model.graph;
    if (r === this.model.graph.viewRoot(g.output.id)) return ref.softmaxCrossEntropyBackward(this.act(g.output.id), ref.host(this.labels, [this.labels.length])).data;
    const sum = new Float64Array(this.gpuGrad.get(r)!.length);
    for (const n of g.nodes.slice(1)) {
      if (n.layer!.isView) continue;
      n.inputs.forEach((i, k) => {
        if (this.model.graph.viewRoot(i) === r) this.backward(n.id).dx[k]!.data.forEach((v, j) => (sum[j]! += v));
      });
    }
    return sum;
  }

  loss(): number {
    const out = this.model.graph.output.id;
    return ref.softmaxCrossEntropy(this.act(out), ref.host(this.labels, [this.labels.length])).loss.data[0]!;
  }
}

export function formatVerify(rep: VerifyReport): string {
  const w = Math.max(...rep.rows.map((r) => r.what.length), 8);
  const rechecked = rep.rows.filter((r) => r.localRel !== undefined);
  const lines = [`${'tensor'.padEnd(w)}  ${'max |Δ|'.padStart(10)}  ${'rel'.padStart(10)}  ok${rechecked.length ? `  ${'local rel'.padStart(10)}` : ''}`];
  for (const r of rep.rows) {
    const s = r.localRel === undefined ? '' : `  ${r.localRel.toExponential(2).padStart(10)}`;
    lines.push(`${r.what.padEnd(w)}  ${r.maxAbs.toExponential(2).padStart(10)}  ${r.rel.toExponential(2).padStart(10)}  ${r.ok ? 'yes' : 'NO '}${s}`);
  }
  if (rechecked.length) {
    const within = rechecked.filter((r) => r.ok).length;
    lines.push(
      `${rechecked.length} rows over the tolerance were checked again against their layer's reference run on WebGPU's own inputs ` +
        `(rounding flips ReLU and max-pool choices, and the gradient jumps with them); ${within} agree there.`,
    );
  }
  lines.push(`tolerance: rel ≤ ${rep.tolerance} (for updates, of what exceeds the f32 rounding of the stored weight); loss webgpu ${rep.lossGpu.toFixed(6)}, cpu ${rep.lossCpu.toFixed(6)}; ${rep.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
