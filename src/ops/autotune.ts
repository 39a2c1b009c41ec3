// A small autotuning pass: times each kernel family's candidate workgroup shapes on this
// adapter and keeps the fastest. CPU emulators and GPUs disagree on what is fast (barriers,
// SIMD width), so one compromise loses on both. The result is cached per adapter (a file
// in Node, localStorage in a browser), so the pass runs once per machine.
import { conv2dBwdFilterDispatches, conv2dFwdDispatches, conv2dScratch } from './conv2d.js';
import { gemmDispatch } from './gemm.js';
import { conv2dGeom } from './geometry.js';
import { SUBGROUP_TILE_ROWS, checkTuning, defaultTuning, subgroupKernelsFit, type Tuning } from './tuning.js';
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

export interface AutotuneOptions {
  /** Timed runs per candidate (the median counts). Default 3. */
  reps?: number;
  /** Edge of the square GEMM timed. Default: 2048 for the workgroup-memory GEMM (GPUs), where it takes 8×8 tiles; 256 otherwise. */
  gemmSize?: number;
}

export function adapterKey(a: AdapterSummary): string {
  return [a.via, a.vendor, a.architecture, a.device, a.description].join('|');
}

/** The workgroup-memory GEMM's fetch and staging variants (gemm.shared.wgsl: TILE_K, VEC_A/VEC_B, STAGES). */
const SHARED_VARIANTS: Array<Pick<Tuning, 'gemmTileK' | 'gemmVec4' | 'gemmStages'>> = [8, 16].flatMap((gemmTileK) =>
  [false, true].flatMap((gemmVec4) => ([1, 2] as const).map((gemmStages) => ({ gemmTileK, gemmVec4, gemmStages }))),
);

/**
 * Times the candidates now (seconds on a CPU emulator) and sets engine.tuning to the fastest:
 * the register-tiled and conv kernels' workgroup shapes; on GPUs then the workgroup-memory
 * GEMM's K step, vec4 fetches and staging buffers on the best shape; where the adapter has a
 * fixed subgroup size, the subgroup kernels against the best register-tiled pair.
 */
export async function autotune(engine: Engine, opts: AutotuneOptions = {}): Promise<AutotuneReport> {
  const reps = opts.reps ?? 3;
  const timer = new GpuTimer(engine);
  const temps: GPUBuffer[] = [];
  const buf = (floats: number): GPUBuffer => {
    const t = engine.empty([floats], 'autotune');
    temps.push(t.buffer);
    return t.buffer;
  };
  const fits = ([x, y]: [number, number]): boolean =>
    x * y <= engine.limits.maxComputeInvocationsPerWorkgroup && x <= engine.limits.maxComputeWorkgroupSizeX && y <= engine.limits.maxComputeWorkgroupSizeY;
  const gpu = !engine.adapterInfo.isFallbackAdapter;
  /**
   * Median ms of each candidate's dispatches (built under its own tuning), timed in rounds, one
   * run of each per round, so a clock that drifts meanwhile moves them alike. On GPUs a timed
   * pass repeats the dispatches to last ~2 ms: browsers may round timestamps (Dawn's default,
   * which Node's engine turns off, is 2¹⁶ ns), and a launch's overhead is then a small share.
   */
  const race = async (cands: Array<{ tuning: Tuning; make: () => Dispatch[] }>): Promise<number[]> => {
    const runs: Array<{ ds: Dispatch[]; copies: number; xs: number[] }> = [];
    for (const c of cands) {
      engine.tuning = c.tuning;
      const one = c.make();
      const ms = (await timer.time(one)).ms; // compiles
      const copies = gpu ? Math.min(100, Math.max(1, Math.ceil(2 / Math.max(ms, 0.02)))) : 1;
      runs.push({ ds: Array.from({ length: copies }, () => one).flat(), copies, xs: [] });
    }
    for (let i = 0; i < reps; i++) for (const r of runs) r.xs.push((await timer.time(r.ds)).ms / r.copies);
    return runs.map((r) => r.xs.sort((a, b) => a - b)[Math.floor(r.xs.length / 2)]!);
  };
  const argmin = (xs: number[]): number => xs.indexOf(Math.min(...xs));

  // The workgroup-memory GEMM (GPUs) switches to 8×8 tiles on large grids: time it at a size that takes them.
  const n = opts.gemmSize ?? (engine.tuning.gemm === 'shared' ? 2048 : 256);
  const a = buf(n * n), b = buf(n * n), c = buf(n * n);
  const g = conv2dGeom([8, 16, 14, 14], [32, 16, 5, 5], { padding: 2 });
  const x = buf(8 * 16 * 14 * 14), w = buf(32 * 16 * 25), y = buf(8 * 32 * 14 * 14);
  const scratch = (pass: 'fwd' | 'bwdFilter') => Object.fromEntries(Object.entries(conv2dScratch(engine, g, pass)).map(([k, f]) => [k, buf(f)]));
  const gemm = (): Dispatch[] => [gemmDispatch(engine, { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false }, a, b, c)];
  // The forward and the filter gradient; scratch per candidate, as its size follows the tuning's split count.
  const conv = (): Dispatch[] => [...conv2dFwdDispatches(engine, g, x, w, y, scratch('fwd')), ...conv2dBwdFilterDispatches(engine, g, x, y, w, scratch('bwdFilter'))];

  const timings: Record<string, Record<string, number>> = { tiled: {}, conv: {} };
  // The register-tiled kernels' workgroup shapes first; then, where the adapter has a fixed
  // subgroup size, the subgroup kernels (which ignore those shapes) against the best of them.
  const base: Tuning = { ...engine.tuning, gemm: engine.tuning.gemm === 'subgroup' ? 'registers' : engine.tuning.gemm };
  const best: Tuning = { ...base };
  try {
    const shapes = SHAPES.filter(fits);
    // tiled: the GEMM's workgroup shape (and, for the register tiles, 4 or 8 rows per invocation)
    const tiled = shapes.flatMap((s) => (base.gemm === 'registers' ? ([4, 8] as const) : [base.gemmRows]).map((rows) => ({ s, rows })));
    const tiledMs = await race(tiled.map(({ s, rows }) => ({ tuning: { ...base, gemmRows: rows, tiled: { WG_X: s[0], WG_Y: s[1] } }, make: gemm })));
    tiled.forEach(({ s, rows }, i) => (timings.tiled![base.gemm === 'registers' ? `${s[0]}x${s[1]}/${rows} rows` : `${s[0]}x${s[1]}`] = tiledMs[i]!));
    const t = tiled[argmin(tiledMs)]!;
    best.tiled = { WG_X: t.s[0], WG_Y: t.s[1] };
    best.gemmRows = t.rows;
    let bestGemm = Math.min(...tiledMs);

    // NOTE: without im2col: on GPUs (tuning.convIm2col) the forward and filter gradient go
    // through im2col and the shared GEMM, which never read tuning.conv, so every candidate would
    // time the same kernels and the pick would be noise. tuning.conv drives the implicit-GEMM
    // kernels, which grouped convolutions (and shapes whose im2col scratch does not fit) take.
    const convMs = await race(shapes.map((s) => ({ tuning: { ...best, conv: { WG_X: s[0], WG_Y: s[1] }, convIm2col: false }, make: conv })));
    shapes.forEach((s, i) => (timings.conv![`${s[0]}x${s[1]}`] = convMs[i]!));
    const cs = shapes[argmin(convMs)]!;
    best.conv = { WG_X: cs[0], WG_Y: cs[1] };

    if (base.gemm === 'shared') {
      // On the best shape: K step 8 or 16, vec4 fetches or not, one or two staging buffers
      // (on an H100's 4096³ the tilings the sweep tried spanned 25–33 TFLOP/s).
      const ms = await race(SHARED_VARIANTS.map((v) => ({ tuning: { ...best, ...v }, make: gemm })));
      timings.shared = Object.fromEntries(SHARED_VARIANTS.map((v, i) => [`K ${v.gemmTileK}, ${v.gemmVec4 ? 'vec4' : 'scalar'}, ${v.gemmStages} buf`, ms[i]!]));
      Object.assign(best, SHARED_VARIANTS[argmin(ms)]!);
      bestGemm = Math.min(...ms);
    }

    if (subgroupKernelsFit(base.subgroupSize)) {
      const variants = ([8, 4] as const).map((sgCols) => ({ ...best, gemm: 'subgroup' as const, sgCols, sgRows: SUBGROUP_TILE_ROWS / base.subgroupSize }));
      const [g8, g4] = await race(variants.map((tuning) => ({ tuning, make: gemm })));
      const [c8, c4] = await race(variants.map((tuning) => ({ tuning, make: conv })));
      const sums = [g8! + c8!, g4! + c4!];
      timings.subgroup = { '8 columns per lane': sums[0]!, '4 columns per lane': sums[1]! };
      const i = argmin(sums);
      // The conv as the register/shared tuning runs it: through im2col where that applies.
      const convNow = best.convIm2col && best.gemm === 'shared' ? (await race([{ tuning: best, make: conv }]))[0]! : Math.min(...convMs);
      if (sums[i]! < bestGemm + convNow) Object.assign(best, { gemm: 'subgroup', sgCols: variants[i]!.sgCols, sgRows: variants[i]!.sgRows });
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

/** A cached entry that an edit or an older version left out of range is timed again, not used. */
function fits(t: Partial<Tuning>, engine: Engine): boolean {
  try {
    checkTuning(t, engine.limits.maxComputeInvocationsPerWorkgroup, 'autotune cache');
    return true;
  } catch {
    return false;
  }
}

/** The cached tuning for this adapter, or a fresh autotune pass whose result is cached. */
export async function cachedAutotune(engine: Engine, opts: AutotuneOptions & { refresh?: boolean } = {}): Promise<AutotuneReport> {
  const s = await store().catch(() => null);
  const key = adapterKey(engine.adapterInfo);
  let hit: Tuning | null | undefined = null;
  try {
    hit = opts.refresh ? null : s?.get(key);
  } catch {
    // A corrupt cache entry is a miss.
  }
  if (hit?.tiled && hit.conv && hit.gemmRows && hit.gemm && hit.sgCols) {
    const { gemm, sgCols, sgRows, tiled, conv, gemmRows } = hit;
    // The shared GEMM's variants where the cache has them (entries from before they were tuned do not).
    const shared = hit.gemmTileK && hit.gemmStages ? { gemmTileK: hit.gemmTileK, gemmVec4: hit.gemmVec4 === true, gemmStages: hit.gemmStages } : {};
    const picked: Partial<Tuning> = { tiled, conv, gemmRows, sgCols, sgRows, ...shared, gemm: gemm === 'subgroup' && !subgroupKernelsFit(engine.tuning.subgroupSize) ? defaultTuning(false).gemm : gemm };
    if (fits(picked, engine)) {
      engine.tuning = { ...engine.tuning, ...picked };
      return { tuning: engine.tuning, timings: {}, fromCache: true };
    }
  }
  const r = await autotune(engine, opts);
  try {
    s?.set(key, r.tuning);
  } catch {
    // A read-only cache only costs a re-run next time.
  }
  return r;
}
