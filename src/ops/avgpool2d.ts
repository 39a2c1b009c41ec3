// Average pooling (padding excluded from the divisor): forward, and backward as a gather.
import bwdWgsl from '../../shaders/pool/avgpool2d.bwd.wgsl?raw';
import fwdWgsl from '../../shaders/pool/avgpool2d.fwd.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import type { Shape } from '../shape.js';
import { expectShape, grid1d, runInto, sameEngine } from './dispatch.js';
import { pool2dGeom, type Pool2dAttrs, type Pool2dGeom } from './geometry.js';
import { poolOutShape, poolParams } from './pool-common.js';

export const avgPool2dKernels = {
  fwd: { name: 'avgpool2d.fwd', code: fwdWgsl },
  bwd: { name: 'avgpool2d.bwd', code: bwdWgsl },
};

export function avgPool2dFwdDispatch(engine: Engine, g: Pool2dGeom, x: Binding, y: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = g.n * g.c * g.oh * g.ow;
  return { kernel: avgPool2dKernels.fwd, constants: { WG }, buffers: [x, y], params: poolParams(g, total), workgroups: grid1d(engine, total, WG) };
}

export function avgPool2dBwdDispatch(engine: Engine, g: Pool2dGeom, dy: Binding, dx: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = g.n * g.c * g.h * g.w;
  return { kernel: avgPool2dKernels.bwd, constants: { WG }, buffers: [dy, dx], params: poolParams(g, total), workgroups: grid1d(engine, total, WG) };
}

export async function avgPool2d(engine: Engine, x: Tensor, attrs: Pool2dAttrs): Promise<Tensor> {
  const g = pool2dGeom(x.shape, attrs, 'avgPool2d');
  sameEngine('avgPool2d', engine, x);
  const y = engine.empty(poolOutShape(g), 'avgPool2d');
  await runInto(engine, 'avgPool2d', [y], avgPool2dFwdDispatch(engine, g, x.buffer, y.buffer));
  return y;
}

export async function avgPool2dBackward(engine: Engine, dy: Tensor, xShape: Shape, attrs: Pool2dAttrs): Promise<Tensor> {
  const op = 'avgPool2dBackward';
  const g = pool2dGeom(xShape, attrs, op);
  sameEngine(op, engine, dy);
  expectShape(op, 'dy', dy, poolOutShape(g));
  const dx = engine.empty(xShape, op);
  await runInto(engine, op, [dx], avgPool2dBwdDispatch(engine, g, dy.buffer, dx.buffer));
  return dx;
}
