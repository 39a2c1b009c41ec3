// Max pooling: forward, and backward as a gather that recomputes each window's argmax
// (or, where the windows tile the input exactly, a scatter of each window's own argmax).
import bwdWgsl from '../../shaders/pool/maxpool2d.bwd.wgsl?raw';
import bwd2x2Wgsl from '../../shaders/pool/maxpool2d.bwd_2x2.wgsl?raw';
import bwdWindowsWgsl from '../../shaders/pool/maxpool2d.bwd_windows.wgsl?raw';
import fwdWgsl from '../../shaders/pool/maxpool2d.fwd.wgsl?raw';
import fwd2x2Wgsl from '../../shaders/pool/maxpool2d.fwd_2x2.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { expectShape, grid1d, runInto, sameEngine } from './dispatch.js';
import { pool2dGeom, type Pool2dAttrs, type Pool2dGeom } from './geometry.js';
import { poolOutShape, poolParams } from './pool-common.js';

export const maxPool2dKernels = {
  fwd: { name: 'maxpool2d.fwd', code: fwdWgsl },
  fwd2x2: { name: 'maxpool2d.fwd_2x2', code: fwd2x2Wgsl },
  bwd: { name: 'maxpool2d.bwd', code: bwdWgsl },
  bwdWindows: { name: 'maxpool2d.bwd_windows', code: bwdWindowsWgsl },
  bwd2x2: { name: 'maxpool2d.bwd_2x2', code: bwd2x2Wgsl },
};

/** Windows that cover every input element exactly once (stride = kernel, no padding, no remainder). */
const windowsTile = (g: Pool2dGeom): boolean =>
  g.strideH === g.kh && g.strideW === g.kw && g.padTop === 0 && g.padLeft === 0 && g.oh * g.kh === g.h && g.ow * g.kw === g.w;

/** 2×2 windows that tile rows of whole vec4s: the _2x2 kernels' invocations (window pairs, ROWS output rows each), else null. */
function pairs2x2(g: Pool2dGeom): { ROWS: number; n: number } | null {
  if (!windowsTile(g) || g.kh !== 2 || g.kw !== 2 || g.w % 4 !== 0) return null;
  const ROWS = g.oh % 2 === 0 ? 2 : 1;
  return { ROWS, n: (g.n * g.c * g.oh * g.ow) / 2 / ROWS };
}

export function maxPool2dFwdDispatch(engine: Engine, g: Pool2dGeom, x: Binding, y: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = g.n * g.c * g.oh * g.ow;
  const pairs = pairs2x2(g);
  if (pairs) {
    const { ROWS, n } = pairs;
    return { kernel: maxPool2dKernels.fwd2x2, constants: { WG, ROWS }, buffers: [x, y], params: poolParams(g, n), workgroups: grid1d(engine, n, WG) };
  }
  const padded = g.padTop + g.padLeft + g.padBottom + g.padRight > 0;
  return { kernel: maxPool2dKernels.fwd, constants: { WG, PADDED: padded, ...(padded ? {} : { KH: g.kh, KW: g.kw }) }, buffers: [x, y], params: poolParams(g, total), workgroups: grid1d(engine, total, WG) };
}

/** reluMask: x is a ReLU's output and the result is also passed back through that ReLU. */
export function maxPool2dBwdDispatch(engine: Engine, g: Pool2dGeom, x: Binding, dy: Binding, dx: Binding, opts: { reluMask?: boolean } = {}): Dispatch {
  const WG = engine.tuning.pointwise;
  const RELU_MASK = !!opts.reluMask;
  const pairs = pairs2x2(g);
  if (pairs) {
    const { ROWS, n } = pairs;
    return { kernel: maxPool2dKernels.bwd2x2, constants: { WG, ROWS, RELU_MASK }, buffers: [x, dy, dx], params: poolParams(g, n), workgroups: grid1d(engine, n, WG) };
  }
  if (windowsTile(g)) {
    const windows = g.n * g.c * g.oh * g.ow;
    return { kernel: maxPool2dKernels.bwdWindows, constants: { WG, RELU_MASK, KH: g.kh, KW: g.kw }, buffers: [x, dy, dx], params: poolParams(g, windows), workgroups: grid1d(engine, windows, WG) };
  }
  const total = g.n * g.c * g.h * g.w;
  return { kernel: maxPool2dKernels.bwd, constants: { WG, RELU_MASK }, buffers: [x, dy, dx], params: poolParams(g, total), workgroups: grid1d(engine, total, WG) };
}

export async function maxPool2d(engine: Engine, x: Tensor, attrs: Pool2dAttrs): Promise<Tensor> {
  const g = pool2dGeom(x.shape, attrs, 'maxPool2d');
  sameEngine('maxPool2d', engine, x);
  const y = engine.empty(poolOutShape(g), 'maxPool2d');
  await runInto(engine, 'maxPool2d', [y], maxPool2dFwdDispatch(engine, g, x.buffer, y.buffer));
  return y;
}

export async function maxPool2dBackward(engine: Engine, x: Tensor, dy: Tensor, attrs: Pool2dAttrs): Promise<Tensor> {
  const op = 'maxPool2dBackward';
  const g = pool2dGeom(x.shape, attrs, op);
  sameEngine(op, engine, x, dy);
  expectShape(op, 'dy', dy, poolOutShape(g));
  const dx = engine.empty(x.shape, op);
  await runInto(engine, op, [dx], maxPool2dBwdDispatch(engine, g, x.buffer, dy.buffer, dx.buffer));
  return dx;
}
