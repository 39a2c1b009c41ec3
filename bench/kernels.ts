// Kernel benchmark on the Node WebGPU adapter: GFLOP/s of GEMM and conv2d, forward and
// backward. Timing: warm-up excluded (the first run also compiles), then the median of
// `reps` runs, each timed by timestamp-query where the adapter has it (else the wall time
// from submit to onSubmittedWorkDone), one source per row (bench/lib/stats.ts gpuStats), which
// the row prints.
import { Engine, type Dispatch } from '../src/runtime/engine.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import { gemmDispatches, gemmScratch } from '../src/ops/gemm.js';
import * as conv from '../src/ops/conv2d.js';
import { conv2dGeom, type GemmGeom } from '../src/ops/geometry.js';
import type { Tuning } from '../src/ops/tuning.js';
import { parseFlags } from './lib/flags.js';
import { gpuStats } from './lib/stats.js';
import type { Timing } from '../src/runtime/gpu-timer.js';

const args = parseFlags(
  { pixels: { type: 'string' }, rows: { type: 'string' }, autotune: { type: 'boolean' }, quick: { type: 'boolean' }, json: { type: 'boolean' }, reps: { type: 'string' }, tiled: { type: 'string' }, conv: { type: 'string' }, gemm: { type: 'string' }, only: { type: 'string' }, sizes: { type: 'string' } },
  'Usage: npm run bench:kernels [-- --quick] [--sizes 1024,4096] [--autotune] [--gemm subgroup|registers|shared] [--tiled 16x4] [--conv 32x2] [--rows 8] [--pixels 8] [--only gemm|conv] [--reps N] [--json]',
);

const wg = (s: string | undefined) => (s ? { WG_X: Number(s.split('x')[0]), WG_Y: Number(s.split('x')[1]) } : undefined);
const tuning: Partial<Tuning> = {};
if (args.tiled) tuning.tiled = wg(args.tiled)!;
if (args.conv) tuning.conv = wg(args.conv)!;
if (args.gemm) tuning.gemm = args.gemm as Tuning['gemm'];
if (args.rows) tuning.gemmRows = Number(args.rows) === 8 ? 8 : 4;
if (args.pixels) tuning.convPixels = Number(args.pixels) === 8 ? 8 : 4;
const engine = await Engine.create({ tuning, autotune: args.autotune });
console.log(`adapter: ${engine.describe()}  tuning: ${JSON.stringify(engine.tuning)}`);

const reps = Number(args.reps ?? (args.quick ? 3 : 5));

const timer = new GpuTimer(engine);
async function time(ds: Dispatch[]): Promise<{ first: number; ms: number; min: number; max: number; source: Timing['source']; note?: string }> {
  const t0 = performance.now();
  await timer.time(ds); // compiles the pipelines: reported as time to first result
  const first = performance.now() - t0;
  const samples: Timing[] = [];
  for (let i = 0; i < reps; i++) samples.push(await timer.time(ds));
  const { gpu, source, note } = gpuStats(samples)!;
  return { first, ms: gpu.median, min: gpu.min, max: gpu.max, source, note };
}

const buf = (floats: number): GPUBuffer => engine.empty([floats]).buffer;
const rows: Array<{ item: string; gflop: number; ms: number; min: number; max: number; first: number; source: Timing['source']; note?: string }> = [];
async function row(item: string, flops: number, ds: Dispatch[]): Promise<void> {
  if (args.only && !item.startsWith(args.only)) return;
  const t = await time(ds);
  rows.push({ item, gflop: flops / t.ms / 1e6, ...t });
  const r = rows.at(-1)!;
  const src = r.source === 'timestamp' ? 'timestamps' : 'wall';
  console.log(`${item.padEnd(44)} ${r.gflop.toFixed(3).padStart(8)} GFLOP/s  ${r.ms.toFixed(1).padStart(8)} ms (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)}; first ${r.first.toFixed(0)} ms; ${src})${r.note ? ` [${r.note}]` : ''}`);
}

// GEMM edges: --sizes (GPUs: 2048 and 4096 keep them busy), else 256–1024 (256 and 512 with --quick).
const sizes = args.sizes ? args.sizes.split(',').map(Number) : args.quick ? [256, 512] : [256, 512, 1024];
for (const n of sizes) {
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  const g = { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false };
  const gemm = (gg: GemmGeom) => gemmDispatches(engine, gg, a, b, c, {}, Object.fromEntries(Object.entries(gemmScratch(engine, gg)).map(([k, f]) => [k, buf(f)])));
  await row(`gemm ${n}³`, 2 * n ** 3, gemm(g));
  if (n === 512) {
    await row(`gemm ${n}³ Aᵀ (dW of a dense layer)`, 2 * n ** 3, gemm({ ...g, transA: true }));
    await row(`gemm ${n}³ Bᵀ (dense forward)`, 2 * n ** 3, gemm({ ...g, transB: true }));
  }
}

const convs: Array<[string, number[], number[], object]> = [
  ['64×28×28×1→32 5×5', [64, 1, 28, 28], [32, 1, 5, 5], {}],
  ['64×14×14×32→64 5×5', [64, 32, 14, 14], [64, 32, 5, 5], {}],
];
if (!args.quick) convs.push(['32×32×32×64→64 3×3', [32, 64, 32, 32], [64, 64, 3, 3], { padding: 1 }]);
for (const [name, xs, ws, attrs] of convs) {
  const g = conv2dGeom(xs, ws, attrs);
  const flops = 2 * g.n * g.o * g.oh * g.ow * g.cg * g.kh * g.kw;
  const x = buf(xs.reduce((p, d) => p * d)), w = buf(ws.reduce((p, d) => p * d)), y = buf(g.n * g.o * g.oh * g.ow);
  const scratch = (pass: 'fwd' | 'bwdInput' | 'bwdFilter') =>
    Object.fromEntries(Object.entries(conv.conv2dScratch(engine, g, pass)).map(([k, f]) => [k, buf(f)]));
  await row(`conv ${name} fwd`, flops, conv.conv2dFwdDispatches(engine, g, x, w, y, scratch('fwd')));
  await row(`conv ${name} bwd input`, flops, conv.conv2dBwdInputDispatches(engine, g, y, w, x, scratch('bwdInput')));
  const splits = conv.conv2dBwdFilterSplits(engine, g);
  await row(`conv ${name} bwd filter (split ${splits})`, flops, conv.conv2dBwdFilterDispatches(engine, g, x, y, w, scratch('bwdFilter')));
}
console.log(`timing: median of ${reps} after a warm-up run, by GPU timestamp-query ("timestamps") or, where the adapter has none or a sample fell back, the wall time from submit to onSubmittedWorkDone ("wall")`);
if (args.json) console.log(JSON.stringify({ adapter: engine.adapterInfo, tuning: engine.tuning, rows }));
engine.destroy();
