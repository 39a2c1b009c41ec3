// What a model takes from setParams (a checkpoint's tensors, or a user's own): exactly its
// parameters, each of its shape, every value finite. Both backends check the whole set
// before writing anything, so a bad one changes nothing.
import { NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { ParamEntry } from './graph.js';
import type { NamedTensor } from './model.js';

/**
 * Throws ShapeError or NonFiniteError naming the tensor; `what` is "the parameters" or
 * "optimizer state "m"". Saving checks the same, so a diverged model never replaces a good checkpoint.
 */
export function checkParamSet(entries: readonly ParamEntry[], what: string, got: Record<string, NamedTensor> | undefined, op: 'load' | 'save' = 'load'): void {
  for (const e of entries) {
    const t = got?.[e.name];
    if (!t) throw new ShapeError(`${op}: ${what} has no tensor "${e.name}" (expected ${fmtShape(e.spec.shape)}); was it saved from another model?`);
    if (fmtShape(t.shape) !== fmtShape(e.spec.shape) || t.data.length !== sizeOf(e.spec.shape)) {
      throw new ShapeError(`${op}: ${what}: "${e.name}" is ${fmtShape(t.shape)}, but the model needs ${fmtShape(e.spec.shape)}.`);
    }
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      const fix = op === 'load' ? 'weights saved after training diverged cannot be trained on. Load an earlier checkpoint.' : 'training diverged (lower the learning rate), so nothing was saved and the last checkpoint stays.';
      throw new NonFiniteError(`${op}: ${what}: "${e.name}" holds ${t.data[i]} at index ${i}; ${fix}`);
    }
  }
  const extra = Object.keys(got ?? {}).filter((k) => !entries.some((e) => e.name === k));
  if (extra.length) throw new ShapeError(`${op}: ${what} has tensors the model lacks: ${extra.slice(0, 5).join(', ')}.`);
}
