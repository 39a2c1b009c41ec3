// A model on the GPU: its parameters live in one flat buffer (each tensor aligned for
// binding), so an optimizer step is one dispatch over all of them. Training and inference
// plans are compiled per batch size: shapes inferred, buffers planned by liveness,
// pipelines compiled and bind groups made once, so that a step creates no GPU objects
// but its command buffer.
import { AttributeError, DeviceLimitError, DisposedError, ShapeError, fmtShape } from '../errors.js';
import { adamDispatch } from '../ops/adam.js';
import { elementwiseDispatch } from '../ops/elementwise.js';
import { sgdDispatch } from '../ops/sgd.js';
import { softmaxXentBwdDispatch, softmaxXentFwdDispatch } from '../ops/softmax_xent.js';
import type { Binding, Engine } from '../runtime/engine.js';
import { PassTimestamps } from '../runtime/gpu-timer.js';
import { StagingBuffers } from '../runtime/staging.js';
import { sizeOf } from '../shape.js';
import { Graph, type ParamEntry } from './graph.js';
import { initParam, paramSeed } from './init.js';
import type { StepDispatch } from './layers.js';
import { planMemory, type MemoryPlan, type Value } from './memory-plan.js';
import { lrAt, optimizerSlots, trainingSettings, type OptimizerSpec, type Schedule } from './optim.js';
import { checkParamSet } from './param-set.js';
import { layerTable } from './summary.js';

const STORAGE = 0x80 | 0x08 | 0x04;

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Bytes for a message: "512 bytes", "4.57 MiB". */
function mib(bytes: number): string {
  return bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

type StoreLimits = Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize' | 'minStorageBufferOffsetAlignment'>;

/**
 * Where each tensor of a flat store lies (offsets the device can bind), checked before anything
 * is allocated. Kernels bind one tensor at a time and the optimizer the store in chunks
 * (bindingChunks), so each tensor must fit a storage binding, and the store one buffer.
 */
export function flatLayout(entries: Array<{ name: string; shape: number[] }>, limits: StoreLimits, label: string) {
  const { maxStorageBufferBindingSize: maxBind, maxBufferSize: maxBuf } = limits;
  const align = limits.minStorageBufferOffsetAlignment / 4;
  const offsets = new Map<string, { offset: number; size: number; shape: number[] }>();
  let off = 0;
  for (const e of entries) {
    const size = sizeOf(e.shape);
    if (size * 4 > maxBind) {
      throw new DeviceLimitError(
        `Model: parameter ${e.name} ${fmtShape(e.shape)} needs ${mib(size * 4)}, over this device's ${mib(maxBind)} per storage binding ` +
          '(maxStorageBufferBindingSize); make that layer smaller, or use an adapter that allows larger bindings.',
      );
    }
    offsets.set(e.name, { offset: off, size, shape: e.shape });
    off += Math.ceil(size / align) * align;
  }
  const floats = Math.max(off, 4);
  if (floats * 4 > maxBuf) {
    throw new DeviceLimitError(
      `Model: its ${entries.length} parameter tensors need ${mib(floats * 4)} in one buffer (${label}), over this device's ` +
        `${mib(maxBuf)} (maxBufferSize); use a smaller model, or an adapter that allows larger buffers.`,
    );
  }
  return { offsets, floats };
}

/**
 * [start, length] ranges covering `total` floats, each at most `maxFloats` long and starting at a
 * multiple of `alignFloats` and of 4 (whole vec4s; both powers of two): a buffer longer than one
 * storage binding, bound a range at a time.
 */
export function bindingChunks(total: number, maxFloats: number, alignFloats: number): Array<[number, number]> {
  const unit = Math.max(4, alignFloats);
  const chunk = Math.max(unit, Math.floor(maxFloats / unit) * unit);
  const out: Array<[number, number]> = [];
  for (let start = 0; start < total; start += chunk) out.push([start, Math.min(chunk, total - start)]);
  return out;
}

/** One flat GPU buffer holding several tensors at aligned offsets (flatLayout). */
export class FlatStore {
  readonly offsets: Map<string, { offset: number; size: number; shape: number[] }>;
  readonly floats: number;
  readonly buffer: GPUBuffer;

  constructor(
    readonly engine: Engine,
    entries: Array<{ name: string; shape: number[] }>,
    label: string,
  ) {
    ({ offsets: this.offsets, floats: this.floats } = flatLayout(entries, engine.limits, label));
    this.buffer = engine.pool.acquire(this.floats * 4, STORAGE, label);
    const enc = engine.device.createCommandEncoder();
    enc.clearBuffer(this.buffer);
    engine.device.queue.submit([enc.finish()]);
  }

  binding(name: string): GPUBufferBinding {
    const o = this.offsets.get(name)!;
    return { buffer: this.buffer, offset: o.offset * 4, size: o.size * 4 };
  }

  write(name: string, data: Float32Array): void {
    const o = this.offsets.get(name)!;
    this.engine.device.queue.writeBuffer(this.buffer, o.offset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async readAll(): Promise<Record<string, NamedTensor>> {
    const all = await this.engine.readBuffer(this.buffer, this.floats * 4);
    const out: Record<string, NamedTensor> = {};
    for (const [name, o] of this.offsets) out[name] = { shape: [...o.shape], data: all.slice(o.offset, o.offset + o.size) };
    return out;
  }

  dispose(): void {
    this.engine.pool.release(this.buffer);
  }
}

interface Recorded {
  pipe: GPUComputePipeline;
  bind: GPUBindGroup;
  uniform?: GPUBuffer;
  workgroups: readonly [number, number, number];
  perStep?: (step: number) => ArrayBuffer;
  kernel: string;
  label: string;
}

/** One dispatch of a plan and how long it took on the device (see Plan.profile). */
export interface ProfileEntry {
  /** The layer and pass, e.g. "conv2d_1 backward", or "loss", "optimizer". */
  label: string;
  /** The WGSL kernel, e.g. "conv2d.fwd.subgroup". */
  kernel: string;
  workgroups: readonly [number, number, number];
  ms: number;
}

export interface PlanInfo {
  batch: number;
  dispatches: number;
  memory: MemoryPlan;
  /** Values and the buffer each got, for inspection. */
  values: Value[];
}

/** Shared by training and inference plans: buffers, recorded dispatches, and the step. */
abstract class Plan {
  protected recorded: Recorded[] = [];
  protected buffers: GPUBuffer[] = [];
  protected uniforms: GPUBuffer[] = [];
  protected staging: StagingBuffers | null = null;
  info!: PlanInfo;
  protected disposed = false;

  constructor(
    readonly model: Model,
    readonly batch: number,
  ) {}

  protected get engine(): Engine {
    return this.model.engine;
  }

  protected allocate(values: Value[], reuse: boolean): Map<string, GPUBuffer> {
    const memory = planMemory(values, reuse);
    // Refuse before allocating anything: name the largest tensor of an oversized buffer.
    const max = Math.min(this.engine.limits.maxStorageBufferBindingSize, this.engine.limits.maxBufferSize);
    memory.buffers.forEach((f, i) => {
      if (f * 4 <= max) return;
      const v = values.filter((x) => memory.slot.get(x.key) === i).sort((a, b) => b.floats - a.floats)[0]!;
      throw new DeviceLimitError(
        `Model (batch ${this.batch}): ${this.describeValue(v.key)} needs ${f * 4} bytes, over this device's limit of ${max} bytes per buffer; use a smaller batch.`,
      );
    });
    this.buffers = memory.buffers.map((f, i) => this.engine.pool.acquire(Math.max(f, 4) * 4, STORAGE, `plan buffer ${i}`));
    const out = new Map<string, GPUBuffer>();
    for (const v of values) out.set(v.key, this.buffers[memory.slot.get(v.key)!]!);
    this.info = { batch: this.batch, dispatches: 0, memory, values };
    return out;
  }

  /** "the output of conv2d_0 (Conv2d)" for a value key such as "act:1". */
  private describeValue(key: string): string {
    const [kind, id] = key.split(':');
    const layer = this.model.graph.nodes[Number(id)]?.layer?.label ?? 'the input';
    if (kind === 'act') return id === '0' ? 'the input batch' : `the output of ${layer}`;
    if (kind === 'grad') return `the gradient of ${layer}`;
    if (kind === 'tmp') {
      const [, , k] = key.split(':'); // tmp:j:k: j's contribution to the gradient of its input k
      const from = this.model.graph.nodes[this.model.graph.nodes[Number(id)]!.inputs[Number(k)]!]?.layer?.label ?? 'the input';
      return `the gradient ${layer} passes back to ${from}`;
    }
    if (kind?.endsWith('scratch')) return `scratch memory of ${layer}`;
    return key;
  }

  /** Compiles every pipeline (in parallel, async) and makes bind groups and uniforms. */
  protected async record(ds: StepDispatch[]): Promise<void> {
    for (const d of ds) this.engine.checkWorkgroups(d);
    const pipes = await Promise.all(ds.map((d) => this.engine.pipeline(d.kernel, d.constants)));
    this.recorded = ds.map((d, i) => {
      const uniform = d.params ? this.engine.uniform(d.params) : undefined;
      if (uniform) this.uniforms.push(uniform);
      return { pipe: pipes[i]!, bind: this.engine.bindGroup(pipes[i]!, d, uniform), uniform, workgroups: d.workgroups, perStep: d.perStep, kernel: d.kernel.name, label: d.label ?? d.kernel.name };
    });
    this.info.dispatches = ds.length;
  }

  protected encode(enc: GPUCommandEncoder, step: number): void {
    for (const r of this.recorded) {
      if (r.perStep && r.uniform) this.engine.device.queue.writeBuffer(r.uniform, 0, r.perStep(step));
    }
    const pass = enc.beginComputePass();
    for (const r of this.recorded) {
      if (r.workgroups.some((n) => n === 0)) continue;
      pass.setPipeline(r.pipe);
      pass.setBindGroup(0, r.bind);
      pass.dispatchWorkgroups(...r.workgroups);
    }
    pass.end();
  }

  /**
   * Runs the plan's dispatches once more, each in its own pass, and says how long each took:
   * timestamp-query where the device has it, else the wall time of a submit per dispatch.
   * Buffers hold whatever the last step left; run a step first so the numbers mean something.
   * The model's weights, gradients and optimizer state are put back afterwards, so profiling
   * mid-training does not take an extra optimizer step.
   */
  async profile(): Promise<ProfileEntry[]> {
    this.checkLive('profile');
    const e = this.engine;
    const list = this.recorded.filter((r) => !r.workgroups.some((n) => n === 0));
    const run = (enc: GPUCommandEncoder, r: Recorded, ts?: GPUComputePassTimestampWrites): void => {
      const pass = enc.beginComputePass(ts ? { timestampWrites: ts } : {});
      pass.setPipeline(r.pipe);
      pass.setBindGroup(0, r.bind);
      pass.dispatchWorkgroups(...r.workgroups);
      pass.end();
    };
    const entry = (r: Recorded, ms: number): ProfileEntry => ({ label: r.label, kernel: r.kernel, workgroups: r.workgroups, ms });
    const m = this.model;
    const stores = [m.params, m.grads, ...Object.values(m.state)];
    const copies = stores.map((s) => e.pool.acquire(s.floats * 4, STORAGE, 'profile copy'));
    const copy = (back: boolean): void => {
      const enc = e.device.createCommandEncoder();
      stores.forEach((s, i) => (back ? enc.copyBufferToBuffer(copies[i]!, 0, s.buffer, 0, s.floats * 4) : enc.copyBufferToBuffer(s.buffer, 0, copies[i]!, 0, s.floats * 4)));
      e.device.queue.submit([enc.finish()]);
    };
    copy(false);
    try {
      if (e.hasTimestamps && list.length) {
        const stamps = new PassTimestamps(e.device, list.length);
        try {
          const enc = e.device.createCommandEncoder();
          list.forEach((r, i) => run(enc, r, stamps.writes(i)));
          stamps.resolve(enc);
          e.device.queue.submit([enc.finish()]);
          const ms = await stamps.read();
          if (ms) return list.map((r, i) => entry(r, ms[i]!));
        } finally {
          stamps.destroy();
        }
      }
      // No timestamps (or garbage from the driver): each dispatch's wall time, submit to done.
      const out: ProfileEntry[] = [];
      for (const r of list) {
        const enc = e.device.createCommandEncoder();
        run(enc, r);
        const t0 = performance.now();
        e.device.queue.submit([enc.finish()]);
        await e.device.queue.onSubmittedWorkDone();
        out.push(entry(r, performance.now() - t0));
      }
      return out;
    } finally {
      if (!m.isDisposed && !e.isDestroyed) copy(true); // queued after the profiled passes
      for (const c of copies) e.pool.release(c);
    }
  }

  private checkLive(op: string): void {
    this.model.check(op);
    if (this.disposed) throw new DisposedError(`${op}: this plan was disposed; compile a new one with model.trainer(batch) or model.predictor(batch).`);
  }

  protected checkInput(op: string, x: Float32Array, labels?: Float32Array): void {
    this.checkLive(op);
    this.model.graph.checkBatch(op, this.batch, x, labels); // a cheap scan next to the step, and it keeps NaN out of the weights
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [...this.buffers, ...this.uniforms]) this.engine.pool.release(b);
    this.buffers = [];
    this.uniforms = [];
    this.staging?.close();
    this.recorded = [];
    this.model.forgetPlan(this);
  }
}

interface Built {
  ds: StepDispatch[];
  buf: Map<string, GPUBuffer>;
  inputKey: string;
  outputKey: string;
}

function missing(key: string): never {
  throw new Error(`Model: no buffer was planned for ${key}; this is a bug in convgpu, please report it.`);
}

/**
 * Builds the dispatch list of a forward (and, when training, loss, backward and optimizer)
 * pass with liveness-planned buffers. Times: node i runs forward at i, the loss at L+1,
 * node i's backward at 2L+2−i, the optimizer at 2L+2.
 */
function build(plan: Plan & { allocateFor(values: Value[]): Map<string, GPUBuffer> }, model: Model, batch: number, training: boolean, fuse = true): Built & { values: Value[] } {
  const g = model.graph;
  g.checkConnected();
  const shapes = g.shapes(batch);
  const nodes = g.nodes;
  const L = nodes.length - 1;
  const out = g.output.id;
  const root = (i: number): number => g.viewRoot(i);
  const tBwd = (i: number): number => 2 * L + 2 - i;
  const real = nodes.slice(1).filter((n) => !n.layer!.isView);

  const values = new Map<string, Value>();
  const val = (key: string, floats: number, start: number, end: number, pinned = false): void => {
    values.set(key, { key, floats, start, end, pinned });
  };
  val('act:0', sizeOf(shapes[0]!), 0, 0);
  for (const n of real) val(`act:${n.id}`, sizeOf(shapes[n.id]!), n.id, n.id);
  const extend = (key: string, t: number): void => {
    const v = values.get(key)!;
    v.end = Math.max(v.end, t);
  };
  for (const n of real) {
    const layer = n.layer!;
    for (const i of n.inputs) {
      extend(`act:${root(i)}`, n.id);
      if (training && layer.saves.inputs) extend(`act:${root(i)}`, tBwd(n.id));
    }
    if (training && layer.saves.output) extend(`act:${n.id}`, tBwd(n.id));
  }
  values.get(`act:${root(out)}`)!.pinned = true;

  // Conv2d/Linear → ReLU, where the ReLU is the only reader: the producer applies ReLU in
  // its own kernel and writes the ReLU's output, and the ReLU's forward pass is dropped (a
  // full read and write of the activation). The ReLU's backward reads only its output, so
  // it still holds. The producer's own output is never written, so verify compiles unfused.
  // Likewise backward, ReLU → MaxPool2d where each is the other's only link: the pool's
  // backward masks by its input (the ReLU's output) > 0 and writes the gradient of the
  // ReLU's input, and the ReLU's backward dispatch is dropped.
  const fused = new Map<number, number>(); // producer id → ReLU id
  const fusedBack = new Map<number, number>(); // pool id → ReLU id
  const readers = new Map<number, number[]>();
  for (const n of real) for (const i of n.inputs) readers.set(root(i), [...(readers.get(root(i)) ?? []), n.id]);
  const onlyReader = (id: number): number | null => (readers.get(id)?.length === 1 ? readers.get(id)![0]! : null);
  const isReLU = (id: number): boolean => nodes[id]!.layer?.kind === 'ReLU';
  if (fuse) {
    for (const n of real) {
      const r = onlyReader(n.id);
      if (!n.layer!.fusesRelu || r === null || !isReLU(r) || n.id === root(out)) continue;
      fused.set(n.id, r);
      values.get(`act:${r}`)!.start = n.id; // written from the producer's step on
    }
  }

  // Gradient contributions, in the order the backward pass makes them.
  const contribs = new Map<number, Array<{ j: number; k: number }>>();
  if (training) {
    for (const n of [...real].reverse()) {
      n.inputs.forEach((i, k) => {
        const r = root(i);
        if (r === 0) return;
        contribs.set(r, [...(contribs.get(r) ?? []), { j: n.id, k }]);
      });
    }
    const o = root(out);
    val(`grad:${o}`, sizeOf(shapes[o]!), L + 1, tBwd(o));
    for (const [r, list] of contribs) {
      val(`grad:${r}`, sizeOf(shapes[r]!), tBwd(list[0]!.j), tBwd(r));
      list.slice(1).forEach(({ j, k }) => val(`tmp:${j}:${k}`, sizeOf(shapes[r]!), tBwd(j), tBwd(j)));
    }
    for (const n of real) {
      const needDx = n.inputs.some((i) => root(i) !== 0);
      for (const [k, f] of Object.entries(n.layer!.scratchBackward(model.engine, n.inputs.map((i) => shapes[i]!), needDx))) {
        val(`bscratch:${n.id}:${k}`, f, tBwd(n.id), tBwd(n.id));
      }
    }
    val('labels', batch, 0, 2 * L + 2, true);
    val('loss', 4, L + 1, 2 * L + 2, true);
  }
  if (fuse && training) { // see "Likewise backward" above
    for (const m of real) {
      if (!m.layer!.fusesReluBackward || m.inputs.length !== 1) continue;
      const r = root(m.inputs[0]!);
      const p = r === 0 ? 0 : root(nodes[r]!.inputs[0]!);
      if (!isReLU(r) || onlyReader(r) !== m.id || p === 0 || onlyReader(p) !== r) continue;
      fusedBack.set(m.id, r);
      values.get(`grad:${p}`)!.start = tBwd(m.id); // written by the pool's backward
    }
  }
  // What fusion leaves unwritten and unread gets no buffer (a context naming one binds the dummy).
  const unused = new Set([...[...fused.keys()].map((n) => `act:${n}`), ...[...fusedBack.values()].map((r) => `grad:${r}`)]);
  for (const key of unused) values.delete(key);

  for (const n of real) {
    for (const [k, f] of Object.entries(n.layer!.scratchForward(model.engine, n.inputs.map((i) => shapes[i]!)))) {
      val(`fscratch:${n.id}:${k}`, f, n.id, n.id);
    }
  }
  const list = [...values.values()];
  const buf = plan.allocateFor(list);
  const engine = model.engine;
  const b = (key: string): GPUBuffer => buf.get(key) ?? (unused.has(key) ? engine.dummy : missing(key));
  const ds: StepDispatch[] = [];
  const params = (id: number): { p: Record<string, Binding>; dp: Record<string, Binding> } => {
    const p: Record<string, Binding> = {};
    const dp: Record<string, Binding> = {};
    for (const e of model.paramEntries.filter((e) => e.node === id)) {
      p[e.spec.name] = model.params.binding(e.name);
      dp[e.spec.name] = model.grads.binding(e.name);
    }
    return { p, dp };
  };
  const scratchOf = (prefix: string, id: number): Record<string, Binding> => {
    const out: Record<string, Binding> = {};
    for (const key of buf.keys()) if (key.startsWith(`${prefix}:${id}:`)) out[key.slice(prefix.length + String(id).length + 2)] = buf.get(key)!;
    return out;
  };
  const ctxOf = (id: number) => {
    const n = nodes[id]!;
    return {
      scratch: scratchOf('fscratch', id),
      engine,
      inShapes: n.inputs.map((i) => shapes[i]!),
      outShape: shapes[id]!,
      x: n.inputs.map((i) => b(`act:${root(i)}`)),
      y: b(`act:${id}`),
      training,
      ...params(id),
    };
  };
  const labelled = (label: string, list: StepDispatch[]): StepDispatch[] => list.map((d) => ({ ...d, label: d.label ?? label }));
  const fusedReLUs = new Set(fused.values());
  for (const n of real) {
    if (fusedReLUs.has(n.id)) continue;
    const r = fused.get(n.id);
    const ctx = r === undefined ? ctxOf(n.id) : { ...ctxOf(n.id), y: b(`act:${r}`), relu: true };
    ds.push(...labelled(`${n.layer!.label} forward${r === undefined ? '' : ` + ${nodes[r]!.layer!.label}`}`, n.layer!.gpuForward(ctx)));
  }

  if (training) {
    const o = root(out);
    const s = shapes[out]!;
    if (s.length !== 2) throw new ShapeError(`Model: output ${fmtShape(s)} must be [N, classes] for softmax cross-entropy; end the model with Flatten and Linear.`);
    ds.push({ ...softmaxXentFwdDispatch(engine, s[0]!, s[1]!, b(`act:${o}`), b('labels'), b('loss')), label: 'loss' });
    ds.push({ ...softmaxXentBwdDispatch(engine, s[0]!, s[1]!, b(`act:${o}`), b('labels'), b(`grad:${o}`)), label: 'loss backward' });
    const skipBack = new Set(fusedBack.values());
    for (const n of [...real].reverse()) {
      if (skipBack.has(n.id)) continue;
      const c = ctxOf(n.id);
      const accumulate: StepDispatch[] = [];
      const dx = n.inputs.map((i, k) => {
        const r = root(i);
        if (r === 0) return null;
        const first = contribs.get(r)![0]!;
        if (first.j === n.id && first.k === k) return b(`grad:${r}`);
        accumulate.push(elementwiseDispatch(engine, 'accumulate', sizeOf(shapes[r]!), engine.dummy, b(`tmp:${n.id}:${k}`), b(`grad:${r}`)));
        return b(`tmp:${n.id}:${k}`);
      });
      const r = fusedBack.get(n.id);
      const bwd =
        r === undefined
          ? { ...c, dy: b(`grad:${n.id}`), dx, scratch: scratchOf('bscratch', n.id) }
          : { ...c, dy: b(`grad:${n.id}`), dx: [b(`grad:${root(nodes[r]!.inputs[0]!)}`)], scratch: scratchOf('bscratch', n.id), reluMask: true };
      const label = `${n.layer!.label} backward${r === undefined ? '' : ` + ${nodes[r]!.layer!.label}`}`;
      ds.push(...labelled(label, [...n.layer!.gpuBackward(bwd), ...accumulate]));
    }
  }
  return { ds, buf, inputKey: 'act:0', outputKey: `act:${root(out)}`, values: list };
}

export interface StepResult {
  loss: number;
  /** Fraction of the batch classified correctly (from the step's forward pass). */
  accuracy: number;
}

export class TrainPlan extends Plan {
  private input!: GPUBuffer;
  private labels!: GPUBuffer;
  private loss!: GPUBuffer;
  private logits!: GPUBuffer;
  private classes = 0;

  constructor(
    model: Model,
    batch: number,
    private readonly reuse: boolean,
  ) {
    super(model, batch);
  }

  allocateFor(values: Value[]): Map<string, GPUBuffer> {
    return this.allocate(values, this.reuse);
  }

  /** @internal */
  async compile(): Promise<void> {
    const built = build(this, this.model, this.batch, true, this.reuse);
    const opt = this.model.optimizerDispatches().map((d) => ({ ...d, label: 'optimizer' }));
    await this.record([...built.ds, ...opt]);
    this.input = built.buf.get(built.inputKey)!;
    this.labels = built.buf.get('labels')!;
    this.loss = built.buf.get('loss')!;
    this.logits = built.buf.get(built.outputKey)!;
    this.classes = this.model.graph.classes;
    this.staging = new StagingBuffers(this.engine.pool, (this.batch * this.classes + 1) * 4, 'train readback');
    this.activations = built.buf;
  }

  /** @internal Buffers by value key, for verify (meaningful only when compiled without reuse). */
  activations = new Map<string, GPUBuffer>();

  /**
   * One training step on a batch: upload, forward, loss, backward and optimizer in one
   * command buffer and one submit. Reads nothing back unless `read` is true.
   */
  async step(x: Float32Array, labels: Float32Array, read = false): Promise<StepResult | null> {
    this.checkInput('train step', x, labels);
    const q = this.engine.device.queue;
    q.writeBuffer(this.input, 0, x.buffer, x.byteOffset, x.byteLength);
    q.writeBuffer(this.labels, 0, labels.buffer, labels.byteOffset, labels.byteLength);
    const step = this.model.step;
    const enc = this.engine.device.createCommandEncoder();
    this.encode(enc, step);
    const logitBytes = this.batch * this.classes * 4;
    const staging = read ? this.staging!.take() : null;
    if (staging) {
      enc.copyBufferToBuffer(this.logits, 0, staging, 0, logitBytes);
      enc.copyBufferToBuffer(this.loss, 0, staging, logitBytes, 4);
    }
    q.submit([enc.finish()]);
    this.model.step++;
    if (!staging) return null;
    const data = await this.staging!.read(staging);
    return { loss: data[this.batch * this.classes]!, accuracy: accuracy(data, labels, this.classes) };
  }
}

export function accuracy(logits: Float32Array, labels: ArrayLike<number>, classes: number, count = labels.length): number {
  let right = 0;
  for (let r = 0; r < count; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
    if (best === labels[r]) right++;
  }
  return right / Math.max(count, 1);
}

export class InferPlan extends Plan {
  private input!: GPUBuffer;
  private output!: GPUBuffer;
  private outFloats = 0;

  allocateFor(values: Value[]): Map<string, GPUBuffer> {
    return this.allocate(values, true);
  }

  /** @internal */
  async compile(): Promise<void> {
    const built = build(this, this.model, this.batch, false);
    await this.record(built.ds);
    this.input = built.buf.get(built.inputKey)!;
    this.output = built.buf.get(built.outputKey)!;
    this.outFloats = sizeOf(this.model.graph.shapes(this.batch)[this.model.graph.output.id]!);
    this.staging = new StagingBuffers(this.engine.pool, this.outFloats * 4, 'infer readback');
  }

  /**
   * Runs the model on a full batch and returns its outputs (e.g. logits [batch, classes]);
   * `into`, of exactly that size, is filled and returned instead of a new array.
   */
  async run(x: Float32Array, into?: Float32Array): Promise<Float32Array> {
    this.checkInput('predict', x);
    if (into && into.length !== this.outFloats) {
      throw new ShapeError(`predict: the array to read into holds ${into.length} values; a batch of ${this.batch} outputs ${this.outFloats}.`);
    }
    this.engine.device.queue.writeBuffer(this.input, 0, x.buffer, x.byteOffset, x.byteLength);
    const enc = this.engine.device.createCommandEncoder();
    this.encode(enc, 0);
    const staging = this.staging!.take();
    enc.copyBufferToBuffer(this.output, 0, staging, 0, this.outFloats * 4);
    this.engine.device.queue.submit([enc.finish()]);
    return this.staging!.read(staging, into);
  }
}

function checkBatch(op: string, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new AttributeError(`${op}: batch must be a positive integer, got ${batch}.`);
}

/** A plan that fails to compile gives its buffers back. */
async function compileOrRelease(p: TrainPlan | InferPlan): Promise<void> {
  try {
    await p.compile();
  } catch (e) {
    p.dispose();
    throw e;
  }
}

export interface ModelOptions {
  /** Seed for the initial weights. */
  seed?: number;
  optimizer?: OptimizerSpec;
  schedule?: Schedule;
}

/** A graph bound to an engine, with its parameters, gradients and optimizer state. */
export class Model {
  readonly paramEntries: ParamEntry[];
  readonly params: FlatStore;
  readonly grads: FlatStore;
  readonly state: Record<string, FlatStore> = {};
  readonly optimizer: OptimizerSpec;
  readonly schedule: Schedule | undefined;
  /** Training steps taken (0-based index of the next step). */
  step = 0;
  private plans: Plan[] = [];

  constructor(
    readonly engine: Engine,
    readonly graph: Graph,
    opts: ModelOptions = {},
  ) {
    const { optimizer, schedule, seed } = trainingSettings('Model', opts);
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.paramEntries = graph.params();
    graph.freeze();
    const entries = this.paramEntries.map((e) => ({ name: e.name, shape: e.spec.shape }));
    this.params = new FlatStore(engine, entries, 'params');
    this.grads = new FlatStore(engine, entries, 'grads');
    for (const s of optimizerSlots(this.optimizer)) this.state[s] = new FlatStore(engine, entries, `optimizer ${s}`);
    for (const e of this.paramEntries) this.params.write(e.name, initParam(e.spec, paramSeed(seed, e.name)));
  }

  get paramCount(): number {
    return this.paramEntries.reduce((s, e) => s + sizeOf(e.spec.shape), 0);
  }

  /** Compiled plans not yet disposed: trainers, predictors, and the ones predict() keeps. */
  get openPlans(): number {
    return this.plans.length;
  }

  get lr(): number {
    return lrAt(this.optimizer.lr, this.schedule, this.step);
  }

  /**
   * @internal The optimizer over every trainable parameter: one dispatch per chunk of at most
   * `maxFloats` (what one storage binding holds), at offsets the device can bind, so the flat
   * stores may outgrow a binding (a model of over 32M parameters on a device of 128 MiB bindings).
   */
  optimizerDispatches(maxFloats = Math.floor(this.engine.limits.maxStorageBufferBindingSize / 4)): StepDispatch[] {
    // Trainable parameters come first in the flat store; the rest (running statistics) is left alone.
    const frozen = this.paramEntries.find((e) => e.spec.trainable === false);
    const total = frozen ? this.params.offsets.get(frozen.name)!.offset : this.params.floats;
    const o = this.optimizer;
    return bindingChunks(total, maxFloats, this.engine.limits.minStorageBufferOffsetAlignment / 4).map(([start, n]) => {
      const at = (s: FlatStore): Binding => ({ buffer: s.buffer, offset: start * 4, size: n * 4 });
      const [g, p] = [at(this.grads), at(this.params)];
      const mk =
        o.type === 'sgd'
          ? (s: number) => sgdDispatch(this.engine, n, g, p, at(this.state.velocity!), { ...o, lr: lrAt(o.lr, this.schedule, s) })
          : (s: number) => adamDispatch(this.engine, n, g, p, at(this.state.m!), at(this.state.v!), { ...o, lr: lrAt(o.lr, this.schedule, s), step: s + 1 });
      return { ...mk(0), perStep: (s: number) => mk(s).params! };
    });
  }

  /**
   * The graph's layer table (nn/summary.ts: output shapes, parameters, forward FLOPs per image,
   * how each layer with weights connects, and the totals in convolutions and dense layers), then
   * the training plan's memory at this batch size (planned bytes and what reuse saves).
   */
  async summary(batch = 64): Promise<string> {
    const plan = await this.trainer(batch);
    const m = plan.info.memory;
    plan.dispose();
    return [
      layerTable(this.graph),
      `training plan at batch ${batch}: ${plan.info.dispatches} dispatches in one submit; activations, gradients and scratch ` +
        `${mib(m.plannedBytes)} in ${m.buffers.length} buffers (${mib(m.naiveBytes)} without reuse, ${mib(m.naiveBytes - m.plannedBytes)} saved)`,
    ].join('\n');
  }

  /** @internal A disposed plan leaves the model's list, so plans made per evaluation do not pile up. */
  forgetPlan(p: Plan): void {
    this.plans = this.plans.filter((q) => q !== p);
  }

  /** Compiles a training plan for a batch size (pipelines compiled before the first step). */
  async trainer(batch: number, opts: { reuse?: boolean } = {}): Promise<TrainPlan> {
    this.check('trainer');
    checkBatch('trainer', batch);
    return this.adopt('trainer', new TrainPlan(this, batch, opts.reuse ?? true));
  }

  async predictor(batch: number): Promise<InferPlan> {
    this.check('predictor');
    checkBatch('predictor', batch);
    return this.adopt('predictor', new InferPlan(this, batch));
  }

  /**
   * The model's outputs (e.g. logits [n, classes], row-major) for n examples of any count, as
   * CpuModel.predict gives them: chunks of up to 256 rows through predictors made on first use
   * and kept (one per power-of-two batch, so at most nine), the last chunk padded with zeros.
   * `into`, of exactly n outputs, is filled and returned instead of a new array.
   */
  async predict(x: Float32Array, n: number, into?: Float32Array): Promise<Float32Array> {
    this.check('predict');
    checkBatch('predict', n);
    const per = sizeOf(this.graph.inputShape);
    if (x.length !== n * per) {
      throw new ShapeError(`predict: input has ${x.length} values; ${n} examples of ${fmtShape(this.graph.inputShape)} need ${n * per}.`);
    }
    const outPer = sizeOf(this.graph.shapes(1)[this.graph.output.id]!);
    if (into && into.length !== n * outPer) throw new ShapeError(`predict: the array to read into holds ${into.length} values; ${n} examples output ${n * outPer}.`);
    const batch = Math.min(256, 2 ** Math.ceil(Math.log2(n)));
    let compiling = this.predictors.get(batch);
    if (!compiling) {
      compiling = this.predictor(batch);
      this.predictors.set(batch, compiling);
      compiling.catch(() => this.predictors.delete(batch)); // a failed compile is tried again next time
    }
    const plan = await compiling;
    const out = into ?? new Float32Array(n * outPer);
    if (n === batch) return plan.run(x, out);
    const chunk = new Float32Array(batch * per);
    const chunkOut = new Float32Array(batch * outPer);
    for (let start = 0; start < n; start += batch) {
      const size = Math.min(batch, n - start);
      chunk.set(x.subarray(start * per, (start + size) * per));
      if (size < batch) chunk.fill(0, size * per);
      out.set((await plan.run(chunk, chunkOut)).subarray(0, size * outPer), start * outPer);
    }
    return out;
  }

  private predictors = new Map<number, Promise<InferPlan>>();

  /** Compiles a plan and keeps it, unless the model was disposed while it compiled. */
  private async adopt<P extends TrainPlan | InferPlan>(op: string, p: P): Promise<P> {
    await compileOrRelease(p);
    if (this.disposed) {
      p.dispose(); // its buffers would otherwise stay taken: dispose() had run before it was listed
      this.check(op);
    }
    this.plans.push(p);
    return p;
  }

  /**
   * The first parameter whose gradient or value is not finite (or null): trainable ones in
   * forward order, then running statistics.
   * It reads both stores back, so call it every N steps, not every step.
   */
  async findNonFinite(): Promise<{ name: string; layer: string; what: 'gradient' | 'value' } | null> {
    this.check('findNonFinite');
    const [grads, params] = await Promise.all([this.grads.readAll(), this.params.readAll()]);
    for (const e of this.paramEntries) {
      for (const [what, store] of [['gradient', grads], ['value', params]] as const) {
        if (!store[e.name]!.data.every(Number.isFinite)) {
          return { name: e.name, layer: this.graph.nodes[e.node]!.layer!.label, what };
        }
      }
    }
    return null;
  }

  /** Parameters by name ("conv2d_0.weight"), read back from the GPU. */
  async getParams(): Promise<Record<string, NamedTensor>> {
    this.check('getParams');
    return this.params.readAll();
  }

  async getState(): Promise<Record<string, Record<string, NamedTensor>>> {
    this.check('getState');
    const out: Record<string, Record<string, NamedTensor>> = {};
    for (const [k, s] of Object.entries(this.state)) out[k] = await s.readAll();
    return out;
  }

  /** Replaces every parameter (and optionally the optimizer state); checks the whole set first (param-set.ts), so a bad one changes nothing. */
  setParams(params: Record<string, NamedTensor>, state?: Record<string, Record<string, NamedTensor>>): void {
    this.check('load');
    checkParamSet(this.paramEntries, 'the parameters', params);
    if (state) for (const s of Object.keys(this.state)) checkParamSet(this.paramEntries, `optimizer state "${s}"`, state[s]);
    for (const e of this.paramEntries) this.params.write(e.name, params[e.name]!.data);
    if (state) for (const [s, store] of Object.entries(this.state)) for (const e of this.paramEntries) store.write(e.name, state[s]![e.name]!.data);
  }

  private disposed = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal Throws once the model is disposed or its engine gone. */
  check(op: string): void {
    if (this.disposed) throw new DisposedError(`${op}: this model was disposed; create a new Model (and load a checkpoint) to use it again.`);
    this.engine.checkAlive(op);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of [...this.plans]) p.dispose();
    this.params.dispose();
    this.grads.dispose();
    for (const s of Object.values(this.state)) s.dispose();
  }
}
