// SGD with momentum and weight decay, in place over a flat range of parameters.
import wgsl from '../../shaders/optim/sgd.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkDistinct, checkSame, numIn } from '../shape.js';
import { pointwiseDispatch, sameEngine } from './dispatch.js';

export const sgdKernel = { name: 'sgd', code: wgsl };

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

/** The settings with defaults, each in PyTorch's range; `prefix` goes before each name in an error ("optimizer lr"). */
export function checkSgd(o: SgdOptions, op = 'sgd', prefix = ''): Required<SgdOptions> {
  return {
    lr: numIn(op, `${prefix}lr`, o.lr, 0),
    momentum: numIn(op, `${prefix}momentum`, o.momentum ?? 0, 0),
    weightDecay: numIn(op, `${prefix}weightDecay`, o.weightDecay ?? 0, 0),
  };
}

export function sgdDispatch(engine: Engine, total: number, grad: Binding, param: Binding, velocity: Binding, o: SgdOptions): Dispatch {
  const c = checkSgd(o);
  return pointwiseDispatch(engine, sgdKernel, total, [grad, param, velocity], {}, (per) => new Params().u32(total / per).f32(c.lr, c.momentum, c.weightDecay).buffer());
}

/** Updates param and velocity in place. */
export async function sgdStep(engine: Engine, param: Tensor, grad: Tensor, velocity: Tensor, o: SgdOptions): Promise<void> {
  const op = 'sgdStep';
  checkSgd(o, op);
  sameEngine(op, engine, param, grad, velocity);
  checkSame(op, param.shape, grad.shape, ['param', 'grad']);
  checkSame(op, param.shape, velocity.shape, ['param', 'velocity']);
  checkDistinct(op, [['param', param], ['grad', grad], ['velocity', velocity]]);
  await engine.run(sgdDispatch(engine, param.size, grad.buffer, param.buffer, velocity.buffer, o));
}
