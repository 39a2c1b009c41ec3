// Reliability: a lost device mid-training and an exact resume from the last checkpoint,
// the NaN guard, a soak run for leaks, two models trained interleaved on one engine, and
// random sequences of API calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvGpuError, DeviceError, DisposedError, NonFiniteError } from '../src/errors.js';
import { evaluate, trainEpochs } from '../src/nn/train.js';
import { verify } from '../src/nn/verify.js';
import { sizeOf } from '../src/shape.js';
import { decodeInto, encodeModel } from '../src/nn/checkpoint.js';
import { Sequential } from '../src/nn/graph.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../src/nn/layers.js';
import { Model, type InferPlan, type ModelOptions, type TrainPlan } from '../src/nn/model.js';
import { Engine } from '../src/runtime/engine.js';
import { randomGraph } from './helpers/random-graph.js';
import { rng } from './helpers/rng.js';
import { sweep } from './helpers/sweep.js';

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

  // Random sequences of public calls on random graphs, each call awaited or left running while
  // the next starts, bad input mixed in, and a model disposed while a plan compiles. Any GPU
  // command WebGPU rejected, any error that is not a ConvGpuError, or any buffer left taken
  // once every model is gone fails. It found the overlapping-read, profile and dispose-race bugs.
  const { seed, count } = sweep(11, 6);
  it(`${count} random sequences of API calls (seed ${seed}): no GPU error, only ConvGpuErrors, nothing left taken`, async () => {
    const base = engine.memory();
    const u = rng(seed);
    const ri = (n: number): number => Math.floor(u() * n);
    const bare: string[] = [];
    let refused = 0;
    for (let it = 0; it < count; it++) {
      const rg = randomGraph(seed * 1000 + it);
      const b = 1 + ri(4);
      const per = sizeOf(rg.graph.inputShape);
      const classes = rg.graph.shapes(1)[rg.graph.output.id]!.at(-1)!;
      const m = new Model(engine, rg.graph, { seed: it, optimizer: u() < 0.5 ? { type: 'sgd', lr: 0.01, momentum: 0.9 } : { type: 'adam', lr: 1e-3 } });
      const x = (bad: boolean): Float32Array => {
        const v = Float32Array.from({ length: b * per }, () => u() * 2 - 1);
        if (bad) v[ri(v.length)] = Number.NaN;
        return v;
      };
      const y = (bad: boolean): Float32Array => Float32Array.from({ length: b }, () => (bad ? classes : ri(classes)));
      let trainer: Promise<TrainPlan> | null = null;
      let predictor: Promise<InferPlan> | null = null;
      const running: Promise<void>[] = [];
      for (let k = 0; k < 14; k++) {
        const [act, bad] = [ri(11), u() < 0.15];
        const call = async (): Promise<unknown> => {
          if (act === 0) return (await (trainer ??= m.trainer(b))).step(x(bad), y(bad && u() < 0.5), u() < 0.5);
          if (act === 1) return (await (predictor ??= m.predictor(b))).run(x(bad));
          if (act === 2) return m.setParams(await m.getParams(), await m.getState());
          if (act === 3) {
            const bytes = await encodeModel(m, { epoch: 0, modelName: 'random', seed: 1 });
            if (bad) bytes[bytes.length - 3]! ^= 1; // caught by the CRC
            return decodeInto(m, bytes);
          }
          if (act === 4) return trainer && (await trainer).profile();
          if (act === 5) return u() < 0.3 && verify(m, x(false), y(false), b);
          if (act === 6) return evaluate(m, { images: x(false), labels: Uint8Array.from(y(false)), n: b, shape: rg.graph.inputShape as [number, number, number] }, { batch: b });
          if (act === 7) return engine.scope(async () => (await engine.tensor(x(bad), [b * per]).read()).length);
          if (act === 8) {
            // A burst, as from input events: reads of one plan each started before the last resolved.
            const [t, p] = [await (trainer ??= m.trainer(b)), await (predictor ??= m.predictor(b))];
            return Promise.all([p.run(x(false)), t.step(x(false), y(false), true), p.run(x(false)), t.step(x(false), y(false), true)]);
          }
          if (act === 9) {
            const n = 1 + ri(5);
            return m.predict(Float32Array.from({ length: n * per }, () => u()), n);
          }
          return m.findNonFinite();
        };
        const done = call().then(
          () => undefined,
          (e: unknown) => {
            if (e instanceof ConvGpuError) refused++;
            else bare.push(`${rg.label}, call ${act}: ${String(e)}`);
          },
        );
        if (u() < 0.5) await done;
        else running.push(done);
      }
      await Promise.all(running);
      if (u() < 0.3) {
        const compiling = m.trainer(b);
        m.dispose();
        await expect(compiling).rejects.toThrow(DisposedError);
      } else {
        m.dispose();
      }
      await engine.sync();
      expect(engine.gpuError, rg.label).toBeNull();
    }
    expect(bare).toEqual([]);
    expect(refused).toBeGreaterThan(0); // the bad input was met
    expect(engine.memory().liveBytes).toBe(base.liveBytes);
    expect(engine.memory().liveBuffers).toBe(base.liveBuffers);
  });
});
