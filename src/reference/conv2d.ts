// CPU reference for 2-D convolution (cross-correlation, as in every DL framework), float64.
// Layouts: x NCHW, w OIHW with I = C / groups, y NCHW.
import { ShapeError, fmtShape } from '../errors.js';
import { conv2dGeom, type Conv2dAttrs, type Conv2dGeom } from '../ops/geometry.js';
import { checkRank, sameShape } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

/** Row-major offset of [a, b, c, d] in a rank-4 tensor of shape s. */
function at(s: readonly number[], a: number, b: number, c: number, d: number): number {
  return ((a * s[1]! + b) * s[2]! + c) * s[3]! + d;
}

function checkDy(op: string, dy: HostTensor, g: Conv2dGeom): void {
  const want = [g.n, g.o, g.oh, g.ow];
  if (!sameShape(dy.shape, want)) {
    throw new ShapeError(`${op}: dy ${fmtShape(dy.shape)} must be [N, O, OH, OW] = ${fmtShape(want)}.`);
  }
}

/** The outputs o in [lo, hi) of an axis whose tap i = o·stride + shift lands inside [0, size). */
function inside(size: number, outSize: number, stride: number, shift: number): [number, number] {
  const lo = shift >= 0 ? 0 : Math.ceil(-shift / stride);
  return [lo, Math.min(outSize, Math.floor((size - 1 - shift) / stride) + 1)];
}

/**
 * Every (output, input, weight) triple of the convolution:
 * y[n, o, oh, ow] += x[n, grp*cg + c, ih, iw] · w[o, c, kh, kw] with ih = oh*sh − padTop + kh*dh
 * (same for iw). Taps that land in the padding are skipped, i.e. the input there is 0.
 * The forward and both backward passes are this one loop with a different innermost line:
 * `pass` says which of y, x, w it accumulates into (the other two are read). NOTE: a callback
 * per tap instead ran at 0.1 GFLOP/s, most of the time verify spent on a deep model.
 */
function taps(g: Conv2dGeom, pass: 'y' | 'x' | 'w', y: Float64Array, x: Float64Array, w: Float64Array): void {
  const sw = g.strideW;
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      const grp = Math.floor(o / g.og);
      for (let c = 0; c < g.cg; c++) {
        const ci = grp * g.cg + c;
        for (let kh = 0; kh < g.kh; kh++) {
          for (let kw = 0; kw < g.kw; kw++) {
            const wAt = ((o * g.cg + c) * g.kh + kh) * g.kw + kw;
            const shiftH = kh * g.dilH - g.padTop; // ih = oh·sh + shiftH
            const shiftW = kw * g.dilW - g.padLeft; // iw = ow·sw + shiftW
            const [ohLo, ohHi] = inside(g.h, g.oh, g.strideH, shiftH);
            const [owLo, owHi] = inside(g.w, g.ow, sw, shiftW);
            let dw = 0;
            for (let oh = ohLo; oh < ohHi; oh++) {
              const yRow = ((n * g.o + o) * g.oh + oh) * g.ow;
              const xRow = ((n * g.c + ci) * g.h + oh * g.strideH + shiftH) * g.w + shiftW;
              if (pass === 'y') for (let ow = owLo; ow < owHi; ow++) y[yRow + ow] += x[xRow + ow * sw]! * w[wAt]!;
              else if (pass === 'x') for (let ow = owLo; ow < owHi; ow++) x[xRow + ow * sw] += y[yRow + ow]! * w[wAt]!;
              else for (let ow = owLo; ow < owHi; ow++) dw += y[yRow + ow]! * x[xRow + ow * sw]!;
            }
            if (pass === 'w') w[wAt] += dw;
          }
        }
      }
    }
  }
}

export function conv2d(
  x: HostTensor,
  w: HostTensor,
  attrs: Conv2dAttrs & { bias?: HostTensor; relu?: boolean } = {},
): HostTensor {
  const g = conv2dGeom(x.shape, w.shape, attrs, 'conv2d');
  const bias = attrs.bias;
  if (bias !== undefined && !sameShape(bias.shape, [g.o])) {
    throw new ShapeError(`conv2d: bias ${fmtShape(bias.shape)} must be [O] = ${fmtShape([g.o])} for w ${fmtShape(w.shape)}.`);
  }
  const y = hostZeros([g.n, g.o, g.oh, g.ow]);
  taps(g, 'y', y.data, x.data, w.data);
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) {
          const i = at(y.shape, n, o, oh, ow);
          const v = y.data[i]! + (bias === undefined ? 0 : bias.data[o]!);
          y.data[i] = attrs.relu === true ? Math.max(v, 0) : v;
        }
      }
    }
  }
  return y;
}

/** dx[n, ci, ih, iw] = Σ over every tap that read x[n, ci, ih, iw] of dy[n, o, oh, ow] · w[o, c, kh, kw]. */
export function conv2dBackwardInput(dy: HostTensor, w: HostTensor, xShape: number[], attrs: Conv2dAttrs = {}): HostTensor {
  const g = conv2dGeom(xShape, w.shape, attrs, 'conv2dBackwardInput');
  checkDy('conv2dBackwardInput', dy, g);
  const dx = hostZeros(xShape);
  taps(g, 'x', dy.data, dx.data, w.data);
  return dx;
}

/** dw[o, c, kh, kw] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, grp*cg + c, ih, iw]. */
export function conv2dBackwardFilter(x: HostTensor, dy: HostTensor, wShape: number[], attrs: Conv2dAttrs = {}): HostTensor {
  const g = conv2dGeom(x.shape, wShape, attrs, 'conv2dBackwardFilter');
  checkDy('conv2dBackwardFilter', dy, g);
  const dw = hostZeros(wShape);
  taps(g, 'w', dy.data, x.data, dw.data);
  return dw;
}

/** dbias[o] = Σ_{n, oh, ow} dy[n, o, oh, ow]. */
export function conv2dBackwardBias(dy: HostTensor): HostTensor {
  checkRank('conv2dBackwardBias', 'dy', dy.shape, 4, 'NCHW');
  const [n, o, oh, ow] = dy.shape as [number, number, number, number];
  const db = hostZeros([o]);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < o; c++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) db.data[c] += dy.data[at(dy.shape, b, c, i, j)]!;
      }
    }
  }
  return db;
}
