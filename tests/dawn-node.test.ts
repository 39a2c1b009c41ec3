// What convgpu does about dawn.node (the `webgpu` package) in particular: its polling, paced on
// CPU-emulated adapters (src/runtime/dawn-pacer.ts), where other setImmediate callers see no
// change and a long wait leaves the emulator the CPU; and its flags (device.ts dawnFlags), with
// timestamps left unrounded for GpuTimer.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend.js';
import { conv2dBwdInputDispatches, conv2dScratch } from '../src/ops/conv2d.js';
import { gemmDispatch } from '../src/ops/gemm.js';
import { maxPool2dFwdDispatch } from '../src/ops/maxpool2d.js';
import { conv2dGeom, pool2dGeom } from '../src/ops/geometry.js';
import { dawnFlags } from '../src/runtime/device.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import { paceDawnPolling } from '../src/runtime/dawn-pacer.js';
import { gpuBackend } from './helpers/gpu.js';

/** CPU seconds this process's main thread (the one running JS) has used: Linux /proc, fields 14 and 15 in clock ticks of 10 ms. */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('pacing dawn.node polling', () => {
  it('passes every other setImmediate through (arguments, util.promisify), and the last release restores it', async () => {
    const original = globalThis.setImmediate;
    const releaseA = paceDawnPolling();
    const releaseB = paceDawnPolling();
    expect(globalThis.setImmediate).not.toBe(original);
    expect(await new Promise((ok) => setImmediate((a: number, b: string) => ok([a, b]), 1, 'x'))).toEqual([1, 'x']);
    expect(await promisify(setImmediate)('value')).toBe('value');
    releaseA();
    releaseA(); // a second call of the same release counts once
    expect(globalThis.setImmediate).not.toBe(original);
    releaseB();
    expect(globalThis.setImmediate).toBe(original);
  });

  it('released under another setImmediate wrapper, it passes through, and a later install neither loops nor loses that wrapper', async () => {
    const original = globalThis.setImmediate;
    const seen: number[] = [];
    try {
      const release1 = paceDawnPolling();
      const below = globalThis.setImmediate;
      const wrapper = Object.assign((fn: (...a: unknown[]) => void, ...a: unknown[]) => (seen.push(1), below(fn, ...a)), below);
      globalThis.setImmediate = wrapper as typeof setImmediate;
      release1(); // cannot restore: the wrapper is on top
      expect(globalThis.setImmediate).toBe(wrapper);
      const release2 = paceDawnPolling();
      expect(await new Promise((ok) => setImmediate(ok, 'ran'))).toBe('ran');
      expect(seen.length).toBe(1);
      release2();
      expect(globalThis.setImmediate).toBe(wrapper);
      expect(await new Promise((ok) => setImmediate(ok, 'again'))).toBe('again');
    } finally {
      globalThis.setImmediate = original;
    }
    // With the chain put back by hand, the next install wraps Node's own again.
    const release3 = paceDawnPolling();
    expect(globalThis.setImmediate).not.toBe(original);
    release3();
    expect(globalThis.setImmediate).toBe(original);
  });

  it('on a CPU-emulated adapter, a long wait costs the JS thread little CPU (on a GPU, polling is left alone)', async () => {
    const original = globalThis.setImmediate;
    const gpu = await gpuBackend();
    const e = gpu.engine;
    try {
      if (!e.adapterInfo.isFallbackAdapter) {
        expect(globalThis.setImmediate).toBe(original);
        return;
      }
      expect(globalThis.setImmediate).not.toBe(original);
      const n = 512;
      const buf = () => e.empty([n * n]).buffer;
      const d = gemmDispatch(e, { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false }, buf(), buf(), buf());
      await e.run(d);
      await e.sync(); // compiled
      // Enough copies for a wait of about half a second, whatever the emulator's speed.
      let t0 = performance.now();
      await e.run(d);
      await e.sync();
      const copies = Math.max(1, Math.ceil(500 / Math.max(performance.now() - t0, 1)));
      t0 = performance.now();
      const cpu0 = mainThreadCpuSeconds();
      await e.run(...Array.from({ length: copies }, () => d));
      await e.sync();
      const wall = (performance.now() - t0) / 1000;
      const cpu = mainThreadCpuSeconds() - cpu0;
      console.log(`${copies} GEMMs ${n}³ in one wait: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s of JS-thread CPU`);
      // Spinning, the JS thread takes most of a core for the whole wait; paced, a poll a millisecond.
      expect(cpu).toBeLessThan(0.3 * wall);
    } finally {
      e.destroy();
    }
    expect(globalThis.setImmediate).toBe(original); // the engine released it
  });
});

describe('Dawn flags in Node', () => {
  it('turn timestamp_quantization off, alongside the flags CONVGPU_DAWN_FLAGS gives', () => {
    const off = 'disable-dawn-features=timestamp_quantization';
    expect(dawnFlags({})).toEqual([off]);
    expect(dawnFlags({ CONVGPU_DAWN_FLAGS: ' enable-dawn-features=dump_shaders ' })).toEqual(['enable-dawn-features=dump_shaders', off]);
    // dawn.node keeps one value per flag name: a second disable-dawn-features would replace the user's.
    expect(dawnFlags({ CONVGPU_DAWN_FLAGS: 'disable-dawn-features=lazy_clear_resource_on_first_use' })).toEqual([
      'disable-dawn-features=lazy_clear_resource_on_first_use,timestamp_quantization',
    ]);
    expect(dawnFlags({ CONVGPU_DAWN_FLAGS: 'disable-dawn-features=timestamp_quantization,x' })).toEqual(['disable-dawn-features=timestamp_quantization,x']);
  });

  it('GpuTimer gets timestamps to the nanosecond, not rounded down to 2¹⁶ ns (Dawn\'s default)', async () => {
    const gpu = await gpuBackend();
    const e = gpu.engine;
    try {
      if (!e.hasTimestamps) return; // GpuTimer times the wall clock there; nothing is rounded
      const shape = [2, 8, 28, 28];
      const x = e.tensor(Float32Array.from({ length: 2 * 8 * 28 * 28 }, (_, i) => (i % 13) / 13), shape);
      const y = e.empty([2, 8, 14, 14]);
      const d = maxPool2dFwdDispatch(e, pool2dGeom(shape, { kernelSize: 2 }, 'test'), x.buffer, y.buffer);
      const timer = new GpuTimer(e);
      const ns: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t = await timer.time([d]);
        if (t.source === 'timestamp') ns.push(Math.round(t.ms * 1e6));
      }
      timer.destroy();
      // Rounded, every timing was a whole number of 65,536 ns steps (on an H100, most were 0 or 1 step).
      expect(ns.length).toBeGreaterThan(0);
      expect(ns.filter((v) => v % 65536 !== 0).length, `timings in ns: ${ns.join(', ')}`).toBeGreaterThan(0);
    } finally {
      e.destroy();
    }
  });

  it("GpuTimer.timeEach gives each of an op's dispatches its own time, in order, and the op's output", async () => {
    const gpu = await gpuBackend();
    const e = gpu.engine;
    try {
      // conv2d's input gradient at stride 2: its dispatches (a GEMM and col2im here, or others
      // on other tunings) are what the bench breaks an op's GPU time into.
      const g = conv2dGeom([2, 3, 9, 9], [4, 3, 3, 3], { stride: 2 });
      const u = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const dy = e.tensor(u(2 * 4 * 4 * 4), [2, 4, 4, 4]), w = e.tensor(u(4 * 27), [4, 3, 3, 3]), dx = e.empty([2, 3, 9, 9]);
      const scratch = Object.fromEntries(Object.entries(conv2dScratch(e, g, 'bwdInput')).map(([k, f]) => [k, e.empty([f]).buffer]));
      const ds = conv2dBwdInputDispatches(e, g, dy.buffer, w.buffer, dx.buffer, scratch);
      expect(ds.length).toBeGreaterThan(1);
      const timer = new GpuTimer(e);
      const each = await timer.timeEach(ds);
      timer.destroy();
      if (!e.hasTimestamps) {
        expect(each).toBeNull();
        return;
      }
      expect(each!.map((k) => k.kernel)).toEqual(ds.map((d) => d.kernel.name));
      for (const k of each!) expect(k.ms, k.kernel).toBeGreaterThan(0);
      // The timed run is a real run: dx is the gradient.
      const want = await new CpuBackend().conv2dBackwardInput(new CpuBackend().tensor(u(2 * 4 * 4 * 4), [2, 4, 4, 4]), new CpuBackend().tensor(u(4 * 27), [4, 3, 3, 3]), [2, 3, 9, 9], { stride: 2 });
      const got = await dx.read();
      const ref = await want.read();
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!), `dx[${i}]`).toBeLessThan(1e-4);
    } finally {
      e.destroy();
    }
  });
});
