// Optimizer settings and learning-rate schedules, shared by both backends.
import { AttributeError } from '../errors.js';
import { checkAdam } from '../ops/adam.js';
import { checkSgd } from '../ops/sgd.js';
import { nonNegInt, numIn, posInt, seedInt } from '../shape.js';

export type OptimizerSpec =
  | { type: 'sgd'; lr: number; momentum?: number; weightDecay?: number }
  | { type: 'adam'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

export type Schedule =
  | { kind: 'constant' }
  /** lr · gamma^floor(step / every) */
  | { kind: 'step'; every: number; gamma: number }
  /** cosine from lr down to minLr over totalSteps */
  | { kind: 'cosine'; totalSteps: number; minLr?: number };

/** Each optimizer's usual learning rate for the zoo's MNIST models: the CLI's defaults and the demo's. */
export const USUAL_LR = { sgd: 0.05, adam: 3e-3 } as const;

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

/**
 * A model's training settings from its options, for Model and CpuModel alike: copies (an
 * options object reused for another model and changed must not change this one), with the
 * defaults filled in, checked when the model is made (not at its first step, where an
 * unknown optimizer type would have run as Adam).
 */
export function trainingSettings(
  op: string,
  opts: { optimizer?: OptimizerSpec; schedule?: Schedule; seed?: number },
): { optimizer: OptimizerSpec; schedule: Schedule | undefined; seed: number } {
  const optimizer: OptimizerSpec = { ...(opts.optimizer ?? { type: 'sgd', lr: 0.01, momentum: 0.9 }) };
  const schedule = opts.schedule && { ...opts.schedule };
  checkTraining(op, optimizer, schedule);
  return { optimizer, schedule, seed: opts.seed === undefined ? 0 : seedInt(op, opts.seed) };
}

function checkTraining(op: string, optimizer: OptimizerSpec, schedule: Schedule | undefined): void {
  const o = optimizer as Partial<Record<string, unknown>> | undefined;
  if (o?.type !== 'sgd' && o?.type !== 'adam') {
    throw new AttributeError(`${op}: optimizer type must be "sgd" or "adam", got ${JSON.stringify(o?.type ?? null)}.`);
  }
  // The optimizer ops' own checks, so the ranges are stated once.
  if (optimizer.type === 'sgd') checkSgd(optimizer, op, 'optimizer ');
  else checkAdam({ ...optimizer, step: 1 }, op, 'optimizer ');
  if (schedule === undefined || schedule.kind === 'constant') return;
  if (schedule.kind === 'step') {
    posInt(op, 'schedule every', schedule.every);
    numIn(op, 'schedule gamma', schedule.gamma, 0);
  } else if (schedule.kind === 'cosine') {
    nonNegInt(op, 'schedule totalSteps', schedule.totalSteps);
    numIn(op, 'schedule minLr', schedule.minLr ?? 0, 0);
  } else {
    throw new AttributeError(`${op}: schedule kind must be "constant", "step" or "cosine", got ${JSON.stringify((schedule as { kind?: unknown }).kind ?? null)}.`);
  }
}
