import { AttributeError, ShapeError, fmtShape } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Every dimension a positive integer. */
export function checkShape(op: string, what: string, shape: Shape): void {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    const shown = Array.isArray(shape) ? fmtShape(shape) : String(shape);
    throw new ShapeError(
      `${op}: ${what} shape ${shown} is invalid; every dimension must be a positive integer, with at least one dimension (e.g. [2, 3, 8, 8]).`,
    );
  }
}

export function checkRank(op: string, what: string, shape: Shape, rank: number, layout: string): void {
  checkShape(op, what, shape);
  if (shape.length !== rank) {
    throw new ShapeError(`${op}: ${what} must be rank ${rank} (${layout}), got ${fmtShape(shape)}.`);
  }
}

export function checkSame(op: string, a: Shape, b: Shape, names = ['a', 'b']): void {
  if (!sameShape(a, b)) {
    throw new ShapeError(
      `${op}: ${names[0]} ${fmtShape(a)} and ${names[1]} ${fmtShape(b)} must have the same shape.`,
    );
  }
}

/**
 * In-place ops (the optimizer steps) update some operands while reading others: one tensor
 * passed as two of them is refused (WebGPU rejects the aliased binding and would skip the step).
 */
export function checkDistinct(op: string, named: ReadonlyArray<readonly [string, { readonly shape: Shape }]>): void {
  for (let i = 0; i < named.length; i++) {
    for (let j = i + 1; j < named.length; j++) {
      if (named[i]![1] === named[j]![1]) {
        throw new ShapeError(
          `${op}: ${named[i]![0]} and ${named[j]![0]} are the same tensor ${fmtShape(named[i]![1].shape)}; the step updates them in place, so pass a separate tensor for each.`,
        );
      }
    }
  }
}

/** A positive integer attribute. */
export function posInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new AttributeError(`${op}: ${name} must be a positive integer, got ${String(v)}.`);
  }
  return v;
}

/** A non-negative integer attribute. */
export function nonNegInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new AttributeError(`${op}: ${name} must be a non-negative integer, got ${String(v)}.`);
  }
  return v;
}

/** An integer seed (any sign; exact in a double). */
export function seedInt(op: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new AttributeError(`${op}: seed must be an integer, got ${String(v)}.`);
  return v;
}

export function finiteNum(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new AttributeError(`${op}: ${name} must be a finite number, got ${String(v)}.`);
  }
  return v;
}

/** A finite number ≥ min, and < maxExclusive where given: the ranges PyTorch's optimizers hold their settings to. */
export function numIn(op: string, name: string, v: unknown, min: number, maxExclusive = Infinity): number {
  const x = finiteNum(op, name, v);
  if (x < min || x >= maxExclusive) {
    throw new AttributeError(`${op}: ${name} must be ${maxExclusive === Infinity ? `≥ ${min}` : `in [${min}, ${maxExclusive})`}, got ${x}.`);
  }
  return x;
}

/** A pair from a number or [h, w]. */
export function pair(op: string, name: string, v: number | readonly [number, number], check = posInt): [number, number] {
  if (typeof v === 'number') {
    const x = check(op, name, v);
    return [x, x];
  }
  if (!Array.isArray(v) || v.length !== 2) {
    throw new AttributeError(`${op}: ${name} must be a number or [h, w], got ${JSON.stringify(v)}.`);
  }
  return [check(op, `${name}[0]`, v[0]), check(op, `${name}[1]`, v[1])];
}
