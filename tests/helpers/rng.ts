// Seeded random numbers for tests: mulberry32, so every run sees the same inputs.
import { mulberry32 } from '../../src/data/rng.js';
import { sizeOf } from '../../src/shape.js';
import type { HostTensor } from '../../src/reference/tensor.js';

/** Uniform in [0, 1), from a 32-bit seed: the library's own generator. */
export const rng = mulberry32;

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
