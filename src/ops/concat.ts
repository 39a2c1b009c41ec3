// Concatenation along channels (NCHW), one input at a time, and its backward (a slice).
import wgsl from '../../shaders/elementwise/concat.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import { pointwiseDispatch } from './dispatch.js';

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
  const total = n * c * s;
  // Each channel's S elements lie contiguous in both: vec4s where S is a multiple of 4.
  return pointwiseDispatch(engine, concatKernel, total, [src, dst], { MODE: mode === 'scatter' ? 0 : 1 }, (per) => new Params().u32(total / per, c, s / per, ctotal, c0).buffer(), s);
}
