// BatchNorm2d: the reference against finite differences and a hand-computed case, then the
// GPU layer against the reference in a whole model (training steps, running statistics,
// inference with the running statistics).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d, batchNorm2dBackward } from '../src/reference/batchnorm2d.js';
import { CpuModel } from '../src/nn/cpu-model.js';
import { Sequential } from '../src/nn/graph.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU } from '../src/nn/layers.js';
import { Model } from '../src/nn/model.js';
import { verify, formatVerify } from '../src/nn/verify.js';
import { Engine } from '../src/runtime/engine.js';
import { randomHost, rng } from './helpers/rng.js';

describe('BatchNorm2d reference', () => {
  it('normalises a hand-computed case', () => {
    const x = { shape: [1, 1, 2, 2], data: Float64Array.of(1, 2, 3, 4) };
    const r = batchNorm2d(x, { shape: [1], data: Float64Array.of(2) }, { shape: [1], data: Float64Array.of(0.5) }, { shape: [2, 1], data: Float64Array.of(0, 1) }, { training: true, eps: 0, momentum: 0.1 });
    const sd = Math.sqrt(1.25); // mean 2.5, biased variance 1.25
    expect([...r.y.data]).toEqual([1, 2, 3, 4].map((v) => (2 * (v - 2.5)) / sd + 0.5));
    expect(r.running.data[0]).toBeCloseTo(0.25, 12); // 0.9·0 + 0.1·2.5
    expect(r.running.data[1]).toBeCloseTo(0.9 + 0.1 * (5 / 3), 12); // unbiased variance 5/3
  });

  it('backward matches central finite differences in float64', () => {
    // L = Σ r ⊙ y; h = 1e-6 gives ~1e-10 truncation and ~1e-10 rounding error on O(1) sums.
    const x = randomHost([2, 3, 3, 2], 1);
    const gamma = randomHost([3], 2, 0.5, 1.5);
    const beta = randomHost([3], 3);
    const running = { shape: [2, 3], data: Float64Array.of(0, 0, 0, 1, 1, 1) };
    const r = randomHost([2, 3, 3, 2], 4);
    const loss = (xx: typeof x, g: typeof gamma, b: typeof beta): number =>
      batchNorm2d(xx, g, b, running, { training: true }).y.data.reduce((s, v, i) => s + v * r.data[i]!, 0);
    const { dx, dgamma, dbeta } = batchNorm2dBackward(x, r, gamma);
    const h = 1e-6;
    const fd = (t: typeof x, i: number): number => {
      const o = t.data[i]!;
      t.data[i] = o + h;
      const up = loss(x, gamma, beta);
      t.data[i] = o - h;
      const down = loss(x, gamma, beta);
      t.data[i] = o;
      return (up - down) / (2 * h);
    };
    x.data.forEach((_, i) => expect(dx.data[i]).toBeCloseTo(fd(x, i), 6));
    gamma.data.forEach((_, i) => expect(dgamma.data[i]).toBeCloseTo(fd(gamma, i), 6));
    beta.data.forEach((_, i) => expect(dbeta.data[i]).toBeCloseTo(fd(beta, i), 6));
  });
});

describe('BatchNorm2d on WebGPU', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create();
  });
  afterAll(() => engine?.destroy());

  const net8 = () => new Sequential([2, 8, 6], [new Conv2d(2, 5, 3, { padding: 1 }), new BatchNorm2d(5), new ReLU(), new Flatten(), new Linear(5 * 8 * 6, 10)]);

  // 7×6 planes run the per-element kernels one element an invocation; 8×6 as vec4s.
  for (const [h, w] of [[7, 6], [8, 6]] as const) {
    const net = () =>
      new Sequential([2, h, w], [new Conv2d(2, 5, 3, { padding: 1 }), new BatchNorm2d(5), new ReLU(), new Flatten(), new Linear(5 * h * w, 10)]);

    it(`a training step on ${h}×${w} planes matches the CPU reference layer by layer, running statistics included`, async () => {
      const m = new Model(engine, net(), { seed: 4, optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 } });
      const u = rng(8);
      const B = 6;
      const x = Float32Array.from({ length: B * 2 * h * w }, () => u() * 2 - 1);
      const y = Float32Array.from({ length: B }, () => Math.floor(u() * 10));
      const plan = await m.trainer(B);
      for (let i = 0; i < 2; i++) await plan.step(x, y); // so momentum and running statistics are non-trivial
      const rep = await verify(m, x, y, B);
      expect(rep.ok, formatVerify(rep)).toBe(true);
      expect(rep.rows.some((r) => r.what === 'batchnorm2d_0.running update')).toBe(true);
      // Inference uses the running statistics, on both backends.
      const cpu = new CpuModel(m.graph);
      cpu.setParams(await m.getParams());
      const gpuLogits = await (await m.predictor(B)).run(x);
      const cpuLogits = cpu.predict(x, B);
      gpuLogits.forEach((v, i) => expect(Math.abs(v - cpuLogits[i]!)).toBeLessThan(1e-4));
      const running = (await m.getParams())['batchnorm2d_0.running']!.data;
      expect(running.slice(5).every((v) => v > 0)).toBe(true); // variances moved from 1, still positive
      expect(running.slice(0, 5).some((v) => v !== 0)).toBe(true); // means moved from 0
      m.dispose();
    });
  }

  it('LeNet with BatchNorm: verify holds conv biases before BatchNorm (gradient exactly 0) to the rounding of a cancelling sum', async () => {
    const net = new Sequential([1, 28, 28], [
      new Conv2d(1, 6, 5, { padding: 2 }), new BatchNorm2d(6), new ReLU(),
      new Conv2d(6, 16, 5), new BatchNorm2d(16), new ReLU(), new Flatten(), new Linear(16 * 24 * 24, 10),
    ]);
    const m = new Model(engine, net, { seed: 2, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 } });
    const B = 16;
    const x = Float32Array.from({ length: B * 784 }, (_, i) => Math.sin(i * 0.37));
    const y = Float32Array.from({ length: B }, (_, i) => i % 10);
    const rep = await verify(m, x, y, B);
    expect(rep.ok, formatVerify(rep)).toBe(true);
    // Against 1e-3 of the largest gradient these rows read ~5e-4 here (and up to 5e-3 in
    // random graphs): rounding noise, now measured against 1e-1 of it.
    for (const name of ['conv2d_0.bias grad', 'conv2d_1.bias grad']) expect(rep.rows.find((r) => r.what === name)!.rel).toBeLessThan(1e-4);
    m.dispose();
  });

  it('with Adam, verify passes where a conv bias feeds BatchNorm (its gradient is zero up to rounding)', async () => {
    // BatchNorm removes the bias, so its exact gradient is 0 and each backend's is rounding
    // noise, which Adam scales to ±lr steps: the update rows check Adam on WebGPU's gradients.
    const m = new Model(engine, net8(), { seed: 3, optimizer: { type: 'adam', lr: 1e-3 } });
    const u = rng(9);
    const B = 4;
    const x = Float32Array.from({ length: B * 2 * 8 * 6 }, () => u() * 2 - 1);
    const y = Float32Array.from({ length: B }, () => Math.floor(u() * 10));
    const plan = await m.trainer(B);
    for (let i = 0; i < 2; i++) await plan.step(x, y); // Adam's moments non-trivial
    const rep = await verify(m, x, y, B);
    expect(rep.ok, formatVerify(rep)).toBe(true);
    expect(rep.rows.find((r) => r.what === 'conv2d_0.bias update')!.maxAbs).toBeLessThan(1e-7); // lr is 1e-3
    m.dispose();
  });
});
