// Seeded shuffling and mini-batching over a Dataset, plus whole-image shifts for
// measuring how a model copes with translation.
import { AttributeError } from '../errors.js';
import { seedInt } from '../shape.js';
import type { Dataset } from './mnist.js';
import { mulberry32 } from './rng.js';

export interface Batch {
  /** size·C·H·W pixels, NCHW. */
  x: Float32Array;
  /** size labels as f32 class indices (what the softmax cross-entropy op takes). */
  y: Float32Array;
  /** Examples in this batch (the last one may be short unless dropLast). */
  size: number;
  /** Dataset indices of the examples, in batch order. */
  indices: Uint32Array;
}

export interface BatchOptions {
  /** Skip a final batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** A permutation of 0..n-1: Fisher–Yates driven by mulberry32(seed). */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new AttributeError(`shuffledIndices: n must be an integer in [0, 2³²), got ${String(n)}.`);
  }
  seedInt('shuffledIndices', seed);
  const rand = mulberry32(seed);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}

/**
 * One epoch of mini-batches in a seeded random order; every example appears once
 * (the short tail is skipped with dropLast). Use a different seed per epoch.
 */
export function* batches(
  ds: Dataset,
  batchSize: number,
  seed: number,
  opts: BatchOptions = {},
): Generator<Batch, void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new AttributeError(`batches: batchSize must be a positive integer, got ${String(batchSize)}.`);
  }
  const per = exampleSize(ds);
  const order = shuffledIndices(ds.n, seed);
  for (let start = 0; start < ds.n; start += batchSize) {
    const size = Math.min(batchSize, ds.n - start);
    if (size < batchSize && opts.dropLast) return;
    const indices = order.subarray(start, start + size);
    const x = new Float32Array(size * per);
    const y = new Float32Array(size);
    for (let b = 0; b < size; b++) {
      const i = indices[b]!;
      x.set(ds.images.subarray(i * per, (i + 1) * per), b * per);
      y[b] = ds.labels[i]!;
    }
    yield { x, y, size, indices };
  }
}

/**
 * Every image moved by (dx, dy) whole pixels: +dx right, +dy down. Pixels shifted in
 * from outside are 0 (background); pixels shifted out are lost.
 */
export function shiftImages(ds: Dataset, dx: number, dy: number): Dataset {
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) {
    throw new AttributeError(`shiftImages: dx and dy must be integers, got dx=${dx}, dy=${dy}.`);
  }
  const [c, h, w] = ds.shape;
  const out = new Float32Array(ds.images.length);
  // Destination columns/rows whose source lies inside the image.
  const x0 = Math.max(0, dx);
  const x1 = Math.min(w, w + dx);
  const y0 = Math.max(0, dy);
  const y1 = Math.min(h, h + dy);
  for (let plane = 0; plane < ds.n * c; plane++) {
    const base = plane * h * w;
    for (let y = y0; y < y1; y++) {
      const dst = base + y * w;
      const src = base + (y - dy) * w - dx;
      for (let x = x0; x < x1; x++) out[dst + x] = ds.images[src + x]!;
    }
  }
  // Labels do not change, so the new Dataset shares them.
  return { images: out, labels: ds.labels, n: ds.n, shape: [...ds.shape] };
}

function exampleSize(ds: Dataset): number {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  if (ds.images.length !== ds.n * per || ds.labels.length !== ds.n) {
    throw new AttributeError(
      `batches: dataset holds ${ds.images.length} pixels and ${ds.labels.length} labels; ` +
        `n=${ds.n} examples of shape [${ds.shape.join(', ')}] need ${ds.n * per} and ${ds.n}.`,
    );
  }
  return per;
}
