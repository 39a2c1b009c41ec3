// Do the conv GEMMs' register tiles lose to idle rows on a GPU? The im2col forward's GEMM has
// M = O (32 or 64) rows; 8×8 tiles on 16×16 workgroups make 128-row
// blocks, half to three quarters idle, unless tuning.sharedTrim (the default) gives such an
// axis 4-wide tiles (the same blocks, none half idle). Paired rounds over the bench's three
// convolutions, forward and both gradients: the default rule, the default without trimming
// (the rule before it), 4×4 always, 8×8 always, K step 8 (the GPUs' default before 16), 8×8
// also where K ≤ 64 (sharedShortK 0, the rule before it); the median ms per variant, each
// variant's output checked against the default's, and the default's time by kernel.
// Usage: convtile.ts [--quick] (batch 2, one round: the tests' run on an emulator).
import { Engine, type Dispatch } from '../../src/runtime/engine.js';
import { GpuTimer } from '../../src/runtime/gpu-timer.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { conv2dBwdFilterDispatches, conv2dBwdInputDispatches, conv2dFwdDispatches, conv2dScratch } from '../../src/ops/conv2d.js';
import { conv2dGeom, type Conv2dGeom } from '../../src/ops/geometry.js';
import { defaultTuning, type Tuning } from '../../src/ops/tuning.js';
import { median } from '../../bench/lib/stats.js';

const quick = process.argv.includes('--quick');
// On an emulator (the tests) the GPU's tuning is forced, so that the im2col routes run.
const e = await Engine.create();
const base: Tuning = e.adapterInfo.isFallbackAdapter ? { ...defaultTuning(false), subgroupSize: e.tuning.subgroupSize } : e.tuning;
const timer = new GpuTimer(e);
const rounds = quick ? 1 : 7;
const variants: Array<[string, Partial<Tuning>]> = [['default', {}], ['untrimmed', { sharedTrim: false }], ['4x4', { sharedTile: 4 }], ['8x8', { sharedTile: 8, sharedMinGroups: 0, sharedTrim: false, sharedShortK: 0 }], ['K 8', { gemmTileK: 8 }], ['long K', { sharedShortK: 0 }]];
const convs: Array<[string, number[], number[], number]> = [
  ['conv1', [64, 1, 28, 28], [32, 1, 5, 5], 0],
  ['conv2', [64, 32, 14, 14], [64, 32, 5, 5], 0],
  ['conv3', [32, 64, 32, 32], [64, 64, 3, 3], 1],
];
console.log(`adapter: ${e.describe()}; base tuning sharedTile ${base.sharedTile}, sharedMinGroups ${base.sharedMinGroups}, sharedTrim ${base.sharedTrim}, sharedShortK ${base.sharedShortK}, K step ${base.gemmTileK}`);
const tensor = (shape: number[], seed: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return e.tensor(Float32Array.from({ length: n }, (_, i) => (((i * 7919 + seed) % 1000) / 1000) - 0.5), shape);
};
type Pass = 'fwd' | 'bwdInput' | 'bwdFilter';
// The pass's dispatches under e.tuning, and the scratch tensors they use (disposed by the caller).
const build = (g: Conv2dGeom, pass: Pass, io: { x: GPUBuffer; w: GPUBuffer; dy: GPUBuffer; out: GPUBuffer }): { ds: Dispatch[]; temps: Tensor[] } => {
  const temps = Object.entries(conv2dScratch(e, g, pass)).map(([k, f]) => [k, e.empty([Math.max(f, 4)])] as const);
  const scratch = Object.fromEntries(temps.map(([k, t]) => [k, t.buffer]));
  const ds = pass === 'fwd' ? conv2dFwdDispatches(e, g, io.x, io.w, io.out, scratch)
    : pass === 'bwdInput' ? conv2dBwdInputDispatches(e, g, io.dy, io.w, io.out, scratch)
    : conv2dBwdFilterDispatches(e, g, io.x, io.dy, io.out, scratch);
  return { ds, temps: temps.map(([, t]) => t) };
};
const rows: string[] = [];
for (const [name, xs0, ws, pad] of convs) {
  const xs = quick ? [2, ...xs0.slice(1)] : xs0;
  const g = conv2dGeom(xs, ws, { padding: pad });
  const [x, w, dy] = [tensor(xs, 1), tensor(ws, 2), tensor([g.n, g.o, g.oh, g.ow], 3)];
  const flops = 2 * g.n * g.o * g.oh * g.ow * g.c * g.kh * g.kw;
  for (const pass of ['fwd', 'bwdInput', 'bwdFilter'] as const) {
    const outShape = pass === 'fwd' ? [g.n, g.o, g.oh, g.ow] : pass === 'bwdInput' ? xs : ws;
    const runs = variants.map(([label, t]) => {
      e.tuning = { ...base, ...t };
      const out = e.empty(outShape);
      const { ds, temps } = build(g, pass, { x: x.buffer, w: w.buffer, dy: dy.buffer, out: out.buffer });
      return { label, ds, out, temps, ms: [] as number[], kernels: ds.map((d) => d.kernel.name) };
    });
    e.tuning = base;
    for (const r of runs) await timer.time(r.ds); // compile and warm up
    for (let i = 0; i < rounds; i++) for (const r of i % 2 ? [...runs].reverse() : runs) r.ms.push((await timer.time(r.ds)).ms);
    const want = await runs[0]!.out.read();
    let scale = 0;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    const cells = await Promise.all(runs.map(async (r) => {
      const got = await r.out.read();
      let err = 0;
      for (let j = 0; j < got.length; j++) err = Math.max(err, Math.abs(got[j]! - want[j]!));
      const ms = median(r.ms);
      return `${r.label} ${ms.toFixed(3)} ms ${(flops / ms / 1e6).toPrecision(3)} GFLOP/s${err > 1e-4 * (1 + scale) ? ` WRONG (max diff ${err.toExponential(1)})` : ''}`;
    }));
    const split = await timer.timeEach(runs[0]!.ds);
    const by = split ? split.map((k) => `${k.kernel} ${k.ms.toFixed(3)}`).join(' + ') : runs[0]!.kernels.join(' + ');
    rows.push(`${name} ${xs.join('×')}→${ws[0]} ${pass.padEnd(9)} | ${cells.join(' | ')} | default by kernel: ${by}`);
    for (const r of runs) for (const t of [r.out, ...r.temps]) t.dispose();
  }
}
console.log(rows.join('\n'));
e.destroy();
process.exit(0);
