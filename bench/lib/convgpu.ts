// convgpu's side: the op's dispatches (src/ops) on the engine, timed by GpuTimer, and the
// end-to-end time to the output read back; a training step through Model.trainer.
import * as conv from '../../src/ops/conv2d.js';
import { gemmDispatches, gemmScratch } from '../../src/ops/gemm.js';
import { conv2dGeom, pool2dGeom } from '../../src/ops/geometry.js';
import { maxPool2dBwdDispatch, maxPool2dFwdDispatch } from '../../src/ops/maxpool2d.js';
import { Model } from '../../src/nn/model.js';
import { lenet } from '../../src/nn/models.js';
import type { Dispatch, Engine } from '../../src/runtime/engine.js';
import { GpuTimer } from '../../src/runtime/gpu-timer.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import type { Inputs, Prepared } from './runner.js';
import { OPTIMIZER } from './runner.js';
import type { ItemSpec } from './types.js';

export async function prepareConvgpu(engine: Engine, timer: GpuTimer, item: ItemSpec, inp: Inputs): Promise<Prepared> {
  if (item.kind === 'train') return prepareTrain(engine, item, inp);
  const owned: Tensor[] = [];
  const up = (name: string, shape: number[]): GPUBuffer => {
    const t = engine.tensor(inp.arrays[name]!, shape);
    owned.push(t);
    return t.buffer;
  };
  const empty = (floats: number): Tensor => {
    const t = engine.empty([Math.max(floats, 4)]);
    owned.push(t);
    return t;
  };
  let ds: Dispatch[];
  let out: Tensor;
  let outFloats: number;
  if (item.kind === 'gemm') {
    const g = { batch: 1, m: item.m, n: item.n, k: item.k, transA: false, transB: false, broadcastB: false };
    outFloats = item.m * item.n;
    out = empty(outFloats);
    const scratch = Object.fromEntries(Object.entries(gemmScratch(engine, g)).map(([k, f]) => [k, empty(f).buffer]));
    ds = gemmDispatches(engine, g, up('a', [item.m, item.k]), up('b', [item.k, item.n]), out.buffer, {}, scratch);
  } else if (item.kind === 'conv') {
    const g = conv2dGeom(item.x, item.w, { padding: item.pad });
    const yFloats = g.n * g.o * g.oh * g.ow;
    const xFloats = item.x.reduce((a, b) => a * b);
    const scratch = Object.fromEntries(Object.entries(conv.conv2dScratch(engine, g, item.pass)).map(([k, f]) => [k, empty(f).buffer]));
    if (item.pass === 'fwd') {
      outFloats = yFloats;
      out = empty(outFloats);
      ds = conv.conv2dFwdDispatches(engine, g, up('x', item.x), up('w', item.w), out.buffer, scratch);
    } else if (item.pass === 'bwdInput') {
      outFloats = xFloats;
      out = empty(outFloats);
      ds = conv.conv2dBwdInputDispatches(engine, g, up('dy', [g.n, g.o, g.oh, g.ow]), up('w', item.w), out.buffer, scratch);
    } else {
      outFloats = item.w.reduce((a, b) => a * b);
      out = empty(outFloats);
      ds = conv.conv2dBwdFilterDispatches(engine, g, up('x', item.x), up('dy', [g.n, g.o, g.oh, g.ow]), out.buffer, scratch);
    }
  } else {
    const g = pool2dGeom(item.x, { kernelSize: item.size }, 'bench');
    const xFloats = item.x.reduce((a, b) => a * b);
    if (item.pass === 'fwd') {
      outFloats = g.n * g.c * g.oh * g.ow;
      out = empty(outFloats);
      ds = [maxPool2dFwdDispatch(engine, g, up('x', item.x), out.buffer)];
    } else {
      outFloats = xFloats;
      out = empty(outFloats);
      ds = [maxPool2dBwdDispatch(engine, g, up('x', item.x), up('dy', [g.n, g.c, g.oh, g.ow]), out.buffer)];
    }
  }
  const bytes = outFloats * 4;
  return {
    async run() {
      // The wall time as a user gets it: run (one submit) and read back (copy + map), one round
      // trip, as TF.js's op + data().
      const t0 = performance.now();
      await engine.run(...ds);
      const data = await engine.readBuffer(out.buffer, bytes);
      return { wallMs: performance.now() - t0, out: data };
    },
    gpuTime: () => timer.time(ds),
    kernelTimes: ds.length > 1 ? () => timer.timeEach(ds) : undefined,
    dispose() {
      for (const t of owned) t.dispose();
    },
  };
}

/**
 * A LeNet training step: the compiled plan (one submit), timed from step() to its loss read
 * back, as TF.js's step is to its loss's data(): both end on one readback that follows the
 * update (step() copies the loss, with the logits, after the optimizer in the same submit).
 */
async function prepareTrain(engine: Engine, item: Extract<ItemSpec, { kind: 'train' }>, inp: Inputs): Promise<Prepared> {
  const model = new Model(engine, lenet(item.c1, item.c2), { seed: inp.seed, optimizer: OPTIMIZER });
  model.setParams(inp.params!);
  const x = inp.arrays.x!;
  const labels = inp.arrays.labels!;
  let plan: Awaited<ReturnType<Model['trainer']>> | null = null;
  return {
    async run(check) {
      const t0 = performance.now();
      plan ??= await model.trainer(item.batch);
      const r = await plan.step(x, labels, true);
      const wallMs = performance.now() - t0;
      if (!check) return { wallMs };
      const grads = await model.grads.readAll();
      return { wallMs, out: { loss: r!.loss, grads: Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.data])) } };
    },
    dispose() {
      model.dispose();
    },
  };
}
