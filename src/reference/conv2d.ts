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

/**
 * Visits every (output, input, weight) triple of the convolution:
 * y[n, o, oh, ow] += x[n, grp*cg + c, ih, iw] · w[o, c, kh, kw] with ih = oh*sh − padTop + kh*dh
 * (same for iw). Taps that land in the padding are skipped, i.e. the input there is 0.
 * The forward and both backward passes are this one loop with a different body.
 */
function forEachTap(
  g: Conv2dGeom,
  body: (n: number, o: number, oh: number, ow: number, ci: number, c: number, ih: number, iw: number, kh: number, kw: number) => void,
): void {
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      const grp = Math.floor(o / g.og);
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) {
          for (let c = 0; c < g.cg; c++) {
            for (let kh = 0; kh < g.kh; kh++) {
              const ih = oh * g.strideH - g.padTop + kh * g.dilH;
              if (ih < 0 || ih >= g.h) continue;
              for (let kw = 0; kw < g.kw; kw++) {
                const iw = ow * g.strideW - g.padLeft + kw * g.dilW;
                if (iw < 0 || iw >= g.w) continue;
                body(n, o, oh, ow, grp * g.cg + c, c, ih, iw, kh, kw);
              }
            }
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
  forEachTap(g, (n, o, oh, ow, ci, c, ih, iw, kh, kw) => {
    y.data[at(y.shape, n, o, oh, ow)] += x.data[at(x.shape, n, ci, ih, iw)]! * w.data[at(w.shape, o, c, kh, kw)]!;
  });
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
  forEachTap(g, (n, o, oh, ow, ci, c, ih, iw, kh, kw) => {
    dx.data[at(dx.shape, n, ci, ih, iw)] += dy.data[at(dy.shape, n, o, oh, ow)]! * w.data[at(w.shape, o, c, kh, kw)]!;
  });
  return dx;
}

/** dw[o, c, kh, kw] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, grp*cg + c, ih, iw]. */
export function conv2dBackwardFilter(x: HostTensor, dy: HostTensor, wShape: number[], attrs: Conv2dAttrs = {}): HostTensor {
  const g = conv2dGeom(x.shape, wShape, attrs, 'conv2dBackwardFilter');
  checkDy('conv2dBackwardFilter', dy, g);
  const dw = hostZeros(wShape);
  forEachTap(g, (n, o, oh, ow, ci, c, ih, iw, kh, kw) => {
    dw.data[at(dw.shape, o, c, kh, kw)] += dy.data[at(dy.shape, n, o, oh, ow)]! * x.data[at(x.shape, n, ci, ih, iw)]!;
  });
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
