// CPU reference for 2-D max pooling, float64. Layout NCHW.
import { ShapeError, fmtShape } from '../errors.js';
import { pool2dGeom, type Pool2dAttrs, type Pool2dGeom } from '../ops/geometry.js';
import { sameShape } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

function at(s: readonly number[], a: number, b: number, c: number, d: number): number {
  return ((a * s[1]! + b) * s[2]! + c) * s[3]! + d;
}

/**
 * Offset in x of the winner of window (n, c, oh, ow): padding never wins (it is skipped,
 * as if -Infinity), and on ties the FIRST maximum in kh-outer, kw-inner order wins
 * (strict `>`). The GPU kernel follows the same rule, so gradients land on the same element.
 */
function argmax(x: HostTensor, g: Pool2dGeom, n: number, c: number, oh: number, ow: number): number {
  let best = -1;
  for (let kh = 0; kh < g.kh; kh++) {
    const ih = oh * g.strideH - g.padTop + kh;
    if (ih < 0 || ih >= g.h) continue;
    for (let kw = 0; kw < g.kw; kw++) {
      const iw = ow * g.strideW - g.padLeft + kw;
      if (iw < 0 || iw >= g.w) continue;
      const i = at(x.shape, n, c, ih, iw);
      if (best < 0 || x.data[i]! > x.data[best]!) best = i;
    }
  }
  // pool2dGeom keeps padding smaller than the window, so every window holds an input element.
  return best;
}

export function maxPool2d(x: HostTensor, attrs: Pool2dAttrs): HostTensor {
  const g = pool2dGeom(x.shape, attrs, 'maxPool2d');
  const y = hostZeros([g.n, g.c, g.oh, g.ow]);
  for (let n = 0; n < g.n; n++) {
    for (let c = 0; c < g.c; c++) {
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) y.data[at(y.shape, n, c, oh, ow)] = x.data[argmax(x, g, n, c, oh, ow)]!;
      }
    }
  }
  return y;
}

/** dx[winner of window] += dy[window]; every other element gets 0. */
export function maxPool2dBackward(x: HostTensor, dy: HostTensor, attrs: Pool2dAttrs): HostTensor {
  const g = pool2dGeom(x.shape, attrs, 'maxPool2dBackward');
  const want = [g.n, g.c, g.oh, g.ow];
  if (!sameShape(dy.shape, want)) {
    throw new ShapeError(`maxPool2dBackward: dy ${fmtShape(dy.shape)} must be [N, C, OH, OW] = ${fmtShape(want)} for x ${fmtShape(x.shape)}.`);
  }
  const dx = hostZeros(x.shape);
  for (let n = 0; n < g.n; n++) {
    for (let c = 0; c < g.c; c++) {
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) dx.data[argmax(x, g, n, c, oh, ow)] += dy.data[at(dy.shape, n, c, oh, ow)]!;
      }
    }
  }
  return dx;
}
