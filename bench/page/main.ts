// The benchmark page: convgpu's engine and TF.js's webgpu, wasm and cpu backends in one
// page, the suite run item by item, each result sent to the runner (bench/run.ts) through
// window.__benchEvent as soon as it exists, so a run cut short still reports what it had.
import * as tf from '@tensorflow/tfjs-core';
// NOTE: tfjs-core alone registers no gradients (the @tensorflow/tfjs union package does this).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { Engine } from '../../src/runtime/engine.js';
import { convgpuTuning, initTfjs, runSuite, suiteItems, tfjsInfo } from '../lib/suite.js';
import type { BackendId, BenchConfig, BenchEvent, PageInfo } from '../lib/types.js';

declare global {
  interface Window {
    /** Set by the runner (puppeteer's exposeFunction). */
    __benchEvent?: (json: string) => Promise<void>;
    /** Set by the runner before the page loads. */
    __benchConfig?: BenchConfig;
  }
}

const logEl = document.getElementById('log')!;

function emit(e: BenchEvent): void {
  if (e.type === 'log') logEl.textContent += `${e.text}\n`;
  if (e.type === 'cell') logEl.textContent += `  ${e.cell.backend}: ${e.cell.status} ${e.cell.wall ? `${e.cell.wall.median.toFixed(2)} ms` : (e.cell.note ?? '')}\n`;
  if (e.type === 'pair') logEl.textContent += `  head to head with ${e.pair.b}: ×${e.pair.ratio.median.toFixed(2)} over ${e.pair.rounds} rounds\n`;
  if (e.type === 'error') logEl.textContent += `ERROR ${e.message}\n`;
  void window.__benchEvent?.(JSON.stringify(e));
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const q = new URLSearchParams(location.search);
  const config: BenchConfig = window.__benchConfig ?? { quick: q.has('quick'), gpu: q.has('gpu'), deadline: Date.now() + 3_600_000, seed: 1 };

  const engine = await Engine.create({ autotune: config.autotune, tuning: config.tuning });
  tfwasm.setWasmPaths(new URL('wasm/', location.href).href);
  const { ok, errors } = await initTfjs(tf, ['webgpu', 'wasm', 'cpu'].filter((n) => !config.tfjs || config.tfjs.includes(n)));
  let wasmThreads: number | undefined;
  let wasmThreadsNote: string | undefined;
  if (ok.includes('wasm')) {
    wasmThreads = tfwasm.getThreadsCount();
    const threaded = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    wasmThreadsNote =
      `getThreadsCount() = ${wasmThreads}; binary: ${threaded ? 'threaded-simd' : simd ? 'simd (no threads)' : 'plain'}; ` +
      `navigator.hardwareConcurrency = ${navigator.hardwareConcurrency}, so hardwareConcurrency/2 = ${Math.max(1, Math.floor(navigator.hardwareConcurrency / 2))}; crossOriginIsolated = ${crossOriginIsolated}`;
  }
  const { items, gpuNote } = suiteItems(config, engine);
  const info: PageInfo = {
    adapter: engine.describe(),
    adapterInfo: { ...engine.adapterInfo },
    hasTimestamps: engine.hasTimestamps,
    tuning: convgpuTuning(config, engine),
    ...tfjsInfo(tf, ok),
    wasmThreads,
    wasmThreadsNote,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated,
    userAgent: navigator.userAgent,
    backends: ['convgpu', 'reference', ...ok.map((n) => `tfjs-${n}` as BackendId)],
    backendErrors: errors,
    gpuNote,
  };
  emit({ type: 'info', info, items });
  await runSuite({ engine, tf, tfBackends: ok, config, emit }, items);
  engine.destroy();
  emit({ type: 'done', elapsedMs: performance.now() - t0 });
}

main().catch((e: unknown) => emit({ type: 'error', message: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) }));
