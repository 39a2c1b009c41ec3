// Hostile inputs to models, data files and checkpoints (the op API has its own table in
// errors.test.ts). Each row expects its own error class and a message that names the
// layer, file or op and says what to do; a failed load leaves the old weights intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/data/errors.js';
import { parseIdx } from '../src/data/idx.js';
import { mnistFromBytes } from '../src/data/mnist.js';
import { AttributeError, DeviceError, DeviceLimitError, DisposedError, NonFiniteError, ShapeError } from '../src/errors.js';
import { CheckpointError } from '../src/io/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { decodeInto, encodeModel } from '../src/nn/checkpoint.js';
import { Graph, Sequential } from '../src/nn/graph.js';
import { Add, BatchNorm2d, Concat, Conv2d, Dropout, Flatten, LeakyReLU, Linear, MaxPool2d, ReLU } from '../src/nn/layers.js';
import { Model, flatLayout } from '../src/nn/model.js';
import { CpuModel } from '../src/nn/cpu-model.js';
import { lenet, mlp } from '../src/nn/models.js';
import { Engine } from '../src/runtime/engine.js';

type ErrorClass = new (message?: string) => Error;
interface Row {
  name: string;
  error: ErrorClass;
  /** What the message must say (the layer, file or op, and the fix). */
  message: RegExp;
  run(ctx: Ctx): unknown;
}
interface Ctx {
  engine: Engine;
  model: Model;
  good: Uint8Array;
}

const tiny = (): Sequential => new Sequential([1, 8, 8], [new Conv2d(1, 2, 3), new ReLU(), new Flatten(), new Linear(72, 10)]);

/** An IDX file of unsigned bytes with the given dims. */
function idx(dims: number[], extra = 0): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + n + extra);
  const dv = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
  return out;
}

const flip = (b: Uint8Array, at: number): Uint8Array => {
  const c = b.slice();
  c[at]! ^= 0xff;
  return c;
};

const rows: Row[] = [
  // Model definitions: reported when the layer is added, naming it.
  { name: 'Linear with the wrong in-features', error: ShapeError, message: /linear_0 \(Linear\).*100 input features.*\[1, 72\]/, run: () => new Sequential([1, 8, 8], [new Conv2d(1, 2, 3), new Flatten(), new Linear(100, 10)]) },
  { name: 'Linear on an image (no Flatten)', error: ShapeError, message: /linear_0 \(Linear\).*add a Flatten/, run: () => new Sequential([1, 8, 8], [new Linear(64, 10)]) },
  { name: 'a pool that shrinks the image to nothing, then a conv', error: ShapeError, message: /conv2d_1 \(Conv2d\).*larger than the padded input/, run: () => new Sequential([1, 8, 8], [new Conv2d(1, 2, 3), new MaxPool2d(4), new Conv2d(2, 2, 3)]) },
  { name: 'conv channels do not match the input', error: ShapeError, message: /conv2d_0 \(Conv2d\).*3 input channels.*\[1, 1, 8, 8\]/, run: () => new Sequential([1, 8, 8], [new Conv2d(3, 2, 3)]) },
  { name: 'negative padding', error: AttributeError, message: /conv2d_0 \(Conv2d\).*padding.*non-negative/, run: () => new Sequential([1, 8, 8], [new Conv2d(1, 2, 3, { padding: -1 })]) },
  { name: 'fractional stride', error: AttributeError, message: /conv2d_0 \(Conv2d\).*stride.*positive integer/, run: () => new Sequential([1, 8, 8], [new Conv2d(1, 2, 3, { stride: 1.5 })]) },
  { name: 'groups that do not divide the channels', error: AttributeError, message: /groups=2 must divide/, run: () => new Sequential([3, 8, 8], [new Conv2d(3, 4, 3, { groups: 2 })]) },
  { name: 'a zero input size', error: ShapeError, message: /Graph: input shape \[1, 0, 8\].*positive integer/, run: () => new Graph([1, 0, 8]) },
  { name: 'Add of mismatched branches', error: ShapeError, message: /add_0 \(Add\).*\[1, 2, 6, 6\] and \[1, 2, 8, 8\]/, run: () => { const g = new Graph([2, 8, 8]); const a = g.add(new Conv2d(2, 2, 3)); g.add(new Add(), a, g.input); } },
  { name: 'Concat of mismatched H and W', error: ShapeError, message: /concat_0 \(Concat\).*agree in N, H and W/, run: () => { const g = new Graph([2, 8, 8]); const a = g.add(new Conv2d(2, 2, 3)); g.add(new Concat(), a, g.input); } },
  { name: 'Dropout p = 1', error: AttributeError, message: /Dropout: p must be in \[0, 1\)/, run: () => new Dropout(1) },
  { name: 'LeakyReLU with NaN slope', error: AttributeError, message: /LeakyReLU: alpha/, run: () => new LeakyReLU(NaN) },
  // Training settings, refused when the model is made: an unknown optimizer type had trained as Adam.
  {
    name: 'optimizer type "rmsprop"',
    error: AttributeError,
    message: /^Model: optimizer type must be "sgd" or "adam", got "rmsprop"/,
    // @ts-expect-error: an optimizer the engine does not have, as plain JavaScript may pass
    run: ({ engine }) => new Model(engine, tiny(), { optimizer: { type: 'rmsprop', lr: 0.01 } }),
  },
  { name: 'a negative learning rate', error: AttributeError, message: /^Model: optimizer lr must be ≥ 0, got -0\.1/, run: ({ engine }) => new Model(engine, tiny(), { optimizer: { type: 'sgd', lr: -0.1 } }) },
  { name: 'Adam beta1 of 1 (its bias correction divides by 1 − beta1^t)', error: AttributeError, message: /^CpuModel: optimizer beta1 must be in \[0, 1\), got 1/, run: () => new CpuModel(tiny(), { optimizer: { type: 'adam', lr: 0.01, beta1: 1 } }) },
  {
    name: 'a schedule of unknown kind',
    error: AttributeError,
    message: /^Model: schedule kind must be "constant", "step" or "cosine", got "linear"/,
    // @ts-expect-error: a schedule kind the engine does not have
    run: ({ engine }) => new Model(engine, tiny(), { schedule: { kind: 'linear' } }),
  },
  { name: 'a seed of 1.5', error: AttributeError, message: /^Model: seed must be an integer, got 1\.5/, run: ({ engine }) => new Model(engine, tiny(), { seed: 1.5 }) },
  { name: 'a layer added after a Model was made from the graph', error: AttributeError, message: /Graph\.add: a Model was made from this graph, so its layers are fixed/, run: ({ engine }) => { const g = tiny(); const m = new Model(engine, g); try { g.add(new ReLU()); } finally { m.dispose(); } } },
  // Parameters live in one buffer per kind; only each tensor must fit a binding (the optimizer binds the rest in chunks).
  {
    name: 'a parameter tensor over the device\'s storage binding size',
    error: DeviceLimitError,
    message: /^Model: parameter linear_0\.weight \[1024, \d+\] needs [\d.]+ MiB, over this device's [\d.]+ MiB per storage binding \(maxStorageBufferBindingSize\); make that layer smaller/,
    run: ({ engine }) => {
      const k = Math.floor(engine.limits.maxStorageBufferBindingSize / 4 / 1024) + 1;
      return new Model(engine, new Sequential([1, 1, k], [new Flatten(), new Linear(k, 1024)]));
    },
  },
  {
    name: 'parameters that fit a binding each but not one buffer together',
    error: DeviceLimitError,
    message: /^Model: its 2 parameter tensors need 2560 bytes in one buffer \(params\), over this device's 2048 bytes \(maxBufferSize\)/,
    run: () => flatLayout([{ name: 'a.weight', shape: [300] }, { name: 'b.weight', shape: [300] }], { maxStorageBufferBindingSize: 2048, maxBufferSize: 2048, minStorageBufferOffsetAlignment: 256 }, 'params'),
  },
  { name: 'a dangling branch', error: AttributeError, message: /conv2d_0 \(Conv2d\) is never used.*remove it/, run: ({ engine }) => { const g = new Graph([1, 8, 8]); g.add(new Conv2d(1, 2, 3)); g.add(new Flatten(), g.input); g.add(new Linear(64, 10)); return new Model(engine, g).trainer(2); } },

  // Training and prediction inputs.
  { name: 'a batch with too few values', error: ShapeError, message: /train step: input has 10 values; a batch of 2 × \[1, 8, 8\] needs 128/, run: async ({ model }) => (await model.trainer(2)).step(new Float32Array(10), new Float32Array(2)) },
  { name: 'NaN in a training batch', error: NonFiniteError, message: /train step: input value NaN at flat index 5 .*clean the data/, run: async ({ model }) => { const x = new Float32Array(128); x[5] = NaN; return (await model.trainer(2)).step(x, new Float32Array(2)); } },
  { name: 'a label outside the classes', error: AttributeError, message: /label 10 of example 1 is not a class index in \[0, 10\)/, run: async ({ model }) => (await model.trainer(2)).step(new Float32Array(128), Float32Array.of(3, 10)) },
  { name: 'a batch size of 0', error: AttributeError, message: /trainer: batch must be a positive integer, got 0/, run: ({ model }) => model.trainer(0) },
  // The CPU model refuses the same things, before its forward pass moves any running statistics.
  { name: 'CpuModel: NaN in a training batch', error: NonFiniteError, message: /train step: input value NaN at flat index 5 .*clean the data/, run: () => { const x = new Float32Array(128); x[5] = NaN; new CpuModel(tiny()).trainStep(x, new Float32Array(2), 2); } },
  { name: 'CpuModel: a label outside the classes', error: AttributeError, message: /train step: label 10 of example 1 is not a class index in \[0, 10\)/, run: () => new CpuModel(tiny()).trainStep(new Float32Array(128), Float32Array.of(3, 10), 2) },
  { name: 'CpuModel: a dangling branch', error: AttributeError, message: /conv2d_0 \(Conv2d\) is never used.*remove it/, run: () => { const g = new Graph([1, 8, 8]); g.add(new Conv2d(1, 2, 3)); g.add(new Flatten(), g.input); g.add(new Linear(64, 10)); new CpuModel(g).trainStep(new Float32Array(128), new Float32Array(2), 2); } },
  { name: 'a batch too large for one buffer', error: DeviceLimitError, message: /Model \(batch \d+\): the output of \w+ \((Conv2d|ReLU)\).*use a smaller batch/, run: ({ engine, model }) => model.predictor(Math.ceil(engine.limits.maxStorageBufferBindingSize / (2 * 36 * 4)) + 1) },

  // MNIST IDX files.
  { name: 'IDX: wrong magic', error: DataError, message: /magic/, run: () => parseIdx(Uint8Array.of(1, 2, 8, 1, 0, 0, 0, 1, 0), 'x.idx') },
  { name: 'IDX: float32 type byte', error: DataError, message: /x\.idx.*0x0d|x\.idx.*f32|x\.idx.*float/i, run: () => { const b = idx([2]); b[2] = 0x0d; return parseIdx(b, 'x.idx'); } },
  { name: 'IDX: truncated data', error: DataError, message: /x\.idx.*missing/, run: () => parseIdx(idx([4, 4]).subarray(0, 20), 'x.idx') },
  { name: 'IDX: trailing bytes', error: DataError, message: /x\.idx.*trailing|x\.idx.*extra/i, run: () => parseIdx(idx([2, 2], 3), 'x.idx') },
  { name: 'MNIST: images of the wrong size', error: DataError, message: /\[2, 27, 28\]/, run: () => mnistFromBytes(idx([2, 27, 28]), idx([2]), 'mnist') },
  { name: 'MNIST: label 12', error: DataError, message: /12/, run: () => { const l = idx([1]); l[l.length - 1] = 12; return mnistFromBytes(idx([1, 28, 28]), l, 'mnist'); } },

  // Checkpoints: refused whole, the model's weights untouched (checked after the table).
  { name: 'checkpoint: one flipped byte (CRC)', error: CheckpointError, message: /crc/i, run: ({ model, good }) => decodeInto(model, flip(good, good.length - 7), 'ck') },
  { name: 'checkpoint: truncated', error: CheckpointError, message: /ck/, run: ({ model, good }) => decodeInto(model, good.subarray(0, good.length - 100), 'ck') },
  { name: 'checkpoint: not safetensors at all', error: CheckpointError, message: /ck/, run: ({ model }) => decodeInto(model, new TextEncoder().encode('hello, world'), 'ck') },
  { name: 'checkpoint: F16 dtype', error: CheckpointError, message: /F16.*float32/i, run: () => { const b = encodeSafetensors({ w: { shape: [2], data: new Float32Array(2) } }); const s = new TextDecoder().decode(b).replace('"F32"', '"F16"'); return decodeSafetensors(new TextEncoder().encode(s), 'ck'); } },
  { name: 'checkpoint with a NaN weight (its CRC right: saved after training diverged)', error: NonFiniteError, message: /conv2d_0\.weight" holds NaN at index 5.*earlier checkpoint/, run: ({ model, good }) => { const { tensors, metadata } = decodeSafetensors(good); tensors['conv2d_0.weight']!.data[5] = NaN; return decodeInto(model, encodeSafetensors(tensors, metadata), 'ck'); } },
  { name: 'setParams with an infinite optimizer state', error: NonFiniteError, message: /optimizer state "velocity": "linear_0\.bias" holds Infinity/, run: async ({ model }) => { const st = await model.getState(); st.velocity!['linear_0.bias']!.data[0] = Infinity; model.setParams(await model.getParams(), st); } },
  { name: 'CpuModel.setParams with a tensor the model lacks', error: ShapeError, message: /tensors the model lacks: extra\.weight/, run: async ({ model }) => new CpuModel(tiny()).setParams({ ...(await model.getParams()), 'extra.weight': { shape: [1], data: new Float32Array(1) } }) },
  { name: 'saving a model whose weights went NaN', error: NonFiniteError, message: /save: the parameters: "linear_0\.weight" holds NaN at index 3.*nothing was saved/, run: async ({ engine }) => { const m = new Model(engine, tiny()); try { const w = new Float32Array(720); w[3] = NaN; m.params.write('linear_0.weight', w); return await encodeModel(m, { epoch: 1, modelName: 'tiny', seed: 0 }); } finally { m.dispose(); } } },
  { name: 'checkpoint of another model (mlp into lenet)', error: ShapeError, message: /conv2d_0\.weight|mlp|another model/, run: async ({ engine }) => { const a = new Model(engine, mlp()); const b = new Model(engine, lenet()); try { decodeInto(b, await encodeModel(a, { epoch: 0, modelName: 'mlp', seed: 0 })); } finally { a.dispose(); b.dispose(); } } },

  // Lifetimes.
  { name: 'a disposed model', error: DisposedError, message: /getParams: this model was disposed/, run: async ({ engine }) => { const m = new Model(engine, tiny()); m.dispose(); return m.getParams(); } },
  { name: 'a disposed plan', error: DisposedError, message: /predict: this plan was disposed/, run: async ({ model }) => { const p = await model.predictor(2); p.dispose(); return p.run(new Float32Array(128)); } },
  // Its buffers went back to the pool: profiling would have run its dispatches on other plans' buffers.
  { name: 'profiling a disposed plan', error: DisposedError, message: /profile: this plan was disposed/, run: async ({ model }) => { const p = await model.trainer(2); p.dispose(); return p.profile(); } },
];

describe('hostile inputs to models, data files and checkpoints', () => {
  const ctx = {} as Ctx;
  let before: Record<string, { data: Float32Array }>;
  beforeAll(async () => {
    ctx.engine = await Engine.create();
    ctx.model = new Model(ctx.engine, tiny(), { seed: 3 });
    ctx.good = await encodeModel(ctx.model, { epoch: 0, modelName: 'tiny', seed: 3 });
    before = await ctx.model.getParams();
  });
  afterAll(() => ctx.engine?.destroy());

  it('has at least 30 rows', () => expect(rows.length).toBeGreaterThanOrEqual(30));

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, r) => {
    let err: unknown;
    try {
      await r.run(ctx);
    } catch (e) {
      err = e;
    }
    expect(err, 'it must throw').toBeInstanceOf(r.error);
    expect((err as Error).message).toMatch(r.message);
  });

  it('failed loads left the weights exactly as they were', async () => {
    const after = await ctx.model.getParams();
    for (const [k, t] of Object.entries(before)) expect(after[k]!.data).toEqual(t.data);
  });

  it('a disposed plan leaves its model, so plans made per evaluation do not pile up', async () => {
    const start = ctx.model.openPlans;
    for (let i = 0; i < 3; i++) (await ctx.model.predictor(2)).dispose();
    (await ctx.model.trainer(2)).dispose();
    expect(ctx.model.openPlans).toBe(start);
  });

  it('a model disposed while a plan compiles: the plan is refused and its buffers come back', async () => {
    const before = ctx.engine.memory();
    const m = new Model(ctx.engine, tiny());
    const compiling = m.trainer(4);
    m.dispose();
    await expect(compiling).rejects.toThrow(DisposedError);
    await expect(compiling).rejects.toThrow(/trainer: this model was disposed/);
    expect(ctx.engine.memory().liveBytes).toBe(before.liveBytes);
    expect(ctx.engine.memory().liveBuffers).toBe(before.liveBuffers);
  });

  it('automatic names never repeat one already in the graph, and a refused layer takes none', () => {
    const carried = new Linear(4, 4);
    new Graph([4]).add(carried); // named linear_0 there
    const g = new Graph([4]);
    g.add(Object.assign(new Linear(4, 4), { name: 'linear_1' }));
    g.add(carried);
    g.add(new Linear(4, 4));
    const refused = new Linear(7, 3);
    expect(() => g.add(refused)).toThrow(ShapeError);
    expect(refused.name).toBe('');
    g.add(new Linear(4, 3));
    const names = g.nodes.slice(1).map((n) => n.layer!.name);
    expect(names).toEqual(['linear_1', 'linear_0', 'linear_2', 'linear_3']);
    expect(new Set(g.params().map((p) => p.name)).size).toBe(2 * names.length);
  });

  it('CpuModel: a refused training batch leaves BatchNorm running statistics and the step as they were', () => {
    const cpu = new CpuModel(new Sequential([1, 4, 4], [new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new Flatten(), new Linear(32, 3)]));
    const before = cpu.getParams();
    const x = Float32Array.from({ length: 32 }, (_, i) => i % 7);
    for (let i = 0; i < 3; i++) expect(() => cpu.trainStep(x, Float32Array.of(0, 3), 2)).toThrow(AttributeError);
    const after = cpu.getParams();
    for (const [k, t] of Object.entries(before)) expect(Array.from(after[k]!.data), k).toEqual(Array.from(t.data));
    expect(cpu.step).toBe(0);
  });

  it('a model on a destroyed engine says so', async () => {
    const e = await Engine.create();
    const m = new Model(e, tiny());
    e.destroy();
    await expect(m.trainer(2)).rejects.toThrow(DeviceError);
    await expect(m.trainer(2)).rejects.toThrow(/destroyed; create a new one/);
  });
});
