// Elementwise add, mul, scale, axpy, and in-place accumulation (out += b) for gradients.
import wgsl from '../../shaders/elementwise/elementwise.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkSame, finiteNum } from '../shape.js';
import { pointwiseDispatch, runInto, sameEngine } from './dispatch.js';

export const elementwiseKernel = { name: 'elementwise', code: wgsl };

/** The OP override constant of elementwise.wgsl. */
export const ELEMENTWISE_OP = { add: 0, mul: 1, scale: 2, axpy: 3, accumulate: 4 } as const;
export type ElementwiseOp = keyof typeof ELEMENTWISE_OP;

export function elementwiseDispatch(engine: Engine, kind: ElementwiseOp, total: number, a: Binding, b: Binding, out: Binding, s = 0): Dispatch {
  return pointwiseDispatch(engine, elementwiseKernel, total, [a, b, out], { OP: ELEMENTWISE_OP[kind] }, (per) => new Params().u32(total / per).f32(s).buffer());
}

async function binary(engine: Engine, kind: ElementwiseOp, a: Tensor, b: Tensor, s = 0): Promise<Tensor> {
  sameEngine(kind, engine, a, b);
  checkSame(kind, a.shape, b.shape);
  const out = engine.empty(a.shape, kind);
  await runInto(engine, kind, [out], elementwiseDispatch(engine, kind, a.size, a.buffer, b.buffer, out.buffer, s));
  return out;
}

export const add = (engine: Engine, a: Tensor, b: Tensor): Promise<Tensor> => binary(engine, 'add', a, b);
export const mul = (engine: Engine, a: Tensor, b: Tensor): Promise<Tensor> => binary(engine, 'mul', a, b);
/** a + s·b */
export const axpy = (engine: Engine, a: Tensor, b: Tensor, s: number): Promise<Tensor> => binary(engine, 'axpy', a, b, finiteNum('axpy', 's', s));

export async function scale(engine: Engine, a: Tensor, s: number): Promise<Tensor> {
  finiteNum('scale', 's', s);
  sameEngine('scale', engine, a);
  const out = engine.empty(a.shape, 'scale');
  await runInto(engine, 'scale', [out], elementwiseDispatch(engine, 'scale', a.size, a.buffer, engine.dummy, out.buffer, s));
  return out;
}

/** Gradients of a·b: (dy·b, dy·a). */
export async function mulBackward(engine: Engine, a: Tensor, b: Tensor, dy: Tensor): Promise<{ da: Tensor; db: Tensor }> {
  const op = 'mulBackward';
  sameEngine(op, engine, a, b, dy);
  checkSame(op, a.shape, dy.shape, ['a', 'dy']);
  checkSame(op, b.shape, dy.shape, ['b', 'dy']);
  const da = await mul(engine, dy, b);
  try {
    return { da, db: await mul(engine, dy, a) };
  } catch (e) {
    da.dispose(); // NOTE: the first product is already made; a failed second one must not leak it
    throw e;
  }
}
