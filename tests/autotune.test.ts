// The autotuning pass picks one of its candidate workgroup shapes per kernel family, and
// the kernels stay correct with whatever it picks.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, expect, it, vi } from 'vitest';
import { CpuBackend, compare, type WebGpuBackend } from '../src/backend.js';
import { adapterKey, autotune, cachedAutotune } from '../src/ops/autotune.js';
import { gemmDispatch } from '../src/ops/gemm.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import { defaultTuning, subgroupKernelsFit, type Tuning } from '../src/ops/tuning.js';
import { gpuBackend } from './helpers/gpu.js';
import { rng } from './helpers/rng.js';

// One engine for the file, its default tuning put back before each test: every engine is a
// device, and with several lavapipe devices left to the garbage collector the worker twice died at
// exit inside the driver (a pthread mutex assertion) after all of this file's tests had passed.
let shared: WebGpuBackend | undefined;
let defaults: Tuning;
const backend = async (): Promise<WebGpuBackend> => {
  if (!shared) {
    shared = await gpuBackend();
    defaults = shared.engine.tuning;
  }
  return shared;
};
beforeEach(() => {
  if (shared) shared.engine.tuning = defaults;
});
afterAll(() => shared?.engine.destroy());

it('autotune times the candidates, keeps the fastest, and results still match the reference', async () => {
  const gpu = await backend();
  try {
    const r = await autotune(gpu.engine, { reps: 1 });
    for (const family of ['tiled', 'conv'] as const) {
      const times = r.timings[family]!;
      expect(Object.keys(times).length).toBeGreaterThanOrEqual(4);
      const shape = `${r.tuning[family].WG_X}x${r.tuning[family].WG_Y}`;
      const chosen = Object.keys(times).find((k) => k === shape || k === `${shape}/${r.tuning.gemmRows} rows`)!;
      expect(times[chosen]).toBe(Math.min(...Object.values(times)));
      expect(gpu.engine.tuning[family]).toEqual(r.tuning[family]);
    }
    if (subgroupKernelsFit(gpu.engine.adapterInfo.subgroupSize)) {
      // Both subgroup variants were timed against the best register-tiled pair.
      expect(Object.keys(r.timings.subgroup!)).toHaveLength(2);
      const sgBest = Math.min(...Object.values(r.timings.subgroup!));
      const regBest = Math.min(...Object.values(r.timings.tiled!)) + Math.min(...Object.values(r.timings.conv!));
      expect(r.tuning.gemm).toBe(sgBest < regBest ? 'subgroup' : 'registers');
    } else {
      expect(r.timings.subgroup).toBeUndefined();
      expect(r.tuning.gemm).toBe(defaultTuning(gpu.engine.adapterInfo.isFallbackAdapter).gemm);
    }
    console.log(`autotune on ${gpu.engine.describe()}: ${JSON.stringify(r.timings)}`);
    const u = rng(9);
    const xs = Float32Array.from({ length: 2 * 3 * 11 * 9 }, () => u() - 0.5);
    const ws = Float32Array.from({ length: 5 * 3 * 3 * 3 }, () => u() - 0.5);
    const cpu = new CpuBackend();
    const y1 = await gpu.conv2d(gpu.tensor(xs, [2, 3, 11, 9]), gpu.tensor(ws, [5, 3, 3, 3]), { padding: 1 });
    const y2 = await cpu.conv2d(cpu.tensor(xs, [2, 3, 11, 9]), cpu.tensor(ws, [5, 3, 3, 3]), { padding: 1 });
    expect((await compare(y1, y2)).maxAbs).toBeLessThan(1e-4); // K = 27 terms in f32: see ops.test.ts
    const m1 = await gpu.matmul(gpu.tensor(xs.subarray(0, 33 * 17), [33, 17]), gpu.tensor(xs.subarray(0, 17 * 21), [17, 21]));
    const m2 = await cpu.matmul(cpu.tensor(xs.subarray(0, 33 * 17), [33, 17]), cpu.tensor(xs.subarray(0, 17 * 21), [17, 21]));
    expect((await compare(m1, m2)).maxAbs).toBeLessThan(1e-4);
  } finally {
    gpu.engine.tuning = defaults;
  }
});

it("on a GPU's tuning it also times the shared GEMM's K step, vec4 fetches and staging buffers, and keeps the fastest", async () => {
  const gpu = await backend();
  try {
    const e = gpu.engine;
    e.tuning = { ...defaultTuning(false), sharedMinGroups: 0 }; // a GPU's, with no fixed subgroup size
    // Every conv dispatch list timed, to see which kernels the conv race ran.
    const convTimed: string[][] = [];
    const time = GpuTimer.prototype.time;
    const spy = vi.spyOn(GpuTimer.prototype, 'time').mockImplementation(function (this: GpuTimer, ds) {
      if (ds.some((d) => d.kernel.name.startsWith('conv2d'))) convTimed.push(ds.map((d) => `${d.kernel.name} ${d.constants?.WG_X}x${d.constants?.WG_Y}`));
      return time.call(this, ds);
    });
    // A small GEMM: on a CPU emulator the workgroup-memory kernel is slow, and the mechanics are the point.
    const r = await autotune(e, { reps: 1, gemmSize: 64 }).finally(() => spy.mockRestore());
    // The conv race timed the kernels tuning.conv drives, one workgroup shape per candidate, not
    // im2col and the shared GEMM (which ignore it: a GPU's tuning takes them by default).
    expect(convTimed.flat().some((k) => k.startsWith('conv2d.im2col'))).toBe(false);
    const fwdShapes = new Set(convTimed.flat().filter((k) => k.startsWith('conv2d.fwd ')).map((k) => k.split(' ')[1]));
    expect([...fwdShapes].sort()).toEqual(Object.keys(r.timings.conv!).sort());
    expect(convTimed.flat().some((k) => k.startsWith('conv2d.bwd_filter '))).toBe(true);
    const times = r.timings.shared!;
    expect(Object.keys(times)).toHaveLength(8);
    const chosen = `K ${r.tuning.gemmTileK}, ${r.tuning.gemmVec4 ? 'vec4' : 'scalar'}, ${r.tuning.gemmStages} buf`;
    expect(times[chosen]).toBe(Math.min(...Object.values(times)));
    expect(r.tuning.gemm).toBe('shared');
    expect(e.tuning).toMatchObject({ gemmTileK: r.tuning.gemmTileK, gemmVec4: r.tuning.gemmVec4, gemmStages: r.tuning.gemmStages });
    // Whatever it chose computes the same as the reference: vec4-aligned rows, and ragged ones.
    const u = rng(3);
    const cpu = new CpuBackend();
    for (const [m, k, n] of [[40, 36, 44], [33, 17, 21]] as const) {
      const as = Float32Array.from({ length: m * k }, () => u() - 0.5);
      const bs = Float32Array.from({ length: k * n }, () => u() - 0.5);
      const got = await gpu.matmul(gpu.tensor(as, [m, k]), gpu.tensor(bs, [k, n]));
      const want = await cpu.matmul(cpu.tensor(as, [m, k]), cpu.tensor(bs, [k, n]));
      expect((await compare(got, want)).maxAbs).toBeLessThan(1e-4); // K ≤ 36 terms in f32: see ops.test.ts
    }
  } finally {
    gpu.engine.tuning = defaults;
  }
});

it('caches the result per adapter and applies a cached entry without timing, the shared GEMM\'s variants included', async () => {
  const gpu = await backend();
  const dir = mkdtempSync(join(tmpdir(), 'convgpu-autotune-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = dir;
  try {
    const e = gpu.engine;
    const first = await cachedAutotune(e);
    expect(first.fromCache).toBe(false);
    const file = join(dir, 'convgpu', 'tuning.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Tuning>;
    expect(stored[adapterKey(e.adapterInfo)]).toEqual(first.tuning);
    e.tuning = defaultTuning(e.adapterInfo.isFallbackAdapter, e.adapterInfo.architecture, e.adapterInfo.subgroupSize);
    const again = await cachedAutotune(e);
    expect(again.fromCache).toBe(true);
    expect(again.timings).toEqual({});
    expect(e.tuning).toMatchObject({ tiled: first.tuning.tiled, conv: first.tuning.conv, gemm: first.tuning.gemm, gemmRows: first.tuning.gemmRows });
    // An entry a GPU wrote: its K step, vec4 fetches and staging buffers come back too.
    const gpuEntry: Tuning = { ...first.tuning, gemm: 'shared', gemmTileK: 16, gemmVec4: true, gemmStages: 2 };
    writeFileSync(file, JSON.stringify({ [adapterKey(e.adapterInfo)]: gpuEntry }));
    await cachedAutotune(e);
    expect(e.tuning).toMatchObject({ gemm: 'shared', gemmTileK: 16, gemmVec4: true, gemmStages: 2 });
    // An entry out of range (edited, or from another version) is timed again, not applied.
    writeFileSync(file, JSON.stringify({ [adapterKey(e.adapterInfo)]: { ...first.tuning, conv: { WG_X: 0, WG_Y: 2 } } }));
    const quick = { reps: 1, gemmSize: 64 };
    const redone = await cachedAutotune(e, quick);
    expect(redone.fromCache).toBe(false);
    expect(e.tuning.conv.WG_X).toBeGreaterThan(0);
    // And a file that is not JSON at all.
    writeFileSync(file, '{ not json');
    expect((await cachedAutotune(e, quick)).fromCache).toBe(false);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the default kernels follow the adapter: subgroup kernels need a fixed subgroup size of 4 or 8', () => {
  expect(defaultTuning(true, 'llvmpipe', 8)).toMatchObject({ gemm: 'subgroup', subgroupSize: 8, sgRows: 2 });
  expect(defaultTuning(true, 'swiftshader', 4)).toMatchObject({ gemm: 'subgroup', subgroupSize: 4, sgRows: 4 });
  expect(defaultTuning(true, 'swiftshader', 0)).toMatchObject({ gemm: 'registers', gemmRows: 8 });
  expect(defaultTuning(true, 'llvmpipe', 16).gemm).toBe('registers');
  expect(defaultTuning(false, 'ampere', 32).gemm).toBe('shared');
});

it('a subgroup tuning on an adapter whose subgroups the kernels do not fit takes another GEMM kernel', async () => {
  const gpu = await backend();
  try {
    const e = gpu.engine;
    const g = { batch: 1, m: 33, n: 21, k: 17, transA: false, transB: false, broadcastB: false };
    for (const subgroupSize of [32, 64, 16]) {
      e.tuning = { ...defaultTuning(false), gemm: 'subgroup', sgRows: 1, subgroupSize };
      expect(gemmDispatch(e, g, e.dummy, e.dummy, e.dummy).kernel.name).not.toBe('gemm.subgroup');
    }
  } finally {
    gpu.engine.tuning = defaults;
  }
});
