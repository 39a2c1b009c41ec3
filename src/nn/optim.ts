// Optimizer settings and learning-rate schedules, shared by both backends.
import { AttributeError } from '../errors.js';

export type OptimizerSpec =
  | { type: 'sgd'; lr: number; momentum?: number; weightDecay?: number }
  | { type: 'adam'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

export type Schedule =
  | { kind: 'constant' }
  /** lr · gamma^floor(step / every) */
  | { kind: 'step'; every: number; gamma: number }
  /** cosine from lr down to minLr over totalSteps */
  | { kind: 'cosine'; totalSteps: number; minLr?: number };

/** Learning rate at a 0-based step. */
export function lrAt(base: number, schedule: Schedule | undefined, step: number): number {
  if (!schedule || schedule.kind === 'constant') return base;
  if (schedule.kind === 'step') {
    if (!(schedule.every >= 1)) throw new AttributeError(`schedule: 'every' must be ≥ 1, got ${schedule.every}.`);
    return base * schedule.gamma ** Math.floor(step / schedule.every);
  }
  const min = schedule.minLr ?? 0;
  const t = Math.min(step / Math.max(schedule.totalSteps, 1), 1);
  return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
}

/** Names of the optimizer's per-parameter state tensors. */
export function optimizerSlots(spec: OptimizerSpec): string[] {
  return spec.type === 'sgd' ? ['velocity'] : ['m', 'v'];
}
