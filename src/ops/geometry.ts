// Shape rules shared by the GPU ops and the CPU reference: one place that turns
// (input shape, weight shape, attrs) into the resolved geometry, or a clear error.
import { AttributeError, ShapeError, fmtShape } from '../errors.js';
import { checkRank, nonNegInt, pair, posInt, type Shape } from '../shape.js';

/** `same` pads so that out = ceil(in / stride) (TF convention, extra pad at bottom/right). */
export type Padding = number | readonly [number, number] | readonly [number, number, number, number] | 'same' | 'valid';

export interface Conv2dAttrs {
  /** Stride, one number or [h, w]. Default 1. */
  stride?: number | readonly [number, number];
  /** Padding: n, [h, w], [top, bottom, left, right], 'same' or 'valid'. Default 0. */
  padding?: Padding;
  /** Dilation, one number or [h, w]. Default 1. */
  dilation?: number | readonly [number, number];
  /** Groups: in and out channels split into this many independent convolutions. Default 1. */
  groups?: number;
}

export interface Window2d {
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilH: number;
  dilW: number;
  kh: number;
  kw: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
}

/** Resolved conv2d geometry. Layouts: x NCHW, w OIHW with I = C / groups, y NCHW. */
export interface Conv2dGeom extends Window2d {
  n: number;
  c: number;
  o: number;
  groups: number;
  /** Input channels per group. */
  cg: number;
  /** Output channels per group. */
  og: number;
}

function resolvePadding(
  op: string,
  padding: Padding | undefined,
  h: number,
  w: number,
  k: [number, number],
  stride: [number, number],
  dil: [number, number],
): [number, number, number, number] {
  if (padding === undefined || padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const oh = Math.ceil(h / stride[0]);
    const ow = Math.ceil(w / stride[1]);
    const th = Math.max((oh - 1) * stride[0] + (k[0] - 1) * dil[0] + 1 - h, 0);
    const tw = Math.max((ow - 1) * stride[1] + (k[1] - 1) * dil[1] + 1 - w, 0);
    return [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  }
  if (typeof padding === 'number') {
    const p = nonNegInt(op, 'padding', padding);
    return [p, p, p, p];
  }
  if (Array.isArray(padding) && padding.length === 2) {
    const [ph, pw] = pair(op, 'padding', padding as [number, number], nonNegInt);
    return [ph, ph, pw, pw];
  }
  if (Array.isArray(padding) && padding.length === 4) {
    return [0, 1, 2, 3].map((i) => nonNegInt(op, `padding[${i}]`, padding[i])) as [number, number, number, number];
  }
  throw new AttributeError(
    `${op}: padding must be a number, [h, w], [top, bottom, left, right], 'same' or 'valid'; got ${JSON.stringify(padding)}.`,
  );
}

function window2d(
  op: string,
  what: string,
  h: number,
  w: number,
  k: [number, number],
  attrs: { stride?: number | readonly [number, number]; padding?: Padding; dilation?: number | readonly [number, number] },
  defaultStride: [number, number],
): Window2d {
  const [strideH, strideW] = attrs.stride === undefined ? defaultStride : pair(op, 'stride', attrs.stride);
  const [dilH, dilW] = attrs.dilation === undefined ? [1, 1] : pair(op, 'dilation', attrs.dilation);
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(op, attrs.padding, h, w, k, [strideH, strideW], [dilH, dilW]);
  const effH = (k[0] - 1) * dilH + 1;
  const effW = (k[1] - 1) * dilW + 1;
  const oh = Math.floor((h + padTop + padBottom - effH) / strideH) + 1;
  const ow = Math.floor((w + padLeft + padRight - effW) / strideW) + 1;
  if (oh < 1 || ow < 1) {
    throw new ShapeError(
      `${op}: ${what} ${k[0]}×${k[1]} (dilated ${effH}×${effW}) is larger than the padded input ` +
        `${h + padTop + padBottom}×${w + padLeft + padRight}; use a smaller kernel, more padding, or a larger input.`,
    );
  }
  return { strideH, strideW, padTop, padBottom, padLeft, padRight, dilH, dilW, kh: k[0], kw: k[1], h, w, oh, ow };
}

/** Re-throws an attribute or shape error with the operand shapes appended. */
function withShapes<T>(shapes: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AttributeError) throw new AttributeError(`${e.message} (${shapes})`);
    if (e instanceof ShapeError) throw new ShapeError(`${e.message} (${shapes})`);
    throw e;
  }
}

export function conv2dGeom(xShape: Shape, wShape: Shape, attrs: Conv2dAttrs = {}, op = 'conv2d'): Conv2dGeom {
  checkRank(op, 'input x', xShape, 4, 'NCHW');
  checkRank(op, 'weight w', wShape, 4, 'OIHW');
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [o, wi, kh, kw] = wShape as [number, number, number, number];
  const shapes = `x ${fmtShape(xShape)}, w ${fmtShape(wShape)}`;
  const groups = attrs.groups === undefined ? 1 : withShapes(shapes, () => posInt(op, 'groups', attrs.groups));
  if (c % groups !== 0 || o % groups !== 0) {
    throw new AttributeError(
      `${op}: groups=${groups} must divide both input channels (${c}, x ${fmtShape(xShape)}) and output channels (${o}, w ${fmtShape(wShape)}); use a groups that divides both.`,
    );
  }
  if (wi !== c / groups) {
    throw new ShapeError(
      `${op}: weight ${fmtShape(wShape)} has ${wi} input channels, but x ${fmtShape(xShape)} with groups=${groups} needs ${c / groups}; weights are OIHW with I = C / groups.`,
    );
  }
  const win = withShapes(shapes, () => window2d(op, 'kernel', h, w, [kh, kw], attrs, [1, 1]));
  return { ...win, n, c, o, groups, cg: c / groups, og: o / groups };
}

export interface Pool2dAttrs {
  /** Window size, one number or [h, w]. */
  kernelSize: number | readonly [number, number];
  /** Stride, one number or [h, w]. Default: the window size. */
  stride?: number | readonly [number, number];
  /** Padding: n, [h, w], [top, bottom, left, right], 'same' or 'valid'. Must be smaller than the window. */
  padding?: Padding;
}

export interface Pool2dGeom extends Window2d {
  n: number;
  c: number;
}

export function pool2dGeom(xShape: Shape, attrs: Pool2dAttrs, op: string): Pool2dGeom {
  checkRank(op, 'input x', xShape, 4, 'NCHW');
  if (attrs === undefined || attrs.kernelSize === undefined) {
    throw new AttributeError(`${op}: kernelSize is required, e.g. { kernelSize: 2 } (x ${fmtShape(xShape)}).`);
  }
  const [n, c, h, w] = xShape as [number, number, number, number];
  const k = withShapes(`x ${fmtShape(xShape)}`, () => pair(op, 'kernelSize', attrs.kernelSize));
  const win = withShapes(`x ${fmtShape(xShape)}`, () => window2d(op, 'window', h, w, k, { stride: attrs.stride, padding: attrs.padding }, k));
  if (Math.max(win.padTop, win.padBottom) >= k[0] || Math.max(win.padLeft, win.padRight) >= k[1]) {
    throw new AttributeError(
      `${op}: padding [${win.padTop}, ${win.padBottom}, ${win.padLeft}, ${win.padRight}] must be smaller than the window ${k[0]}×${k[1]}, ` +
        `so that no window is all padding; use less padding or a larger window (x ${fmtShape(xShape)}).`,
    );
  }
  return { ...win, n, c };
}

/** GEMM geometry: C[b] (M×N) = op(A[b]) (M×K) · op(B[b]) (K×N). A and B are [M,K]/[K,M] or batched [B,…]. */
export interface GemmGeom {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** B has no batch dimension and is shared by every batch of A. */
  broadcastB: boolean;
}

export interface GemmAttrs {
  transA?: boolean;
  transB?: boolean;
}

export function gemmGeom(aShape: Shape, bShape: Shape, attrs: GemmAttrs = {}, op = 'matmul'): GemmGeom {
  const transA = attrs.transA === true;
  const transB = attrs.transB === true;
  for (const [what, s] of [['a', aShape], ['b', bShape]] as const) {
    checkRank(op, what, s, s.length === 3 ? 3 : 2, '[M, K] or [batch, M, K]');
  }
  if (bShape.length === 3 && aShape.length !== 3) {
    throw new ShapeError(`${op}: b ${fmtShape(bShape)} is batched but a ${fmtShape(aShape)} is not; batch a too.`);
  }
  const batch = aShape.length === 3 ? aShape[0]! : 1;
  if (bShape.length === 3 && bShape[0] !== batch) {
    throw new ShapeError(
      `${op}: batch sizes differ: a ${fmtShape(aShape)}, b ${fmtShape(bShape)}; give b the batch of a, or make b 2-D to share it across the batch.`,
    );
  }
  const a2 = aShape.slice(-2) as [number, number];
  const b2 = bShape.slice(-2) as [number, number];
  const [m, ka] = transA ? [a2[1], a2[0]] : a2;
  const [kb, n] = transB ? [b2[1], b2[0]] : b2;
  if (ka !== kb) {
    throw new ShapeError(
      `${op}: inner dimensions differ: a ${fmtShape(aShape)}${transA ? 'ᵀ' : ''} has K=${ka}, b ${fmtShape(bShape)}${transB ? 'ᵀ' : ''} has K=${kb}; ` +
        'make the K dimensions equal, or set transA / transB for an operand stored transposed.',
    );
  }
  return { batch, m, n, k: ka, transA, transB, broadcastB: bShape.length === 2 && batch > 1 };
}

export function gemmOutShape(g: GemmGeom, batched: boolean): number[] {
  return batched ? [g.batch, g.m, g.n] : [g.m, g.n];
}
