// Reliability: a lost device mid-training and an exact resume from the last checkpoint,
// the NaN guard, a soak run for leaks, and two models trained interleaved on one engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceError, NonFiniteError } from '../src/errors.js';
import { trainEpochs } from '../src/nn/train.js';
import { decodeInto, encodeModel } from '../src/nn/checkpoint.js';
import { Sequential } from '../src/nn/graph.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../src/nn/layers.js';
import { Model, type ModelOptions } from '../src/nn/model.js';
import { Engine } from '../src/runtime/engine.js';
import { rng } from './helpers/rng.js';

const B = 8;
const tiny = () =>
  new Sequential([1, 10, 10], [new Conv2d(1, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(4 * 25, 10)]);
const opts: ModelOptions = { seed: 7, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 } };

/** Seeded batches, the same on every call. */
function data(steps: number, seed = 3): Array<{ x: Float32Array; y: Float32Array }> {
  const u = rng(seed);
  return Array.from({ length: steps }, () => ({
    x: Float32Array.from({ length: B * 100 }, () => u()),
    y: Float32Array.from({ length: B }, () => Math.floor(u() * 10)),
  }));
}

async function params(m: Model): Promise<Float32Array> {
  const p = await m.getParams();
  return Float32Array.from(Object.values(p).flatMap((t) => [...t.data]));
}

describe('reliability', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create();
  });
  afterAll(() => engine?.destroy());

  it('a lost device is reported, and training resumes from the last checkpoint on a new device with nothing lost', async () => {
    const batches = data(8);
    // The uninterrupted run, for reference.
    const ref = new Model(engine, tiny(), opts);
    const refPlan = await ref.trainer(B);
    for (const b of batches) await refPlan.step(b.x, b.y);
    const want = await params(ref);
    ref.dispose();

    const e1 = await Engine.create();
    const m1 = new Model(e1, tiny(), opts);
    const p1 = await m1.trainer(B);
    for (const b of batches.slice(0, 5)) await p1.step(b.x, b.y);
    const checkpoint = await encodeModel(m1, { epoch: 0, modelName: 'tiny', seed: 7 });
    await p1.step(batches[5]!.x, batches[5]!.y); // work after the checkpoint: lost with the device
    const lost = new Promise<string>((resolve) => e1.onLost(resolve));
    e1.device.destroy();
    expect(await lost).toMatch(/destroyed/);
    await expect(p1.step(batches[6]!.x, batches[6]!.y)).rejects.toThrow(DeviceError);
    await expect(p1.step(batches[6]!.x, batches[6]!.y)).rejects.toThrow(/lost.*checkpoint/);

    const e2 = await Engine.create();
    try {
      const m2 = new Model(e2, tiny(), opts);
      decodeInto(m2, checkpoint);
      expect(m2.step).toBe(5);
      const p2 = await m2.trainer(B);
      for (const b of batches.slice(5)) await p2.step(b.x, b.y);
      expect(await params(m2)).toEqual(want);
    } finally {
      e2.destroy();
    }
  });

  it('the NaN guard names the first layer whose gradients or weights are not finite', async () => {
    const m = new Model(engine, tiny(), { seed: 1, optimizer: { type: 'sgd', lr: 1e30 } });
    const plan = await m.trainer(B);
    expect(await m.findNonFinite()).toBeNull();
    let found = null;
    for (const b of data(10)) {
      await plan.step(b.x, b.y);
      found = await m.findNonFinite();
      if (found) break;
    }
    expect(found).not.toBeNull();
    expect(found!.name).toMatch(/^(conv2d_0|linear_0)\.(weight|bias)$/);
    expect(found!.layer).toMatch(/\((Conv2d|Linear)\)$/);
    m.dispose();

    // In the training loop: opt-in, stops with a NonFiniteError that names the layer.
    const u = rng(5);
    const ds = { images: Float32Array.from({ length: 64 * 100 }, () => u()), labels: Uint8Array.from({ length: 64 }, () => Math.floor(u() * 10)), n: 64, shape: [1, 10, 10] as [number, number, number] };
    const m2 = new Model(engine, tiny(), { seed: 1, optimizer: { type: 'sgd', lr: 1e30 } });
    await expect(trainEpochs(m2, ds, { epochs: 1, batch: B, seed: 1, nanCheckEvery: 2 })).rejects.toThrow(NonFiniteError);
    await expect(trainEpochs(m2, ds, { epochs: 1, batch: B, seed: 1, nanCheckEvery: 2 })).rejects.toThrow(/(conv2d_0|linear_0).*Lower the learning rate/);
    m2.dispose();
  });

  it('soak: 1000 training steps and 20 model lifetimes return GPU memory to its baseline; the pool stays bounded', async () => {
    const base = engine.memory();
    const m = new Model(engine, tiny(), opts);
    const plan = await m.trainer(B);
    const batches = data(10);
    await plan.step(batches[0]!.x, batches[0]!.y);
    const afterFirst = engine.memory();
    for (let i = 1; i < 1000; i++) {
      const b = batches[i % batches.length]!;
      const r = await plan.step(b.x, b.y, i % 100 === 0);
      if (r) expect(Number.isFinite(r.loss)).toBe(true);
    }
    const after1000 = engine.memory();
    expect(after1000.created).toBe(afterFirst.created); // no buffer made by a step
    expect(after1000.liveBytes).toBe(afterFirst.liveBytes);
    m.dispose();
    for (let i = 0; i < 20; i++) {
      const mi = new Model(engine, tiny(), { ...opts, seed: i });
      const pi = await mi.trainer(B);
      await pi.step(batches[0]!.x, batches[0]!.y);
      const inf = await mi.predictor(B);
      await inf.run(batches[1]!.x);
      mi.dispose();
    }
    const end = engine.memory();
    console.log(`soak: before ${JSON.stringify(base)}\n      after  ${JSON.stringify(end)}`);
    expect(end.liveBytes).toBe(base.liveBytes);
    expect(end.liveBuffers).toBe(base.liveBuffers);
    expect(end.pooledBytes).toBeLessThanOrEqual(engine.pool.maxPooledBytes);
    // Models of one shape reuse pooled buffers: 20 lifetimes make few or no new ones.
    expect(end.created - after1000.created).toBeLessThan(20);
  });

  it('two models trained with interleaved steps on one engine match each trained alone', async () => {
    const bs = data(6, 11);
    const solo = async (seed: number): Promise<Float32Array> => {
      const m = new Model(engine, tiny(), { ...opts, seed });
      const p = await m.trainer(B);
      for (const b of bs) await p.step(b.x, b.y);
      const out = await params(m);
      m.dispose();
      return out;
    };
    const wantA = await solo(1);
    const wantB = await solo(2);
    const a = new Model(engine, tiny(), { ...opts, seed: 1 });
    const b = new Model(engine, tiny(), { ...opts, seed: 2 });
    const [pa, pb] = await Promise.all([a.trainer(B), b.trainer(B)]);
    // Submitted without waiting in between, so the GPU queue holds both models' work.
    const pending: Array<Promise<unknown>> = [];
    for (const bt of bs) pending.push(pa.step(bt.x, bt.y), pb.step(bt.x, bt.y));
    await Promise.all(pending);
    expect(await params(a)).toEqual(wantA);
    expect(await params(b)).toEqual(wantB);
    a.dispose();
    b.dispose();
  });
});
