// Device limits lowered for a test: how the ops route work past limits this adapter does not
// reach at test sizes (the dispatch grid, a binding's bytes, its offset alignment).
import type { Engine } from '../../src/runtime/engine.js';

type Limit = 'maxComputeWorkgroupsPerDimension' | 'maxStorageBufferBindingSize' | 'minStorageBufferOffsetAlignment';

/**
 * Runs body with some of the engine's limits replaced, and puts them back after. Raise an
 * alignment only (to 256, WebGPU's largest): a lower one than the device's gives offsets it
 * rejects.
 */
export async function withLimits<R>(engine: Engine, overrides: Partial<Record<Limit, number>>, body: () => Promise<R> | R): Promise<R> {
  const saved = engine.limits;
  // GPUSupportedLimits holds its values in getters: copy them into a plain object first.
  const limits: Record<string, number> = {};
  for (const k in saved) limits[k] = (saved as unknown as Record<string, number>)[k]!;
  (engine as { limits: GPUSupportedLimits }).limits = { ...limits, ...overrides } as unknown as GPUSupportedLimits;
  try {
    return await body();
  } finally {
    (engine as { limits: GPUSupportedLimits }).limits = saved;
  }
}
