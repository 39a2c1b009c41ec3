// The one median (and min/max) every benchmark script reports, and GPU-time samples kept to
// one timing source per cell.
import type { Timing } from '../../src/runtime/gpu-timer.js';
import type { Stats } from './types.js';

/** The middle value; for an even count the mean of the two middle ones (not the lower: a 2-run median was its min). */
export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function stats(xs: readonly number[]): Stats {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * GpuTimer samples of one cell, from one source: timestamp-query when every sample had it;
 * when any fell back to wall time (submit to onSubmittedWorkDone, which includes the submit),
 * the wall samples alone, since a median over both would mix two different measures.
 */
export function gpuStats(samples: readonly Timing[]): { gpu: Stats; source: Timing['source']; note?: string } | undefined {
  if (!samples.length) return undefined;
  const wall = samples.filter((t) => t.source === 'wall');
  if (!wall.length) return { gpu: stats(samples.map((t) => t.ms)), source: 'timestamp' };
  const mixed = wall.length < samples.length;
  return {
    gpu: stats(wall.map((t) => t.ms)),
    source: 'wall',
    note: mixed ? `GPU time from the ${wall.length} of ${samples.length} samples that fell back to wall time (the other ${samples.length - wall.length} had timestamps)` : undefined,
  };
}
