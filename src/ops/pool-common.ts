import { Params } from '../runtime/engine.js';
import type { Pool2dGeom } from './geometry.js';

/** The Params struct shared by the pooling kernels; `total` is the number of invocations. */
export function poolParams(g: Pool2dGeom, total: number): ArrayBuffer {
  return new Params()
    .u32(total, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft)
    .buffer();
}

export const poolOutShape = (g: Pool2dGeom): number[] => [g.n, g.c, g.oh, g.ow];
