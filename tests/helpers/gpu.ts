// One WebGPU backend per test file. No adapter is a hard failure, never a skip.
import { WebGpuBackend } from '../../src/backend.js';
import type { Tuning } from '../../src/ops/tuning.js';

export async function gpuBackend(tuning?: Partial<Tuning>): Promise<WebGpuBackend> {
  try {
    return await WebGpuBackend.create(tuning ? { tuning } : {});
  } catch (e) {
    throw new Error(`NO WEBGPU ADAPTER — the GPU tests cannot run, and this is a failure, not a skip.\n${String(e)}`);
  }
}
