// Random affine augmentation: each image is rotated about its centre and shifted by a
// small random amount, then resampled bilinearly, on the CPU.
// Why the CPU: the batch is built on the host and uploaded anyway, so augmenting here
// needs no GPU readback and no extra kernel; for 28×28 images it costs little.
import { mat3, vec2 } from 'gl-matrix';
import { AttributeError } from '../errors.js';

export interface AugmentOptions {
  /** Largest shift in pixels along each axis; drawn uniformly in ±maxShift (default 2). */
  maxShift?: number;
  /** Largest rotation in degrees; drawn uniformly in ±maxRotationDeg (default 10). */
  maxRotationDeg?: number;
}

/**
 * A new batch in which each of the n images (NCHW; C = x.length / (n·h·w), all channels
 * of an image moved alike) is rotated and shifted at random. Draws three numbers from
 * `rng` per image (angle, dx, dy), so a seeded rng gives a reproducible batch.
 * Pixels that come from outside the image are 0.
 */
export function augmentBatch(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  rng: () => number,
  opts: AugmentOptions = {},
): Float32Array {
  const maxShift = opts.maxShift ?? 2;
  const maxRot = ((opts.maxRotationDeg ?? 10) * Math.PI) / 180;
  for (const [k, v] of [['n', n], ['h', h], ['w', w]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new AttributeError(`augmentBatch: ${k} must be a positive integer, got ${String(v)}.`);
    }
  }
  const plane = h * w;
  const c = x.length / (n * plane);
  if (!Number.isInteger(c) || c < 1) {
    throw new AttributeError(
      `augmentBatch: x holds ${x.length} values, not a whole number of ${n}×C×${h}×${w} images.`,
    );
  }
  // Infinite or overflowing settings would give blank images (or a stale matrix where its inverse fails).
  if (!(maxShift >= 0 && Number.isFinite(maxShift)) || !(maxRot >= 0 && Number.isFinite(maxRot))) {
    throw new AttributeError(`augmentBatch: maxShift and maxRotationDeg must be finite non-negative numbers, got ${opts.maxShift} and ${opts.maxRotationDeg}.`);
  }

  const out = new Float32Array(x.length);
  // Float64 matrices: gl-matrix's default Float32Array would round the inverse.
  const fwd = new Float64Array(9);
  const inv = new Float64Array(9);
  const p = new Float64Array(2);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let i = 0; i < n; i++) {
    const theta = (2 * rng() - 1) * maxRot;
    const tx = (2 * rng() - 1) * maxShift;
    const ty = (2 * rng() - 1) * maxShift;
    // fwd = T(centre + shift) · R(θ) · T(−centre): rotate about the centre, then shift.
    mat3.fromTranslation(fwd, [cx + tx, cy + ty]);
    mat3.rotate(fwd, fwd, theta);
    mat3.translate(fwd, fwd, [-cx, -cy]);
    // Map each output pixel back to its source (inverse mapping), so no output pixel is
    // left unfilled, as forward splatting would leave some.
    mat3.invert(inv, fwd);
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      for (let oy = 0; oy < h; oy++) {
        for (let ox = 0; ox < w; ox++) {
          p[0] = ox;
          p[1] = oy;
          vec2.transformMat3(p, p, inv);
          out[base + oy * w + ox] = bilinear(x, base, h, w, p[0]!, p[1]!);
        }
      }
    }
  }
  return out;
}

/** Bilinear sample of one plane at (sx, sy); neighbours outside the image count as 0. */
function bilinear(x: Float32Array, base: number, h: number, w: number, sx: number, sy: number): number {
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  const at = (xx: number, yy: number): number =>
    xx >= 0 && xx < w && yy >= 0 && yy < h ? x[base + yy * w + xx]! : 0;
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
    fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}
