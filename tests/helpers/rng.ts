// Seeded random numbers for tests: mulberry32, so every run sees the same inputs.
import { sizeOf } from '../../src/shape.js';
import type { HostTensor } from '../../src/reference/tensor.js';

/** Uniform in [0, 1), from a 32-bit seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a seeded uniform source. */
export function randn(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** A tensor of uniform values in [lo, hi). */
export function randomHost(shape: readonly number[], seed: number, lo = -1, hi = 1): HostTensor {
  const u = rng(seed);
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * u();
  return { shape: [...shape], data };
}
