// verify: one training step of the same model, from the same weights, on WebGPU and on
// the CPU reference; per layer, the largest differences of the activations, the
// gradients, and the updated weights.
import { ConvGpuError } from '../errors.js';
import type { HostTensor } from '../reference/tensor.js';
import { CpuModel, type CpuStepRecord } from './cpu-model.js';
import { Model, type NamedTensor } from './model.js';

export interface VerifyRow {
  /** "conv2d_0 activation", "conv2d_0.weight grad", … */
  what: string;
  maxAbs: number;
  /** maxAbs (for updates, less the f32 rounding of the stored weight) over the reference's largest magnitude. */
  rel: number;
  ok: boolean;
  /**
   * Where rel is over the tolerance: the largest |Δ| of the float64 reference against itself with
   * its input moved by 1e-6 of its scale (see verify). The row passes if maxAbs is at most twice this.
   */
  refSpread?: number;
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

/** x with each value moved by up to `rel` of x's largest magnitude (a seeded, deterministic draw). */
function nudged(x: ArrayLike<number>, rel: number, seed: number): Float64Array {
  const step = rel * scaleOf(x);
  let s = seed * 0x9e3779b9;
  return Float64Array.from(x, (v) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    return v + step * ((s >>> 0) / 2 ** 32 - 0.5) * 2;
  });
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
 * bug shows up as ~1. An activation or gradient over it still passes if within twice what the
 * reference itself moves when its input moves by 1e-6 (VerifyRow.refSpread): in a deep model,
 * rounding flips ReLU and max-pool choices, and the gradient jumps with them.
 */
export async function verify(
  model: Model,
  x: Float32Array,
  labels: Float32Array,
  batch: number,
  tolerance = 1e-3,
): Promise<VerifyReport> {
  const cpu = new CpuModel(model.graph, { optimizer: model.optimizer, schedule: model.schedule });
  const start: Record<string, NamedTensor> = await model.getParams();
  // NOTE: the optimizer state too: after training, SGD's velocity or Adam's moments are
  // part of the update, and a CPU model starting from zeros would disagree on every one.
  const startState = await model.getState();
  cpu.setParams(start, startState);
  const step0 = model.step;
  cpu.step = step0;

  const plan = await model.trainer(batch, { reuse: false });
  const engine = model.engine;
  let r;
  try {
    r = await plan.step(x, labels, true);
    const rec = cpu.trainStep(x, labels, batch);
    // Compared per kind, so that a tensor that should be ~0 (a conv bias's gradient before
    // BatchNorm, which removes it) is measured against its kind's largest value: its f32
    // rounding noise is ~1e-7 of that, not of its own (near zero) scale.
    type Pending = { what: string; kind: string; gpu: Float32Array; cpu: ArrayLike<number>; slack?: Float32Array; ref?: (rec: CpuStepRecord) => ArrayLike<number> };
    const pending: Pending[] = [];
    const read = (key: string, n: number): Promise<Float32Array> => engine.readBuffer(plan.activations.get(key)!, n * 4);
    for (const node of model.graph.nodes.slice(1)) {
      if (node.layer!.isView) continue;
      const act: HostTensor = rec.acts[node.id]!;
      pending.push({ what: `${node.layer!.name} activation`, kind: 'act', gpu: await read(`act:${node.id}`, act.data.length), cpu: act.data, ref: (c) => c.acts[node.id]!.data });
      const g = rec.grads[node.id];
      if (g && plan.activations.has(`grad:${node.id}`)) {
        pending.push({ what: `${node.layer!.name} output grad`, kind: 'grad', gpu: await read(`grad:${node.id}`, g.data.length), cpu: g.data, ref: (c) => c.grads[node.id]!.data });
      }
    }
    const grads = await model.grads.readAll();
    const after = await model.getParams();
    // The optimizer is checked on WebGPU's own gradients (the grad rows check those): Adam
    // divides each gradient by its running size, so where a gradient is zero up to rounding
    // (a conv bias before BatchNorm) either backend steps ±lr, in a direction its rounding picks.
    const opt = new CpuModel(model.graph, { optimizer: model.optimizer, schedule: model.schedule });
    opt.setParams(start, startState);
    opt.step = step0;
    const trainable = model.paramEntries.filter((e) => e.spec.trainable !== false);
    opt.applyGradients(Object.fromEntries(trainable.map((e) => [e.name, { data: Float64Array.from(grads[e.name]!.data), shape: e.spec.shape }])));
    for (const e of model.paramEntries) {
      const isState = e.spec.trainable === false; // BatchNorm's running statistics: set by the forward pass
      if (!isState) pending.push({ what: `${e.name} grad`, kind: 'pgrad', gpu: grads[e.name]!.data, cpu: rec.paramGrads[e.name]!.data, ref: (c) => c.paramGrads[e.name]!.data });
      // The update is small next to the weight: compare it, not the weight. WebGPU's new
      // weight is stored in f32, so its update carries up to an ulp of the weight (2^-22 of
      // it, with margin): forgiven, as with a small learning rate it can pass 1e-3 of the update.
      const w0 = start[e.name]!.data;
      const w1 = after[e.name]!.data;
      const dGpu = w1.map((v, i) => v - w0[i]!);
      const dRef = (isState ? cpu : opt).params[e.name]!.data.map((v, i) => v - w0[i]!);
      const slack = w1.map((v, i) => 2 ** -22 * Math.max(Math.abs(v), Math.abs(w0[i]!)));
      pending.push({ what: `${e.name} update`, kind: isState ? 'state' : 'update', gpu: dGpu, cpu: dRef, slack });
    }
    const kindMax = new Map<string, number>();
    for (const p of pending) kindMax.set(p.kind, Math.max(kindMax.get(p.kind) ?? 0, scaleOf(p.cpu)));
    const rows: VerifyRow[] = [diff('loss', Float32Array.of(r!.loss), [rec.loss], tolerance, 1e-5)];
    for (const p of pending) {
      const m = kindMax.get(p.kind)!;
      // A parameter gradient that is zero in float64 (a conv bias before BatchNorm, which
      // removes it) is, in f32, the rounding noise of a sum that cancels exactly: seen up to
      // 5e-6 of the largest gradient in random graphs. Its floor is 0.1 of that, not 1e-3
      // (with the default tolerance, an error of 1e-4 of the largest gradient fails).
      const exactZero = p.kind === 'pgrad' && scaleOf(p.cpu) <= 1e-9 * m;
      rows.push(diff(p.what, p.gpu, p.cpu, tolerance, Math.max(1e-5, (exactZero ? 0.1 : 1e-3) * m), p.slack));
    }
    // A deep model's gradient jumps where rounding flips a ReLU or a max-pool choice: GoogLeNet at
    // 224×224 differs from itself in 98 gradients by over 1e-3 when its input moves by 1e-6, as
    // much as WebGPU differs from it, while every activation agrees to 2e-6. So a row over the
    // tolerance is held against that spread (the reference run twice more on input moved by 1e-6
    // of its scale), which costs nothing when every row passes.
    const over = pending.map((p, i) => ({ p, row: rows[i + 1]! })).filter(({ p, row }) => !row.ok && p.ref);
    if (over.length) {
      const spread = new Map<string, number>();
      for (const seed of [1, 2]) {
        const moved = new CpuModel(model.graph, { optimizer: model.optimizer, schedule: model.schedule });
        moved.setParams(start, startState);
        moved.step = step0;
        const recMoved = moved.trainStep(nudged(x, 1e-6, seed), labels, batch);
        for (const { p } of over) {
          const a = p.ref!(rec);
          const b = p.ref!(recMoved);
          let d = 0;
          for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
          spread.set(p.what, Math.max(spread.get(p.what) ?? 0, d));
        }
      }
      for (const { p, row } of over) {
        row.refSpread = spread.get(p.what)!;
        row.ok = row.maxAbs <= 2 * row.refSpread;
      }
    }
    return { rows, ok: rows.every((x) => x.ok), tolerance, lossGpu: r!.loss, lossCpu: rec.loss };
  } finally {
    plan.dispose();
    if (!model.isDisposed && !engine.isDestroyed) {
      model.setParams(start, startState);
      model.step = step0;
    }
  }
}

export function formatVerify(rep: VerifyReport): string {
  const w = Math.max(...rep.rows.map((r) => r.what.length), 8);
  const spread = rep.rows.filter((r) => r.refSpread !== undefined);
  const lines = [`${'tensor'.padEnd(w)}  ${'max |Δ|'.padStart(10)}  ${'rel'.padStart(10)}  ok${spread.length ? `  ${'ref spread'.padStart(10)}` : ''}`];
  for (const r of rep.rows) {
    const s = r.refSpread === undefined ? '' : `  ${r.refSpread.toExponential(2).padStart(10)}`;
    lines.push(`${r.what.padEnd(w)}  ${r.maxAbs.toExponential(2).padStart(10)}  ${r.rel.toExponential(2).padStart(10)}  ${r.ok ? 'yes' : 'NO '}${s}`);
  }
  if (spread.length) {
    const within = spread.filter((r) => r.ok).length;
    lines.push(
      `${spread.length} rows over the tolerance were held against the reference's own spread (its max |Δ| when the input moves by 1e-6 of its scale: ` +
        `ReLU and max-pool choices that rounding flips); ${within} are within twice it.`,
    );
  }
  lines.push(`tolerance: rel ≤ ${rep.tolerance} (for updates, of what exceeds the f32 rounding of the stored weight); loss webgpu ${rep.lossGpu.toFixed(6)}, cpu ${rep.lossCpu.toFixed(6)}; ${rep.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
