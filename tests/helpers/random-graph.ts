// Seeded random CNN graphs for the executor tests: convolutions (stride, padding, groups,
// with and without bias), activations, max and average pooling, BatchNorm, Dropout, residual
// Adds and Concats (sometimes of the block's own input), then a global pool or Flatten and
// one or two Linear layers. Branches and joins are what the memory planner has to get right.
import { Graph, type NodeRef } from '../../src/nn/graph.js';
import {
  Add, AvgPool2d, BatchNorm2d, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool, LeakyReLU, Linear, MaxPool2d, ReLU, Sigmoid, Tanh,
} from '../../src/nn/layers.js';
import { rng } from './rng.js';

export interface RandomGraph {
  graph: Graph;
  /** What was drawn, to rebuild a failing case by hand. */
  label: string;
  batch: number;
}

export function randomGraph(seed: number): RandomGraph {
  const u = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(u() * xs.length)]!;
  const c0 = pick([1, 3]);
  const hw = pick([8, 9, 12, 16]);
  const g = new Graph([c0, hw, hw]);
  const parts: string[] = [`[${c0},${hw},${hw}]`];
  const shapeOf = (r: NodeRef): number[] => g.shapes(1)[r.id]!.slice(1);
  let cur = g.input;
  const blocks = 3 + Math.floor(u() * 6);
  for (let i = 0; i < blocks; i++) {
    const [c, h, w] = shapeOf(cur) as [number, number, number];
    const kind = pick(['conv', 'conv', 'conv', 'act', 'pool', 'bn', 'residual', 'concat', 'dropout'] as const);
    if (kind === 'conv') {
      const groups = c % 2 === 0 && u() < 0.3 ? 2 : 1;
      const o = pick([2, 4, 6, 8]) * groups;
      const k = Math.min(pick([1, 3, 3, 5]), h, w);
      const stride = pick([1, 1, 2]);
      const padding = stride === 1 ? pick([0, 1, 'same'] as const) : pick([0, 1] as const);
      const bias = u() < 0.8;
      cur = g.add(new Conv2d(c, o, k, { stride, padding, groups, bias }), cur);
      parts.push(`conv ${c}→${o} k${k} s${stride} p${padding} g${groups}${bias ? '' : ' nobias'}`);
    } else if (kind === 'act') {
      const layer = pick([() => new ReLU(), () => new ReLU(), () => new LeakyReLU(0.1), () => new Sigmoid(), () => new Tanh()])();
      cur = g.add(layer, cur);
      parts.push(layer.kind);
    } else if (kind === 'pool') {
      const k = pick([2, 2, 3]);
      if (k > h || k > w) continue;
      const stride = pick([1, 2, k]);
      const layer = u() < 0.6 ? new MaxPool2d(k, { stride }) : new AvgPool2d(k, { stride, padding: pick([0, 1]) });
      cur = g.add(layer, cur);
      parts.push(`${layer.kind} ${k}/${stride}`);
    } else if (kind === 'bn') {
      cur = g.add(new BatchNorm2d(c), cur);
      parts.push('BatchNorm2d');
    } else if (kind === 'dropout') {
      cur = g.add(new Dropout(0.3, seed), cur);
      parts.push('Dropout');
    } else if (kind === 'residual') {
      const b = g.add(new Conv2d(c, c, 3, { padding: 1 }), cur);
      const relu = u() < 0.5;
      cur = g.add(new Add(), relu ? g.add(new ReLU(), b) : b, cur);
      parts.push(`residual${relu ? ' (ReLU)' : ''}`);
    } else {
      const a = g.add(new Conv2d(c, 2, 1), cur);
      const b = g.add(new Conv2d(c, 3, 3, { padding: 1 }), cur);
      const withInput = u() < 0.5;
      cur = withInput ? g.add(new Concat(), a, b, cur) : g.add(new Concat(), a, b);
      parts.push(`concat${withInput ? ' (with input)' : ''}`);
    }
  }
  if (u() < 0.4) {
    cur = g.add(new GlobalAvgPool(), cur);
    parts.push('GlobalAvgPool');
  } else {
    cur = g.add(new Flatten(), cur);
  }
  const features = shapeOf(cur).reduce((a, b) => a * b, 1);
  if (u() < 0.5) {
    g.add(new Linear(features, 16));
    g.add(new ReLU());
    g.add(new Linear(16, 10));
    parts.push('Linear 16, ReLU, Linear 10');
  } else {
    g.add(new Linear(features, 10));
    parts.push('Linear 10');
  }
  const batch = pick([1, 2, 5, 8]);
  return { graph: g, label: `seed ${seed}, batch ${batch}: ${parts.join(', ')}`, batch };
}
