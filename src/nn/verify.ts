// verify: one training step of the same model, from the same weights, on WebGPU and on
// the CPU reference; per layer, the largest differences of the activations, the
// gradients, and the updated weights.
import { ConvGpuError } from '../errors.js';
import type { HostTensor } from '../reference/tensor.js';
import { CpuModel } from './cpu-model.js';
import { Model, type NamedTensor } from './model.js';

export interface VerifyRow {
  /** "conv2d_0 activation", "conv2d_0.weight grad", … */
  what: string;
  maxAbs: number;
  /** maxAbs divided by the reference's largest magnitude. */
  rel: number;
  ok: boolean;
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

function diff(what: string, gpu: Float32Array, cpu: ArrayLike<number>, tol: number): VerifyRow {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < gpu.length; i++) {
    const d = Math.abs(gpu[i]! - cpu[i]!);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(cpu[i]!));
  }
  // NOTE: a tensor that should be ~0 (a conv bias's gradient before BatchNorm) has no scale of
  // its own; below 1e-5 the f32 rounding of O(1) sums dominates, so that is the floor.
  const rel = maxAbs / Math.max(scale, 1e-5);
  return { what, maxAbs, rel, ok: rel <= tol };
}

/**
 * Runs one step on both backends. The tolerance is on maxAbs / max|ref| per tensor:
 * f32 sums of a few thousand terms differ from float64 by ~1e-6 of the scale; 1e-3
 * leaves room for long reductions while any indexing bug shows up as ~1.
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
  cpu.setParams(start, await model.getState());
  cpu.step = model.step;

  const plan = await model.trainer(batch, { reuse: false });
  const engine = model.engine;
  let r;
  try {
    r = await plan.step(x, labels, true);
    const rec = cpu.trainStep(x, labels, batch);
    const rows: VerifyRow[] = [];
    const read = (key: string, n: number): Promise<Float32Array> => engine.readBuffer(plan.activations.get(key)!, n * 4);
    for (const node of model.graph.nodes.slice(1)) {
      if (node.layer!.isView) continue;
      const act: HostTensor = rec.acts[node.id]!;
      rows.push(diff(`${node.layer!.name} activation`, await read(`act:${node.id}`, act.data.length), act.data, tolerance));
      const g = rec.grads[node.id];
      if (g && plan.activations.has(`grad:${node.id}`)) {
        rows.push(diff(`${node.layer!.name} output grad`, await read(`grad:${node.id}`, g.data.length), g.data, tolerance));
      }
    }
    const grads = await model.grads.readAll();
    const after = await model.getParams();
    for (const e of model.paramEntries) {
      if (e.spec.trainable !== false) rows.push(diff(`${e.name} grad`, grads[e.name]!.data, rec.paramGrads[e.name]!.data, tolerance));
      // The update is small next to the weight: compare it, not the weight.
      const dGpu = after[e.name]!.data.map((v, i) => v - start[e.name]!.data[i]!);
      const dCpu = cpu.params[e.name]!.data.map((v, i) => v - start[e.name]!.data[i]!);
      rows.push(diff(`${e.name} update`, dGpu, dCpu, tolerance));
    }
    const lossRow = diff('loss', Float32Array.of(r!.loss), [rec.loss], tolerance);
    rows.unshift(lossRow);
    return { rows, ok: rows.every((x) => x.ok), tolerance, lossGpu: r!.loss, lossCpu: rec.loss };
  } finally {
    plan.dispose();
  }
}

export function formatVerify(rep: VerifyReport): string {
  const w = Math.max(...rep.rows.map((r) => r.what.length), 8);
  const lines = [`${'tensor'.padEnd(w)}  ${'max |Δ|'.padStart(10)}  ${'rel'.padStart(10)}  ok`];
  for (const r of rep.rows) lines.push(`${r.what.padEnd(w)}  ${r.maxAbs.toExponential(2).padStart(10)}  ${r.rel.toExponential(2).padStart(10)}  ${r.ok ? 'yes' : 'NO'}`);
  lines.push(`tolerance: rel ≤ ${rep.tolerance}; loss webgpu ${rep.lossGpu.toFixed(6)}, cpu ${rep.lossCpu.toFixed(6)}; ${rep.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
