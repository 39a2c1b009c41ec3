// Seeded inputs, layout changes between convgpu (NCHW, OIHW, [out, in]) and TF.js
// (NHWC, HWIO, [in, out]), slices of NCHW tensors, and the error measure.
import { mulberry32 } from '../../src/data/rng.js';

/** Uniform values in [-1, 1) from a seed. */
export function randomArray(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * u() - 1;
  return out;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Reorders a dense row-major tensor: out[..] = x[perm-ordered index]. */
export function transpose(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    inStrides[d] = s;
    s *= shape[d]!;
  }
  const strides = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(s);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < s; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d]! * strides[d]!;
    out[o] = x[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

export const nchwToNhwc = (x: ArrayLike<number>, s: readonly number[]): Float32Array => transpose(x, s, [0, 2, 3, 1]);
/** s is the NHWC shape. */
export const nhwcToNchw = (x: ArrayLike<number>, s: readonly number[]): Float32Array => transpose(x, s, [0, 3, 1, 2]);
export const oihwToHwio = (w: ArrayLike<number>, s: readonly number[]): Float32Array => transpose(w, s, [2, 3, 1, 0]);
/** s is the HWIO shape. */
export const hwioToOihw = (w: ArrayLike<number>, s: readonly number[]): Float32Array => transpose(w, s, [3, 2, 0, 1]);

/** Samples [n0, n1) of an NCHW tensor (a contiguous range). */
export function sliceBatch(x: Float32Array, shape: readonly number[], n0: number, n1: number): Float32Array {
  const per = sizeOf(shape.slice(1));
  return x.slice(n0 * per, n1 * per);
}

/** The given indices of dim 1 (channels of NCHW, input channels of OIHW, rows of [1, M, N]), in that order, for every index of dim 0. */
export function gatherDim1(x: Float32Array, shape: readonly number[], idx: readonly number[]): Float32Array {
  const [n, c] = shape as [number, number];
  const plane = sizeOf(shape.slice(2));
  const out = new Float32Array(n * idx.length * plane);
  let at = 0;
  for (let i = 0; i < n; i++) {
    for (const j of idx) {
      out.set(x.subarray((i * c + j) * plane, (i * c + j + 1) * plane), at);
      at += plane;
    }
  }
  return out;
}

/**
 * About `count` of the indices 0..total−1 in three runs, at the start, the middle and the end,
 * so that a check on them reaches the first, a middle and the last workgroups; all of them
 * when total ≤ count.
 */
export function spread(total: number, count: number): number[] {
  if (total <= count) return Array.from({ length: total }, (_, i) => i);
  const lens = [Math.ceil(count / 3), Math.ceil((count - 1) / 3), Math.floor(count / 3)];
  const starts = [0, Math.floor((total - lens[1]!) / 2), total - lens[2]!];
  const set = new Set<number>();
  starts.forEach((s, r) => {
    for (let i = 0; i < lens[r]!; i++) set.add(s + i);
  });
  return [...set].sort((a, b) => a - b);
}

/** Indices as runs, e.g. "0–5, 509–513, 1018–1023". */
export function runsText(idx: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
    parts.push(i === j ? `${idx[i]}` : `${idx[i]}–${idx[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** The verify.ts measure: max |a − ref| / max |ref|; Infinity for a NaN or a length mismatch. */
export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    if (Number.isNaN(d)) return Infinity;
    maxAbs = Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return maxAbs / Math.max(scale, 1e-6);
}
