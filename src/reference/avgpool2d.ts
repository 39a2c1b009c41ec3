// CPU reference for 2-D average pooling, float64. Layout NCHW.
// NOTE: the divisor is the number of NON-padding elements in the window
// (PyTorch's count_include_pad = false), so border windows are not pulled towards 0.
import { ShapeError, fmtShape } from '../errors.js';
import { pool2dGeom, type Pool2dAttrs, type Pool2dGeom } from '../ops/geometry.js';
import { sameShape } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

function at(s: readonly number[], a: number, b: number, c: number, d: number): number {
  return ((a * s[1]! + b) * s[2]! + c) * s[3]! + d;
}

/** Input (ih, iw) positions of window (oh, ow), padding left out. */
function windowCells(g: Pool2dGeom, oh: number, ow: number): [number, number][] {
  const cells: [number, number][] = [];
  for (let kh = 0; kh < g.kh; kh++) {
    const ih = oh * g.strideH - g.padTop + kh;
    if (ih < 0 || ih >= g.h) continue;
    for (let kw = 0; kw < g.kw; kw++) {
      const iw = ow * g.strideW - g.padLeft + kw;
      if (iw >= 0 && iw < g.w) cells.push([ih, iw]);
    }
  }
  return cells;
}

export function avgPool2d(x: HostTensor, attrs: Pool2dAttrs): HostTensor {
  const g = pool2dGeom(x.shape, attrs, 'avgPool2d');
  const y = hostZeros([g.n, g.c, g.oh, g.ow]);
  for (let n = 0; n < g.n; n++) {
    for (let c = 0; c < g.c; c++) {
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) {
          const cells = windowCells(g, oh, ow);
          let acc = 0;
          for (const [ih, iw] of cells) acc += x.data[at(x.shape, n, c, ih, iw)]!;
          y.data[at(y.shape, n, c, oh, ow)] = acc / cells.length;
        }
      }
    }
  }
  return y;
}

/** dx[cell] += dy[window] / (cells in window), for every window the cell belongs to. */
export function avgPool2dBackward(dy: HostTensor, xShape: number[], attrs: Pool2dAttrs): HostTensor {
  const g = pool2dGeom(xShape, attrs, 'avgPool2dBackward');
  const want = [g.n, g.c, g.oh, g.ow];
  if (!sameShape(dy.shape, want)) {
    throw new ShapeError(`avgPool2dBackward: dy ${fmtShape(dy.shape)} must be [N, C, OH, OW] = ${fmtShape(want)} for x ${fmtShape(xShape)}.`);
  }
  const dx = hostZeros(xShape);
  for (let n = 0; n < g.n; n++) {
    for (let c = 0; c < g.c; c++) {
      for (let oh = 0; oh < g.oh; oh++) {
        for (let ow = 0; ow < g.ow; ow++) {
          const cells = windowCells(g, oh, ow);
          const share = dy.data[at(dy.shape, n, c, oh, ow)]! / cells.length;
          for (const [ih, iw] of cells) dx.data[at(dx.shape, n, c, ih, iw)] += share;
        }
      }
    }
  }
  return dx;
}
