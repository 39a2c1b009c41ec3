// dawn.node's polling, paced on CPU-emulated adapters (src/runtime/dawn-pacer.ts): other
// setImmediate callers see no change, and a long wait leaves the emulator the CPU.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gemmDispatch } from '../src/ops/gemm.js';
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
