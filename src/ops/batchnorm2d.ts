// BatchNorm2d on the GPU: per-channel statistics (and the running-statistics update),
// the normalisation, and the backward pass (per-channel sums, then the input gradient).
import applyWgsl from '../../shaders/batchnorm2d/batchnorm2d.apply.wgsl?raw';
import bwdApplyWgsl from '../../shaders/batchnorm2d/batchnorm2d.bwd_apply.wgsl?raw';
import bwdReduceWgsl from '../../shaders/batchnorm2d/batchnorm2d.bwd_reduce.wgsl?raw';
import statsWgsl from '../../shaders/batchnorm2d/batchnorm2d.stats.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import { pointwiseDispatch } from './dispatch.js';

export const batchNorm2dKernels = {
  stats: { name: 'batchnorm2d.stats', code: statsWgsl },
  apply: { name: 'batchnorm2d.apply', code: applyWgsl },
  bwdReduce: { name: 'batchnorm2d.bwd_reduce', code: bwdReduceWgsl },
  bwdApply: { name: 'batchnorm2d.bwd_apply', code: bwdApplyWgsl },
};

/** [N, C, H, W] as the sizes the kernels use. */
export interface BnGeom {
  n: number;
  c: number;
  s: number;
  eps: number;
  momentum: number;
}

/** stats = [mean[C], var[C]] of x; with `running`, the running statistics move towards them. */
export function bnStatsDispatch(engine: Engine, g: BnGeom, x: Binding, stats: Binding, running?: Binding): Dispatch {
  return {
    kernel: batchNorm2dKernels.stats,
    constants: { WG: engine.tuning.reduce, UPDATE_RUNNING: !!running },
    buffers: [x, stats, running ?? engine.dummy],
    params: new Params().u32(g.n, g.c, g.s).f32(g.momentum).buffer(),
    workgroups: [g.c, 1, 1],
  };
}

export function bnApplyDispatch(engine: Engine, g: BnGeom, x: Binding, stats: Binding, gamma: Binding, beta: Binding, y: Binding): Dispatch {
  const total = g.n * g.c * g.s;
  // vec4s where each channel's plane holds whole ones (S a multiple of 4).
  return pointwiseDispatch(engine, batchNorm2dKernels.apply, total, [x, stats, gamma, beta, y], {}, (per) => new Params().u32(total / per, g.c, g.s / per).f32(g.eps).buffer(), g.s);
}

/** dgamma and dbeta, then dx when wanted; `stats` must hold the batch statistics of x. */
export function bnBackwardDispatches(
  engine: Engine,
  g: BnGeom,
  x: Binding,
  dy: Binding,
  stats: Binding,
  gamma: Binding,
  dgamma: Binding,
  dbeta: Binding,
  dx: Binding | null,
): Dispatch[] {
  const total = g.n * g.c * g.s;
  const ds: Dispatch[] = [
    {
      kernel: batchNorm2dKernels.bwdReduce,
      constants: { WG: engine.tuning.reduce },
      buffers: [x, dy, stats, dgamma, dbeta],
      params: new Params().u32(g.n, g.c, g.s).f32(g.eps).buffer(),
      workgroups: [g.c, 1, 1],
    },
  ];
  if (dx) {
    const buffers = [x, dy, stats, gamma, dgamma, dbeta, dx];
    ds.push(pointwiseDispatch(engine, batchNorm2dKernels.bwdApply, total, buffers, {}, (per) => new Params().u32(total / per, g.c, g.s / per).f32(g.eps, g.n * g.s).buffer(), g.s));
  }
  return ds;
}
