// Global average pooling: [N, C, H, W] → [N, C], and its backward (a broadcast).
import bwdWgsl from '../../shaders/pool/globalavgpool.bwd.wgsl?raw';
import fwdWgsl from '../../shaders/pool/globalavgpool.fwd.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkRank, type Shape } from '../shape.js';
import { expectShape, grid1d, runInto, sameEngine } from './dispatch.js';

export const globalAvgPoolKernels = {
  fwd: { name: 'globalavgpool.fwd', code: fwdWgsl },
  bwd: { name: 'globalavgpool.bwd', code: bwdWgsl },
};

export function globalAvgPoolShape(xShape: Shape, op = 'globalAvgPool'): [number, number] {
  checkRank(op, 'input x', xShape, 4, 'NCHW');
  return [xShape[0]!, xShape[1]!];
}

export function globalAvgPoolFwdDispatch(engine: Engine, xShape: Shape, x: Binding, y: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const planes = xShape[0]! * xShape[1]!;
  const hw = xShape[2]! * xShape[3]!;
  return { kernel: globalAvgPoolKernels.fwd, constants: { WG }, buffers: [x, y], params: new Params().u32(planes, hw).buffer(), workgroups: grid1d(engine, planes, WG) };
}

export function globalAvgPoolBwdDispatch(engine: Engine, xShape: Shape, dy: Binding, dx: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = xShape.reduce((p, d) => p * d, 1);
  const hw = xShape[2]! * xShape[3]!;
  return { kernel: globalAvgPoolKernels.bwd, constants: { WG }, buffers: [dy, dx], params: new Params().u32(total, hw).buffer(), workgroups: grid1d(engine, total, WG) };
}

export async function globalAvgPool(engine: Engine, x: Tensor): Promise<Tensor> {
  const shape = globalAvgPoolShape(x.shape);
  sameEngine('globalAvgPool', engine, x);
  const y = engine.empty(shape, 'globalAvgPool');
  await runInto(engine, 'globalAvgPool', [y], globalAvgPoolFwdDispatch(engine, x.shape, x.buffer, y.buffer));
  return y;
}

export async function globalAvgPoolBackward(engine: Engine, dy: Tensor, xShape: Shape): Promise<Tensor> {
  const op = 'globalAvgPoolBackward';
  const shape = globalAvgPoolShape(xShape, op);
  sameEngine(op, engine, dy);
  expectShape(op, 'dy', dy, shape);
  const dx = engine.empty(xShape, op);
  await runInto(engine, op, [dx], globalAvgPoolBwdDispatch(engine, xShape, dy.buffer, dx.buffer));
  return dx;
}
