// Inverted dropout with a hashed mask that the backward pass recomputes.
import wgsl from '../../shaders/dropout/dropout.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import { grid1d } from './dispatch.js';

export const dropoutKernel = { name: 'dropout', code: wgsl };

/** Same mixing as dropout.wgsl's hash (lowbias32), so the CPU reference draws the same mask. */
export function dropoutHash(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Whether element i is kept for this seed (u ≥ p). */
export function dropoutKeep(i: number, seed: number, p: number): boolean {
  const u = (dropoutHash((i ^ dropoutHash(seed)) >>> 0) >>> 8) / 16777216;
  return u >= Math.fround(p);
}

export function dropoutParams(total: number, seed: number, p: number): ArrayBuffer {
  return new Params().u32(total, seed >>> 0).f32(p).buffer();
}

/** Forward (t = x) or backward (t = dy); the same seed gives the same mask. */
export function dropoutDispatch(engine: Engine, total: number, t: Binding, out: Binding, seed: number, p: number): Dispatch {
  const WG = engine.tuning.pointwise;
  return { kernel: dropoutKernel, constants: { WG }, buffers: [t, out], params: dropoutParams(total, seed, p), workgroups: grid1d(engine, total, WG) };
}
