// Softmax cross-entropy over class logits [N, C] with labels [N] (class indices as f32),
// fused and stable. Forward gives the mean loss [1]; backward gives d logits.
//
// NOTE: the labels are a GPU tensor, so these ops cannot check them without a readback (the
// CPU reference throws AttributeError instead). A label that is not an integer in [0, C)
// (NaN, fractional, negative, or C and over) makes the loss NaN and that row of d logits NaN,
// the same way in both kernels, so that bad labels fail visibly rather than train on a wrong
// class. Validate labels on the host before upload where that matters (the Model's training
// plan does).
import bwdWgsl from '../../shaders/softmax_xent/softmax_xent.bwd.wgsl?raw';
import fwdWgsl from '../../shaders/softmax_xent/softmax_xent.fwd.wgsl?raw';
import { ShapeError, fmtShape } from '../errors.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkRank, finiteNum, type Shape } from '../shape.js';
import { grid1d, runInto, sameEngine } from './dispatch.js';

export const softmaxXentKernels = {
  fwd: { name: 'softmax_xent.fwd', code: fwdWgsl },
  bwd: { name: 'softmax_xent.bwd', code: bwdWgsl },
};

export function softmaxXentGeom(logits: Shape, labels: Shape, op = 'softmaxCrossEntropy'): { rows: number; classes: number } {
  checkRank(op, 'logits', logits, 2, '[N, classes]');
  checkRank(op, 'labels', labels, 1, '[N]');
  if (labels[0] !== logits[0]) {
    throw new ShapeError(`${op}: labels ${fmtShape(labels)} must have one class index per row of logits ${fmtShape(logits)}.`);
  }
  return { rows: logits[0]!, classes: logits[1]! };
}

export function softmaxXentFwdDispatch(engine: Engine, rows: number, classes: number, logits: Binding, labels: Binding, loss: Binding): Dispatch {
  return {
    kernel: softmaxXentKernels.fwd,
    constants: { WG: engine.tuning.reduce },
    buffers: [logits, labels, loss],
    params: new Params().u32(rows, classes).buffer(),
    workgroups: [1, 1, 1],
  };
}

export function softmaxXentBwdDispatch(engine: Engine, rows: number, classes: number, logits: Binding, labels: Binding, dz: Binding, scale = 1): Dispatch {
  const WG = engine.tuning.pointwise;
  return {
    kernel: softmaxXentKernels.bwd,
    constants: { WG },
    buffers: [logits, labels, dz],
    params: new Params().u32(rows, classes).f32(scale).buffer(),
    workgroups: grid1d(engine, rows, WG),
  };
}

export async function softmaxCrossEntropy(engine: Engine, logits: Tensor, labels: Tensor): Promise<Tensor> {
  const op = 'softmaxCrossEntropy';
  const g = softmaxXentGeom(logits.shape, labels.shape, op);
  sameEngine(op, engine, logits, labels);
  const loss = engine.empty([1], op);
  await runInto(engine, op, [loss], softmaxXentFwdDispatch(engine, g.rows, g.classes, logits.buffer, labels.buffer, loss.buffer));
  return loss;
}

export async function softmaxCrossEntropyBackward(engine: Engine, logits: Tensor, labels: Tensor, dloss = 1): Promise<Tensor> {
  const op = 'softmaxCrossEntropyBackward';
  const g = softmaxXentGeom(logits.shape, labels.shape, op);
  finiteNum(op, 'dloss', dloss);
  sameEngine(op, engine, logits, labels);
  const dz = engine.empty(logits.shape, op);
  await runInto(engine, op, [dz], softmaxXentBwdDispatch(engine, g.rows, g.classes, logits.buffer, labels.buffer, dz.buffer, dloss));
  return dz;
}
