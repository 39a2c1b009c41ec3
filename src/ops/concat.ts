// Concatenation along channels (NCHW), one input at a time, and its backward (a slice).
import wgsl from '../../shaders/elementwise/concat.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import { grid1d } from './dispatch.js';

export const concatKernel = { name: 'concat', code: wgsl };

/** Part [N, C, S] into (mode 'scatter') or out of (mode 'gather') channels [c0, c0 + C) of [N, ctotal, S]. */
export function concatDispatch(
  engine: Engine,
  mode: 'scatter' | 'gather',
  n: number,
  c: number,
  s: number,
  ctotal: number,
  c0: number,
  src: Binding,
  dst: Binding,
): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = n * c * s;
  return {
    kernel: concatKernel,
    constants: { WG, MODE: mode === 'scatter' ? 0 : 1 },
    buffers: [src, dst],
    params: new Params().u32(total, c, s, ctotal, c0).buffer(),
    workgroups: grid1d(engine, total, WG),
  };
}
