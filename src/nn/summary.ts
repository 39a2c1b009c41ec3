// A graph's layer table: output shapes, parameters and forward FLOPs per image, and for layers
// with weights how they connect (Layer.weightUse). No device needed, so the CLI prints it for
// models too large to build here (AlexNet's 144 MiB dense layer on lavapipe).
import { sizeOf } from '../shape.js';
import type { Graph } from './graph.js';
import { Conv2d, Linear } from './layers.js';

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (part: number, whole: number): string => `${whole ? ((100 * part) / whole).toFixed(1) : '0.0'}%`;

/** Parameters and forward FLOPs per image: in all, in convolutions, in dense layers. */
export interface WeightSplit {
  params: number;
  flops: number;
  conv: { params: number; flops: number };
  dense: { params: number; flops: number };
}

interface Row {
  label: string;
  output: number[];
  params: number;
  flops: number;
  use: { fanIn: number; uses: number } | null;
}

function rows(g: Graph): { rows: Row[]; split: WeightSplit } {
  const shapes = g.shapes(1);
  const split: WeightSplit = { params: 0, flops: 0, conv: { params: 0, flops: 0 }, dense: { params: 0, flops: 0 } };
  const out = g.nodes.slice(1).map((n): Row => {
    const layer = n.layer!;
    const ins = n.inputs.map((i) => shapes[i]!);
    const params = layer.params(ins).reduce((t, p) => t + sizeOf(p.shape), 0);
    const flops = layer.flops(ins, shapes[n.id]!);
    split.params += params;
    split.flops += flops;
    const kind = layer instanceof Conv2d ? split.conv : layer instanceof Linear ? split.dense : null;
    if (kind) {
      kind.params += params;
      kind.flops += flops;
    }
    const from = n.inputs.length > 1 || n.inputs[0] !== n.id - 1 ? ` ← ${n.inputs.map((i) => g.nodes[i]!.layer?.name ?? 'input').join(', ')}` : '';
    return { label: `${layer.label}${from}`, output: shapes[n.id]!.slice(1), params, flops, use: layer.weightUse(ins) };
  });
  return { rows: out, split };
}

/**
 * Where a model's weights and arithmetic sit: in convolutions (local connectivity, shared
 * weights) or in dense layers (every input to every output). AlexNet keeps 96% of its weights
 * in dense layers and does 92% of its arithmetic in convolutions.
 */
export const weightSplit = (g: Graph): WeightSplit => rows(g).split;

/** The layer table, then the totals and their split between convolutions and dense layers. */
export function layerTable(g: Graph): string {
  const { rows: rs, split } = rows(g);
  const cells: string[][] = [
    ['layer', 'output', 'params', 'FLOPs/image', 'inputs/output', 'uses/weight'],
    ['input', `[${g.inputShape.join(', ')}]`, '0', '0', '', ''],
    ...rs.map((r) => [r.label, `[${r.output.join(', ')}]`, n0(r.params), n0(r.flops), r.use ? n0(r.use.fanIn) : '', r.use ? n0(r.use.uses) : '']),
  ];
  const w = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [
    ...cells.map(fmt),
    `parameters: ${n0(split.params)}; forward FLOPs per image: ${n0(split.flops)}`,
    `convolutions: ${n0(split.conv.params)} parameters (${pct(split.conv.params, split.params)}), ${pct(split.conv.flops, split.flops)} of the FLOPs; ` +
      `dense layers: ${n0(split.dense.params)} (${pct(split.dense.params, split.params)}), ${pct(split.dense.flops, split.flops)} of the FLOPs`,
  ].join('\n');
}
