// One WebGPU backend per test file. No adapter is a hard failure, never a skip.
import { WebGpuBackend } from '../../src/backend.js';

export async function gpuBackend(): Promise<WebGpuBackend> {
  try {
    return await WebGpuBackend.create();
  } catch (e) {
    throw new Error(`NO WEBGPU ADAPTER — the GPU tests cannot run, and this is a failure, not a skip.\n${String(e)}`);
  }
}
