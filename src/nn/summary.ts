// A graph's layer table: output shapes, parameters and forward FLOPs per image, and for layers
// with weights how they connect (Layer.weightUse). No device needed, so the CLI prints it for
// models too large to build here (AlexNet's 144 MiB dense layer on lavapipe).
import { sizeOf } from '../shape.js';
import type { Graph } from './graph.js';
import { Conv2d, Linear } from './layers.js';

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (part: number, whole: number): string => `${whole ? ((100 * part) / whole).toFixed(1) : '0.0'}%`;

/**
 * The table, then the totals and where they sit: in convolutions (local connectivity, shared
 * weights) or in dense layers (every input to every output). AlexNet keeps 96% of its weights
 * in dense layers and does 92% of its arithmetic in convolutions.
 */
export function layerTable(g: Graph): string {
  const shapes = g.shapes(1);
  const rows: string[][] = [['layer', 'output', 'params', 'FLOPs/image', 'inputs/output', 'uses/weight']];
  const total = { params: 0, flops: 0 };
  const by = { conv: { params: 0, flops: 0 }, dense: { params: 0, flops: 0 } };
  rows.push(['input', `[${shapes[0]!.slice(1).join(', ')}]`, '0', '0', '', '']);
  for (const n of g.nodes.slice(1)) {
    const layer = n.layer!;
    const ins = n.inputs.map((i) => shapes[i]!);
    const params = layer.params(ins).reduce((t, p) => t + sizeOf(p.shape), 0);
    const flops = layer.flops(ins, shapes[n.id]!);
    total.params += params;
    total.flops += flops;
    const kind = layer instanceof Conv2d ? by.conv : layer instanceof Linear ? by.dense : null;
    if (kind) {
      kind.params += params;
      kind.flops += flops;
    }
    const use = layer.weightUse(ins);
    const from = n.inputs.length > 1 || n.inputs[0] !== n.id - 1 ? ` ← ${n.inputs.map((i) => g.nodes[i]!.layer?.name ?? 'input').join(', ')}` : '';
    rows.push([`${layer.label}${from}`, `[${shapes[n.id]!.slice(1).join(', ')}]`, n0(params), n0(flops), use ? n0(use.fanIn) : '', use ? n0(use.uses) : '']);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [
    ...rows.map(fmt),
    `parameters: ${n0(total.params)}; forward FLOPs per image: ${n0(total.flops)}`,
    `convolutions: ${n0(by.conv.params)} parameters (${pct(by.conv.params, total.params)}), ${pct(by.conv.flops, total.flops)} of the FLOPs; ` +
      `dense layers: ${n0(by.dense.params)} (${pct(by.dense.params, total.params)}), ${pct(by.dense.flops, total.flops)} of the FLOPs`,
  ].join('\n');
}
