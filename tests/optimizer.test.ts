// The optimizer step split over storage bindings, on the GPU: parameters together may outgrow
// one binding (AlexNet's 61M), so the optimizer binds the flat stores in chunks. No dataset here,
// so the GPU machine's script (scripts/gpu-machine/run.sh), which carries none, runs it too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, bindingChunks } from '../src/nn/model.js';
import { lenet } from '../src/nn/models.js';
import type { Engine } from '../src/runtime/engine.js';
import { sizeOf } from '../src/shape.js';
import { gpuBackend } from './helpers/gpu.js';
import { rng } from './helpers/rng.js';

let engine: Engine;
beforeAll(async () => {
  engine = (await gpuBackend()).engine;
});
afterAll(() => engine?.destroy());

describe('an optimizer step split over storage bindings (parameters beyond one binding)', () => {
  it('bindingChunks covers the range in order, each chunk bindable (aligned, whole vec4s) and no longer than asked', () => {
    for (const [total, max, align] of [[1000, 100, 4], [1000, 100, 64], [999, 1000, 64], [61706, 4096, 64], [5, 1, 4], [0, 8, 4]] as const) {
      const chunks = bindingChunks(total, max, align);
      let next = 0;
      for (const [start, n] of chunks) {
        expect(start).toBe(next);
        expect(start % Math.max(4, align)).toBe(0);
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThanOrEqual(Math.max(max, Math.max(4, align)));
        next = start + n;
      }
      expect(next).toBe(total);
    }
  });

  for (const optimizer of [{ type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }, { type: 'adam', lr: 0.01, weightDecay: 1e-3 }] as const) {
    it(`${optimizer.type}: chunks of a few hundred values update parameters and state bit for bit as one dispatch does`, async () => {
      const models = [new Model(engine, lenet(), { seed: 3, optimizer }), new Model(engine, lenet(), { seed: 3, optimizer })];
      try {
        const r = rng(11);
        const grads = models[0]!.paramEntries.map((e) => ({ name: e.name, data: Float32Array.from({ length: sizeOf(e.spec.shape) }, () => r() * 2 - 1) }));
        // 300 values: chunk edges fall inside tensors (LeNet's are 150 to 48,000 long), and the last chunk is short.
        const split = models[1]!.optimizerDispatches(300);
        expect(models[0]!.optimizerDispatches()).toHaveLength(1);
        expect(split.length).toBeGreaterThan(100);
        const before = (await models[0]!.getParams())['conv2d_0.weight']!.data;
        for (let step = 0; step < 2; step++) {
          for (const m of models) for (const g of grads) m.grads.write(g.name, g.data);
          await engine.run(...models[0]!.optimizerDispatches());
          await engine.run(...split);
        }
        const [a, b] = await Promise.all(models.map(async (m) => ({ params: await m.getParams(), state: await m.getState() })));
        expect(a!.params['conv2d_0.weight']!.data).not.toEqual(before);
        for (const name of Object.keys(a!.params)) expect(b!.params[name]!.data, name).toEqual(a!.params[name]!.data);
        for (const slot of Object.keys(a!.state)) for (const name of Object.keys(a!.state[slot]!)) expect(b!.state[slot]![name]!.data, `${slot} ${name}`).toEqual(a!.state[slot]![name]!.data);
      } finally {
        for (const m of models) m.dispose();
      }
    });
  }
});
