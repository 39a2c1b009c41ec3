// What is measured, by mode. The full run uses the sizes of the issue; --quick shrinks the
// batch of the convolutions and drops the large items so that a SwiftShader run stays short.
import type { ConvPass, ItemSpec } from './types.js';

const convName = (x: number[], w: number[], pad: number): string =>
  `${x[0]}×${x[2]}×${x[3]}×${x[1]}→${w[0]} ${w[2]}×${w[3]}${pad ? ` pad ${pad}` : ''}`;

const PASS_LABEL: Record<ConvPass, string> = { fwd: 'fwd', bwdInput: 'bwd input', bwdFilter: 'bwd filter' };

export function convOut(x: number[], w: number[], pad: number): number[] {
  return [x[0]!, w[0]!, x[2]! + 2 * pad - w[2]! + 1, x[3]! + 2 * pad - w[3]! + 1];
}

/** Forward FLOPs of LeNet(c1, c2) on one 1×28×28 image (conv 5×5 pad 2, pool, conv 5×5, pool, 120, 84, 10). */
export function lenetFlops(c1: number, c2: number): number {
  const conv1 = 2 * c1 * 28 * 28 * 25;
  const conv2 = 2 * c2 * 10 * 10 * 25 * c1;
  const dense = 2 * (c2 * 25 * 120 + 120 * 84 + 84 * 10);
  return conv1 + conv2 + dense;
}

export function buildItems(o: { quick: boolean; gpu: boolean; only?: string[] }): ItemSpec[] {
  const items: ItemSpec[] = [];
  const gemms = o.quick ? [256, 512] : [256, 512, 1024, ...(o.gpu ? [2048, 4096] : [])];
  for (const n of gemms) items.push({ id: `gemm-${n}`, label: `GEMM ${n}³`, kind: 'gemm', m: n, n, k: n, work: 2 * n ** 3, unit: 'GFLOP/s' });

  // The issue's sizes at batch 64/64/32; --quick uses batch 8/4/1 (the label says so).
  const convs: Array<[number[], number[], number]> = [
    [[o.quick ? 8 : 64, 1, 28, 28], [32, 1, 5, 5], 0],
    [[o.quick ? 4 : 64, 32, 14, 14], [64, 32, 5, 5], 0],
    [[o.quick ? 1 : 32, 64, 32, 32], [64, 64, 3, 3], 1],
  ];
  convs.forEach(([x, w, pad], i) => {
    const y = convOut(x, w, pad);
    const flops = 2 * y[0]! * y[1]! * y[2]! * y[3]! * w[1]! * w[2]! * w[3]!;
    for (const pass of ['fwd', 'bwdInput', 'bwdFilter'] as const) {
      items.push({ id: `conv${i + 1}-${pass}`, label: `conv ${convName(x, w, pad)} ${PASS_LABEL[pass]}`, kind: 'conv', pass, x, w, pad, work: flops, unit: 'GFLOP/s' });
    }
  });

  const px = [o.quick ? 8 : 64, 32, 28, 28];
  const inBytes = px.reduce((a, b) => a * b) * 4;
  items.push({ id: 'pool-fwd', label: `max pool 2×2 ${px.join('×')} fwd`, kind: 'pool', pass: 'fwd', x: px, size: 2, work: inBytes * 1.25, unit: 'GB/s' });
  items.push({ id: 'pool-bwd', label: `max pool 2×2 ${px.join('×')} bwd`, kind: 'pool', pass: 'bwd', x: px, size: 2, work: inBytes * 2.25, unit: 'GB/s' });

  const nets: Array<[number, number]> = o.quick ? [[6, 16]] : [[6, 16], [32, 64]];
  for (const [c1, c2] of nets) {
    const batch = 64;
    items.push({
      id: `train-lenet-${c1}-${c2}`,
      label: `train step LeNet-${c1}/${c2} batch ${batch}`,
      kind: 'train',
      c1,
      c2,
      batch,
      work: 3 * batch * lenetFlops(c1, c2),
      unit: 'images/s',
    });
  }
  return o.only?.length ? items.filter((it) => o.only!.some((s) => it.id.includes(s))) : items;
}
