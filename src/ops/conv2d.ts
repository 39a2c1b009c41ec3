// conv2d: forward (implicit GEMM, fused bias and ReLU), gradient w.r.t. the input
// (transposed convolution), the filter (split-K GEMM) and the bias.
import bwdBiasWgsl from '../../shaders/conv2d/conv2d.bwd_bias.wgsl?raw';
import bwdFilterWgsl from '../../shaders/conv2d/conv2d.bwd_filter.wgsl?raw';
import bwdInputWgsl from '../../shaders/conv2d/conv2d.bwd_input.wgsl?raw';
import fwdWgsl from '../../shaders/conv2d/conv2d.fwd.wgsl?raw';
import { DeviceLimitError, fmtShape } from '../errors.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkRank, sizeOf, type Shape } from '../shape.js';
import { REG_TILE, ceilDiv, expectShape, runInto, sameEngine } from './dispatch.js';
import { conv2dGeom, type Conv2dAttrs, type Conv2dGeom } from './geometry.js';
import { sumAxisDispatch } from './sum.js';

export const conv2dKernels = {
  fwd: { name: 'conv2d.fwd', code: fwdWgsl },
  bwdInput: { name: 'conv2d.bwd_input', code: bwdInputWgsl },
  bwdFilter: { name: 'conv2d.bwd_filter', code: bwdFilterWgsl },
  bwdBias: { name: 'conv2d.bwd_bias', code: bwdBiasWgsl },
};

export interface Conv2dOptions extends Conv2dAttrs {
  /** [O], added per output channel. */
  bias?: Tensor;
  /** ReLU after the bias. */
  relu?: boolean;
}

function geomParams(g: Conv2dGeom): Params {
  return new Params().u32(
    g.n, g.c, g.h, g.w,
    g.o, g.oh, g.ow, g.kh,
    g.kw, g.cg, g.og, g.strideH,
    g.strideW, g.padTop, g.padLeft, g.dilH,
    g.dilW,
  );
}

export const conv2dOutShape = (g: Conv2dGeom): number[] => [g.n, g.o, g.oh, g.ow];

export function conv2dFwdDispatch(
  engine: Engine,
  g: Conv2dGeom,
  x: Binding,
  w: Binding,
  y: Binding,
  opts: { bias?: Binding; relu?: boolean } = {},
): Dispatch {
  const { WG_X, WG_Y } = engine.tuning.conv;
  return {
    kernel: conv2dKernels.fwd,
    constants: { WG_X, WG_Y, HAS_BIAS: !!opts.bias, RELU: !!opts.relu },
    buffers: [x, w, opts.bias ?? engine.dummy, y],
    params: geomParams(g).buffer(),
    workgroups: [ceilDiv(g.n * g.oh * g.ow, REG_TILE * WG_X), ceilDiv(g.og, REG_TILE * WG_Y), g.groups],
  };
}

export function conv2dBwdInputDispatch(engine: Engine, g: Conv2dGeom, dy: Binding, w: Binding, dx: Binding): Dispatch {
  const { WG_X, WG_Y } = engine.tuning.conv;
  return {
    kernel: conv2dKernels.bwdInput,
    constants: { WG_X, WG_Y },
    buffers: [dy, w, dx],
    params: geomParams(g).buffer(),
    workgroups: [ceilDiv(g.n * g.h * g.w, REG_TILE * WG_X), ceilDiv(g.cg, REG_TILE * WG_Y), g.groups],
  };
}

/**
 * How far to split the filter gradient's long K (N·OH·OW) over the batch: enough
 * splits to give the device ~`target` invocations, no more than the batch.
 */
export function conv2dBwdFilterSplits(engine: Engine, g: Conv2dGeom): number {
  const tiles = ceilDiv(g.cg * g.kh * g.kw, REG_TILE) * ceilDiv(g.og, REG_TILE) * g.groups;
  const target = engine.adapterInfo.isFallbackAdapter ? 256 : 8192;
  return Math.max(1, Math.min(g.n, Math.floor(target / tiles)));
}

/** Dispatches for dw; `part` holds splits × |w| floats when splits > 1 (else it may be dw itself). */
export function conv2dBwdFilterDispatches(
  engine: Engine,
  g: Conv2dGeom,
  splits: number,
  x: Binding,
  dy: Binding,
  part: Binding,
  dw: Binding,
): Dispatch[] {
  const { WG_X, WG_Y } = engine.tuning.conv;
  const ncols = g.cg * g.kh * g.kw;
  const nPerSplit = ceilDiv(g.n, splits);
  const out = splits > 1 ? part : dw;
  const ds: Dispatch[] = [
    {
      kernel: conv2dKernels.bwdFilter,
      constants: { WG_X, WG_Y },
      buffers: [x, dy, out],
      params: geomParams(g).u32(splits, nPerSplit).buffer(),
      workgroups: [ceilDiv(ncols, REG_TILE * WG_X), ceilDiv(g.og, REG_TILE * WG_Y), g.groups * splits],
    },
  ];
  if (splits > 1) ds.push(sumAxisDispatch(engine, part, dw, 1, splits, g.o * ncols));
  return ds;
}

export function conv2dBwdBiasDispatch(engine: Engine, n: number, c: number, s: number, dy: Binding, db: Binding): Dispatch {
  const WG = engine.tuning.reduce;
  return {
    kernel: conv2dKernels.bwdBias,
    constants: { WG },
    buffers: [dy, db],
    params: new Params().u32(n, c, s).buffer(),
    workgroups: [c, 1, 1],
  };
}

export async function conv2d(engine: Engine, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Promise<Tensor> {
  const op = 'conv2d';
  const g = conv2dGeom(x.shape, w.shape, opts, op);
  sameEngine(op, engine, x, w, ...(opts.bias ? [opts.bias] : []));
  if (opts.bias) expectShape(op, 'bias', opts.bias, [g.o]);
  const y = engine.empty(conv2dOutShape(g), op);
  await runInto(engine, op, [y], conv2dFwdDispatch(engine, g, x.buffer, w.buffer, y.buffer, { bias: opts.bias?.buffer, relu: opts.relu }));
  return y;
}

export async function conv2dBackwardInput(engine: Engine, dy: Tensor, w: Tensor, xShape: Shape, attrs: Conv2dAttrs = {}): Promise<Tensor> {
  const op = 'conv2dBackwardInput';
  const g = conv2dGeom(xShape, w.shape, attrs, op);
  sameEngine(op, engine, dy, w);
  expectShape(op, 'dy', dy, conv2dOutShape(g));
  const dx = engine.empty(xShape, op);
  await runInto(engine, op, [dx], conv2dBwdInputDispatch(engine, g, dy.buffer, w.buffer, dx.buffer));
  return dx;
}

export async function conv2dBackwardFilter(engine: Engine, x: Tensor, dy: Tensor, wShape: Shape, attrs: Conv2dAttrs = {}): Promise<Tensor> {
  const op = 'conv2dBackwardFilter';
  const g = conv2dGeom(x.shape, wShape, attrs, op);
  sameEngine(op, engine, x, dy);
  expectShape(op, 'dy', dy, conv2dOutShape(g));
  const splits = conv2dBwdFilterSplits(engine, g);
  const partShape = [splits, ...wShape];
  if (splits > 1) engine.checkBytes(op, partShape, sizeOf(partShape) * 4); // before dw, so that neither leaks
  const dw = engine.empty(wShape, op);
  const part = splits > 1 ? engine.empty(partShape, op) : dw;
  await runInto(engine, op, part === dw ? [dw] : [dw, part], ...conv2dBwdFilterDispatches(engine, g, splits, x.buffer, dy.buffer, part.buffer, dw.buffer));
  if (part !== dw) part.dispose();
  return dw;
}

export async function conv2dBackwardBias(engine: Engine, dy: Tensor): Promise<Tensor> {
  const op = 'conv2dBackwardBias';
  checkRank(op, 'dy', dy.shape, 4, 'NCHW');
  sameEngine(op, engine, dy);
  const [n, c, h, w] = dy.shape as [number, number, number, number];
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (c > max) {
    throw new DeviceLimitError(
      `${op}: dy ${fmtShape(dy.shape)} has ${c} channels, more than this device's ${max} workgroups per dispatch dimension; split the channels into smaller tensors.`,
    );
  }
  const db = engine.empty([c], op);
  await runInto(engine, op, [db], conv2dBwdBiasDispatch(engine, n, c, h * w, dy.buffer, db.buffer));
  return db;
}
