// What every backend's runner gets (seeded inputs in convgpu layouts) and gives back
// (a prepared item that runs once per call).
import { CpuModel } from '../../src/nn/cpu-model.js';
import type { NamedTensor } from '../../src/nn/model.js';
import type { OptimizerSpec } from '../../src/nn/optim.js';
import type { Timing } from '../../src/runtime/gpu-timer.js';
import { lenet } from '../../src/nn/models.js';
import { convOut } from './items.js';
import { randomArray, sizeOf } from './data.js';
import type { ItemSpec } from './types.js';

/** The training step's optimizer, the same on every backend (TF.js: tf.train.momentum). */
export const OPTIMIZER: OptimizerSpec = { type: 'sgd', lr: 0.01, momentum: 0.9 };

export interface Inputs {
  seed: number;
  /** By name, in convgpu layouts: a, b (gemm); x, w, dy (conv, pool); x, labels (train). */
  arrays: Record<string, Float32Array>;
  /** Training: the initial weights (convgpu names and layouts), the same for every backend. */
  params?: Record<string, NamedTensor>;
}

export interface TrainOutput {
  loss: number;
  /** Parameter gradients of the first step, by convgpu name, in convgpu layouts. */
  grads: Record<string, Float32Array>;
}

export type Output = Float32Array | TrainOutput;

export interface RunResult {
  /** Call (or submit) to the output read back into JS. */
  wallMs: number;
  /** The result in convgpu's layout; required when run(true). */
  out?: Output;
}

export interface Prepared {
  /** One run; with check, also returns the output for verification. */
  run(check: boolean): Promise<RunResult>;
  /**
   * convgpu: one more run of the op's dispatches, timed by GpuTimer. A pass of its own, taken
   * after a timed run and never before one, so that each timed run (in a cell and head to head)
   * follows whatever ran before it, as TF.js's does.
   */
  gpuTime?(): Promise<Timing>;
  /** convgpu: each dispatch's GPU time in a pass of its own (GpuTimer.timeEach); null without timestamps. */
  kernelTimes?(): Promise<Array<{ kernel: string; ms: number }> | null>;
  /** TF.js webgpu: kernel time of one run from tf.time. */
  kernelMs?(): Promise<number | undefined>;
  dispose(): void;
}

export function makeInputs(item: ItemSpec, seed: number): Inputs {
  const arrays: Record<string, Float32Array> = {};
  const rnd = (name: string, shape: number[], k: number): void => {
    arrays[name] = randomArray(sizeOf(shape), seed * 31 + k);
  };
  switch (item.kind) {
    case 'gemm':
      rnd('a', [item.m, item.k], 1);
      rnd('b', [item.k, item.n], 2);
      break;
    case 'conv':
      if (item.pass !== 'bwdInput') rnd('x', item.x, 1);
      if (item.pass !== 'bwdFilter') rnd('w', item.w, 2);
      if (item.pass !== 'fwd') rnd('dy', convOut(item.x, item.w, item.pad), 3);
      break;
    case 'pool': {
      rnd('x', item.x, 1);
      const [n, c, h, w] = item.x as [number, number, number, number];
      if (item.pass === 'bwd') rnd('dy', [n, c, h / item.size, w / item.size], 3);
      break;
    }
    case 'train': {
      // Images in [0, 1), labels 0..9 as f32, and the weights convgpu's init gives (same seed).
      arrays.x = randomArray(item.batch * 784, seed * 31 + 1).map((v) => (v + 1) / 2);
      arrays.labels = Float32Array.from({ length: item.batch }, (_, i) => (i * 7 + seed) % 10);
      return { seed, arrays, params: new CpuModel(lenet(item.c1, item.c2), { seed, optimizer: OPTIMIZER }).getParams() };
    }
  }
  return { seed, arrays };
}
