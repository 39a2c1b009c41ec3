// GEMM tiling sweep for GPUs: times gemm.shared.wgsl's candidate tilings (register tile,
// workgroup shape, K step) at each size, checks every result on sampled entries against a
// float64 dot product, and prints GFLOP/s per candidate and the best per size, with the
// share of an fp32 peak when --peak (TFLOP/s) is given. Timing as in bench/kernels.ts:
// a warm-up run (compiles), then the median of --reps runs by timestamp-query, each run
// repeating the GEMM in one pass until it lasts about 2 ms (the GPU stays at its clock, and
// the pass's own overhead is a small share).
import { writeFileSync } from 'node:fs';
import { Engine } from '../src/runtime/engine.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import { gemmDispatch, sharedTile } from '../src/ops/gemm.js';
import type { Tuning } from '../src/ops/tuning.js';
import { randomArray } from './lib/data.js';
import { parseFlags } from './lib/flags.js';
import { median } from './lib/stats.js';

const args = parseFlags(
  { sizes: { type: 'string' }, reps: { type: 'string' }, peak: { type: 'string' }, json: { type: 'string' }, variants: { type: 'string' } },
  'Usage: npm run bench:gemm-sweep [-- --sizes 1024,2048,4096] [--reps 7] [--peak 66.9] [--json out.json] [--variants old|new]',
);
const sizes = (args.sizes ?? '256,512,1024,2048,4096').split(',').map(Number);
const reps = Number(args.reps ?? 7);
const peak = args.peak ? Number(args.peak) : undefined;

const engine = await Engine.create({ tuning: { gemm: 'shared' } });
console.log(`adapter: ${engine.describe()}; workgroup storage ${engine.limits.maxComputeWorkgroupStorageSize} B`);
const base: Tuning = { ...engine.tuning, gemm: 'shared', sharedMinGroups: 0 };

// Each tiling with and without vec4 fetches and double-buffered staging (the kernel's VEC_* and
// STAGES); --variants old keeps only the scalar, single-buffer kernel, --variants new only the
// vec4, double-buffered one.
const variants = ({ old: [[false, 1]], new: [[true, 2]] } as Record<string, Array<[boolean, 1 | 2]>>)[args.variants ?? ''] ?? [[false, 1], [true, 1], [false, 2], [true, 2]];
const candidates: Array<Partial<Tuning>> = [];
for (const sharedTile of [4, 8] as const) {
  for (const [WG_X, WG_Y] of [[16, 16], [8, 16], [16, 8], [32, 8]] as const) {
    for (const gemmTileK of [8, 16]) {
      if (sharedTile === 4 && (WG_X !== 16 || WG_Y !== 16)) continue; // small tiles: for small grids, one shape is enough
      for (const [gemmVec4, gemmStages] of variants) candidates.push({ sharedTile, tiled: { WG_X, WG_Y }, gemmTileK, gemmVec4, gemmStages });
    }
  }
}

const timer = new GpuTimer(engine);
// A GPU idles at a low clock: two seconds of the largest GEMM first, so the first rows are not slow for that.
{
  const n = Math.max(...sizes);
  const w = [engine.empty([n, n]), engine.empty([n, n]), engine.empty([n, n])];
  const d = gemmDispatch(engine, { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false }, w[0]!.buffer, w[1]!.buffer, w[2]!.buffer);
  for (const t0 = performance.now(); performance.now() - t0 < 2000; ) await timer.time([d]);
  for (const t of w) t.dispose();
}
const results: Array<{ n: number; label: string; gflops: number; ms: number; ok: boolean }> = [];

for (const n of sizes) {
  const ha = randomArray(n * n, n), hb = randomArray(n * n, n + 1);
  const a = engine.tensor(ha, [n, n]), b = engine.tensor(hb, [n, n]), c = engine.empty([n, n]);
  const g = { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false };
  // Compile and size every candidate first, then time them in rounds (each candidate once per
  // round), so a clock that drifts during the sweep moves every candidate alike.
  const runs: Array<{ label: string; tuning: Tuning; d: ReturnType<typeof gemmDispatch>[]; copies: number; xs: number[] }> = [];
  const poison = new Float32Array(n * n).fill(NaN);
  const seen = new Set<string>();
  for (const cand of candidates) {
    engine.tuning = { ...base, ...cand };
    const t = sharedTile(engine, g);
    const v = engine.tuning.gemmVec4 ? 'vec4' : 'scalar';
    const label = `${t.TM}×${t.TN} tile, ${engine.tuning.tiled.WG_X}×${engine.tuning.tiled.WG_Y} wg, K step ${t.TILE_K}, ${v}, ${engine.tuning.gemmStages} buf`;
    if (seen.has(label)) continue; // a K step halved to fit duplicates a smaller one
    seen.add(label);
    // Several copies in one timed pass where one run is short: an idle GPU drops its clock, and
    // Dawn rounds timestamps to 2¹⁶ ns unless told not to (convgpu's engine tells it in Node).
    const one = gemmDispatch(engine, g, a.buffer, b.buffer, c.buffer);
    const copies = Math.min(100, Math.max(1, Math.ceil(2 / Math.max((await timer.time([one])).ms, 0.02))));
    const d = Array.from({ length: copies }, () => one);
    await timer.time(d);
    runs.push({ label, tuning: engine.tuning, d, copies, xs: [] });
  }
  for (let i = 0; i < reps; i++) for (const r of runs) r.xs.push((await timer.time(r.d)).ms / r.copies);
  for (const r of runs) {
    const ms = median(r.xs);
    // 64 sampled entries against float64, from a run of this candidate alone.
    engine.tuning = r.tuning;
    engine.write(c, poison, { allowNonFinite: true }); // NaN first: a candidate that skips an entry fails
    await engine.run(r.d[0]!);
    const got = await c.read();
    let ok = true;
    for (let s = 0; s < 64; s++) {
      const i = (s * 7919) % n, j = (s * 104729 + 13) % n;
      let want = 0;
      for (let k = 0; k < n; k++) want += ha[i * n + k]! * hb[k * n + j]!;
      if (!(Math.abs(got[i * n + j]! - want) <= 1e-5 + 1e-6 * n + 1e-4 * Math.abs(want))) ok = false;
    }
    const gflops = (2 * n ** 3) / ms / 1e6;
    results.push({ n, label: r.label, gflops, ms, ok });
    const share = peak ? ` (${((gflops / 1000 / peak) * 100).toFixed(1)}% of ${peak} TFLOP/s)` : '';
    console.log(`${String(n).padStart(5)}³  ${r.label.padEnd(50)} ${gflops.toFixed(0).padStart(7)} GFLOP/s ${ms.toFixed(3).padStart(9)} ms${share}${ok ? '' : '  WRONG RESULT'}`);
  }
  a.dispose(), b.dispose(), c.dispose();
}
console.log('\nbest per size:');
for (const n of sizes) {
  const best = results.filter((r) => r.n === n && r.ok).sort((p, q) => q.gflops - p.gflops)[0];
  if (best) console.log(`${String(n).padStart(5)}³  ${best.label.padEnd(50)} ${best.gflops.toFixed(0).padStart(7)} GFLOP/s${peak ? ` (${((best.gflops / 1000 / peak) * 100).toFixed(1)}%)` : ''}`);
}
console.log('\nbest per size and kernel variant:');
for (const n of sizes) {
  for (const v of ['scalar, 1 buf', 'vec4, 1 buf', 'scalar, 2 buf', 'vec4, 2 buf']) {
    const best = results.filter((r) => r.n === n && r.ok && r.label.endsWith(v)).sort((p, q) => q.gflops - p.gflops)[0];
    if (best) console.log(`${String(n).padStart(5)}³  ${v.padEnd(14)} ${best.gflops.toFixed(0).padStart(7)} GFLOP/s${peak ? ` (${((best.gflops / 1000 / peak) * 100).toFixed(1)}%)` : ''}  ${best.label}`);
  }
}
if (results.some((r) => !r.ok)) console.log('SOME CANDIDATES GAVE WRONG RESULTS');
if (args.json) writeFileSync(args.json, JSON.stringify({ adapter: engine.adapterInfo, results }, null, 1));
timer.destroy();
engine.destroy();
