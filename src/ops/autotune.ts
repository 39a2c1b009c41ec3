// A small autotuning pass: times each kernel family's candidate workgroup shapes on this
// adapter and keeps the fastest. CPU emulators and GPUs disagree on what is fast (barriers,
// SIMD width), so one compromise loses on both. The result is cached per adapter (a file
// in Node, localStorage in a browser), so the pass runs once per machine.
import { conv2dBwdFilterDispatches, conv2dFwdDispatches, conv2dScratch } from './conv2d.js';
import { gemmDispatch } from './gemm.js';
import { conv2dGeom } from './geometry.js';
import { defaultTuning, subgroupKernelsFit, type Tuning } from './tuning.js';
import type { Dispatch, Engine } from '../runtime/engine.js';
import { GpuTimer } from '../runtime/gpu-timer.js';
import type { AdapterSummary } from '../runtime/device.js';

// 32×8: the best GEMM workgroup for 8×8 tiles on an H100 (bench/gemm-sweep.ts), with 16×8.
const SHAPES: Array<[number, number]> = [[8, 8], [16, 4], [4, 16], [16, 8], [32, 2], [16, 16], [32, 8]];

export interface AutotuneReport {
  tuning: Tuning;
  /** Median ms per candidate, by family and "XxY". */
  timings: Record<string, Record<string, number>>;
  fromCache: boolean;
}

export function adapterKey(a: AdapterSummary): string {
  return [a.via, a.vendor, a.architecture, a.device, a.description].join('|');
}

/** Times the candidates now (seconds on a CPU emulator) and sets engine.tuning to the fastest. */
export async function autotune(engine: Engine, reps = 3): Promise<AutotuneReport> {
  const timer = new GpuTimer(engine);
  const temps: GPUBuffer[] = [];
  const buf = (floats: number): GPUBuffer => {
    const t = engine.empty([floats], 'autotune');
    temps.push(t.buffer);
    return t.buffer;
  };
  const fits = ([x, y]: [number, number]): boolean =>
    x * y <= engine.limits.maxComputeInvocationsPerWorkgroup && x <= engine.limits.maxComputeWorkgroupSizeX && y <= engine.limits.maxComputeWorkgroupSizeY;
  const time = async (make: () => Dispatch[]): Promise<number> => {
    await timer.time(make()); // compile
    const xs: number[] = [];
    for (let i = 0; i < reps; i++) xs.push((await timer.time(make())).ms);
    return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  };

  // The workgroup-memory GEMM (GPUs) switches to 8×8 tiles on large grids: time it at a size that takes them.
  const n = engine.tuning.gemm === 'shared' ? 2048 : 256;
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  const g = conv2dGeom([8, 16, 14, 14], [32, 16, 5, 5], { padding: 2 });
  const x = buf(8 * 16 * 14 * 14), w = buf(32 * 16 * 25), y = buf(8 * 32 * 14 * 14);
  const scratch = (pass: 'fwd' | 'bwdFilter') => Object.fromEntries(Object.entries(conv2dScratch(engine, g, pass)).map(([k, f]) => [k, buf(f)]));
  const sf = scratch('fwd');

  const timings: Record<string, Record<string, number>> = { tiled: {}, conv: {} };
  // The register-tiled kernels' workgroup shapes first; then, where the adapter has a fixed
  // subgroup size, the subgroup kernels (which ignore those shapes) against the best of them.
  const base: Tuning = { ...engine.tuning, gemm: engine.tuning.gemm === 'subgroup' ? 'registers' : engine.tuning.gemm };
  const best: Tuning = { ...base };
  const gemmTime = () => time(() => [gemmDispatch(engine, { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false }, a, b, c)]);
  const convTime = async () => {
    const sb = scratch('bwdFilter'); // per candidate: its size follows the tuning's split count
    return (await time(() => conv2dFwdDispatches(engine, g, x, w, y, sf))) + (await time(() => conv2dBwdFilterDispatches(engine, g, x, y, w, sb)));
  };
  try {
    const candidates = (family: 'tiled' | 'conv'): Array<{ s: [number, number]; rows: 4 | 8 }> =>
      SHAPES.filter(fits).flatMap((s) => (family === 'tiled' && base.gemm === 'registers' ? [{ s, rows: 4 as const }, { s, rows: 8 as const }] : [{ s, rows: base.gemmRows }]));
    const bestMs = { tiled: Infinity, conv: Infinity };
    for (const family of ['tiled', 'conv'] as const) {
      for (const { s, rows } of candidates(family)) {
        engine.tuning = { ...base, gemmRows: family === 'tiled' ? rows : best.gemmRows, [family]: { WG_X: s[0], WG_Y: s[1] } };
        const ms = family === 'tiled' ? await gemmTime() : await convTime();
        const label = family === 'tiled' && base.gemm === 'registers' ? `${s[0]}x${s[1]}/${rows} rows` : `${s[0]}x${s[1]}`;
        timings[family]![label] = ms;
        if (ms < bestMs[family]) {
          bestMs[family] = ms;
          best[family] = { WG_X: s[0], WG_Y: s[1] };
          if (family === 'tiled') best.gemmRows = rows;
        }
      }
    }
    if (subgroupKernelsFit(base.subgroupSize)) {
      timings.subgroup = {};
      let bestSg = bestMs.tiled + bestMs.conv;
      for (const sgCols of [8, 4] as const) {
        engine.tuning = { ...best, gemm: 'subgroup', sgCols, sgRows: 16 / base.subgroupSize };
        const ms = (await gemmTime()) + (await convTime());
        timings.subgroup[`${sgCols} columns per lane`] = ms;
        if (ms < bestSg) {
          bestSg = ms;
          best.gemm = 'subgroup';
          best.sgCols = sgCols;
          best.sgRows = 16 / base.subgroupSize;
        }
      }
    }
  } finally {
    engine.tuning = best;
    timer.destroy();
    for (const t of temps) engine.pool.release(t);
  }
  return { tuning: best, timings, fromCache: false };
}

interface Store {
  get(key: string): Tuning | null;
  set(key: string, t: Tuning): void;
}

async function store(): Promise<Store | null> {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls) {
    return {
      get: (k) => JSON.parse(ls.getItem(`convgpu.tuning.${k}`) ?? 'null') as Tuning | null,
      set: (k, t) => ls.setItem(`convgpu.tuning.${k}`, JSON.stringify(t)),
    };
  }
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  const fs = await import(/* @vite-ignore */ 'node:fs');
  const os = await import(/* @vite-ignore */ 'node:os');
  const path = await import(/* @vite-ignore */ 'node:path');
  const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'convgpu');
  const file = path.join(dir, 'tuning.json');
  const read = (): Record<string, Tuning> => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Tuning>;
    } catch {
      return {};
    }
  };
  return {
    get: (k) => read()[k] ?? null,
    set: (k, t) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ ...read(), [k]: t }, null, 2));
    },
  };
}

/** The cached tuning for this adapter, or a fresh autotune pass whose result is cached. */
export async function cachedAutotune(engine: Engine, opts: { refresh?: boolean } = {}): Promise<AutotuneReport> {
  const s = await store().catch(() => null);
  const key = adapterKey(engine.adapterInfo);
  const hit = opts.refresh ? null : s?.get(key);
  if (hit?.tiled && hit.conv && hit.gemmRows && hit.gemm && hit.sgCols) {
    const { gemm, sgCols, sgRows, tiled, conv, gemmRows } = hit;
    engine.tuning = { ...engine.tuning, tiled, conv, gemmRows, sgCols, sgRows, gemm: gemm === 'subgroup' && !subgroupKernelsFit(engine.tuning.subgroupSize) ? defaultTuning(false).gemm : gemm };
    return { tuning: engine.tuning, timings: {}, fromCache: true };
  }
  const r = await autotune(engine);
  try {
    s?.set(key, r.tuning);
  } catch {
    // A read-only cache only costs a re-run next time.
  }
  return r;
}
