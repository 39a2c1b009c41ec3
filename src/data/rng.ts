// Seeded uniform random numbers. mulberry32: 32 bits of state, fast, and good enough
// for shuffling and augmentation; the same seed gives the same stream on every platform.

/** A generator of uniform numbers in [0, 1) from a 32-bit seed (the seed is taken mod 2³²). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
