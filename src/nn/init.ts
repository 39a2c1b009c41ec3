// Parameter initialisers from a seeded generator: He (Kaiming) normal for layers followed
// by ReLU, Glorot (Xavier) uniform otherwise.
import { mulberry32 } from '../data/rng.js';
import type { ParamSpec } from './layers.js';
import { sizeOf } from '../shape.js';

export function initParam(spec: ParamSpec, seed: number): Float32Array {
  const out = new Float32Array(sizeOf(spec.shape));
  const u = mulberry32(seed);
  switch (spec.init) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'running':
      out.fill(1, out.length / 2); // means 0, variances 1
      break;
    case 'he': {
      const std = Math.sqrt(2 / spec.fanIn);
      for (let i = 0; i < out.length; i++) {
        // Box–Muller; 1 − u() keeps the log finite.
        out[i] = std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      }
      break;
    }
    case 'glorot': {
      const a = Math.sqrt(6 / (spec.fanIn + spec.fanOut));
      for (let i = 0; i < out.length; i++) out[i] = (2 * u() - 1) * a;
      break;
    }
  }
  return out;
}

/** A per-parameter seed, so adding a layer does not change the others' initial values. */
export function paramSeed(seed: number, name: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
