// The suite in Node on Dawn, bundled by Vite (bench/vite.node.config.ts) so that TF.js runs
// from its ES modules with its gradients registered, as in the page; tfjs-core's Node build
// has no gradient functions. TF.js webgpu gets a Dawn instance made after convgpu's engine,
// so that both see the same Vulkan ICD, and so the same adapter, with the same Dawn flags
// (timestamps unrounded for tf.time too).
import * as os from 'node:os';
import { dawnFlags } from '../../src/runtime/device.js';
import { Engine } from '../../src/runtime/engine.js';
import { convgpuTuning, initTfjs, runSuite, suiteItems, tfjsInfo } from '../lib/suite.js';
import type { BackendId, BenchConfig, BenchEvent, PageInfo } from '../lib/types.js';

export async function runNodeSuite(config: BenchConfig, emit: (e: BenchEvent) => void, wasmDir: string): Promise<void> {
  const t0 = performance.now();
  const engine = await Engine.create({ autotune: config.autotune, tuning: config.tuning });
  const dawn = (await import('webgpu')) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, dawn.globals);
  // NOTE: tfjs-backend-webgpu registers itself at import time only if navigator.gpu exists.
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create(dawnFlags()), hardwareConcurrency: os.cpus().length }, configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-webgpu');
  const tfwasm = await import('@tensorflow/tfjs-backend-wasm');
  tfwasm.setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
  const { ok, errors } = await initTfjs(tf, ['webgpu', 'wasm', 'cpu'].filter((n) => !config.tfjs || config.tfjs.includes(n)));
  const wasmThreads = ok.includes('wasm') ? tfwasm.getThreadsCount() : undefined;
  const { items, gpuNote } = suiteItems(config, engine);
  const info: PageInfo = {
    adapter: engine.describe(),
    adapterInfo: { ...engine.adapterInfo },
    hasTimestamps: engine.hasTimestamps,
    tuning: convgpuTuning(config, engine),
    ...tfjsInfo(tf, ok),
    wasmThreads,
    wasmThreadsNote:
      wasmThreads === undefined ? undefined : `getThreadsCount() = ${wasmThreads}: tfjs-backend-wasm runs single-threaded in Node (WASM_HAS_MULTITHREAD_SUPPORT is false there); ${os.cpus().length} cores`,
    hardwareConcurrency: os.cpus().length,
    backends: ['convgpu', 'reference', ...ok.map((n) => `tfjs-${n}` as BackendId)],
    backendErrors: errors,
    gpuNote,
  };
  emit({ type: 'info', info, items });
  await runSuite({ engine, tf, tfBackends: ok, config, emit }, items);
  engine.destroy();
  emit({ type: 'done', elapsedMs: performance.now() - t0 });
}
