// The WebGPU engine: owns the device, the buffer pool and the pipeline cache, and
// runs kernels. Ops (src/ops/*) build on `run`; the executor records with `encode`.
import { AttributeError, DeviceError, DeviceLimitError, DisposedError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { checkShape, sizeOf, type Shape } from '../shape.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { paceDawnPolling } from './dawn-pacer.js';
import { acquireDevice, describeAdapter, type AcquireOptions, type AdapterSummary } from './device.js';
import { PipelineCache, type Constants } from './pipeline-cache.js';
import { ScopeTracker, asyncStoreClass, type AsyncStoreClass } from './scopes.js';
import { READBACK, mapAndCopy } from './staging.js';
import { Tensor } from './tensor.js';
import { checkTuning, defaultTuning, type Tuning } from '../ops/tuning.js';

/** A WGSL kernel: its file name and source. The entry point is always `main`. */
export interface Kernel {
  name: string;
  code: string;
}

/** A whole buffer, or a range of one (offsets are multiples of minStorageBufferOffsetAlignment). */
export type Binding = GPUBuffer | GPUBufferBinding;

export interface Dispatch {
  kernel: Kernel;
  constants?: Constants;
  /** Storage buffers (or ranges of one) in binding order: inputs, then outputs. The uniform params go last. */
  buffers: Binding[];
  params?: ArrayBuffer;
  workgroups: readonly [number, number, number];
}

const STORAGE = 0x80 | 0x08 | 0x04; // STORAGE | COPY_DST | COPY_SRC
const UNIFORM = 0x40 | 0x08; // UNIFORM | COPY_DST

/** Refuses NaN and ±Infinity (and values beyond f32's range, once converted), naming the op and where. */
export function checkFinite(op: string, data: ArrayLike<number>, shape: Shape): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new NonFiniteError(
        `${op}: value ${data[i]} at flat index ${i} of shape ${fmtShape(shape)} is not finite (or overflows f32); clean the data, or pass { allowNonFinite: true }.`,
      );
    }
  }
}

/** Packs a uniform `Params` struct: u32 and f32 fields, 4 bytes each, in order. */
export class Params {
  private words: Array<['u' | 'i' | 'f', number]> = [];
  u32(...v: number[]): this {
    for (const x of v) this.words.push(['u', x]);
    return this;
  }
  i32(...v: number[]): this {
    for (const x of v) this.words.push(['i', x]);
    return this;
  }
  f32(...v: number[]): this {
    for (const x of v) this.words.push(['f', x]);
    return this;
  }
  buffer(): ArrayBuffer {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4); // 16-byte multiple
    const dv = new DataView(new ArrayBuffer(n * 4));
    this.words.forEach(([t, v], i) => {
      if (t === 'u') dv.setUint32(i * 4, v, true);
      else if (t === 'i') dv.setInt32(i * 4, v, true);
      else dv.setFloat32(i * 4, v, true);
    });
    return dv.buffer;
  }
}

export interface EngineOptions extends AcquireOptions {
  /** Free pooled buffers above this many bytes are destroyed (default 512 MiB). */
  maxPooledBytes?: number;
  /** Override workgroup sizes (default: chosen from the adapter). */
  tuning?: Partial<Tuning>;
  /** Time the candidate workgroup shapes on this adapter and keep the fastest (cached per adapter; see ops/autotune.ts). */
  autotune?: boolean;
  /**
   * In Node on a CPU-emulated adapter, stop dawn.node's waits from spinning a core the emulator
   * needs (runtime/dawn-pacer.ts; default true there, and never done on a GPU or in a browser).
   */
  pacePolling?: boolean;
  /**
   * In Node, give each tensor to the scope of the async call chain that made it, so scopes that
   * overlap in time stay apart (runtime/scopes.ts; default true). false: the scope opened last,
   * as in browsers.
   */
  followAsyncScopes?: boolean;
}

export class Engine {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly limits: GPUSupportedLimits;
  readonly hasTimestamps: boolean;
  /** Why the device was lost, once it is. */
  lostReason: string | null = null;
  /** The first GPU command that failed (reported by WebGPU after the fact), once one has. */
  gpuError: string | null = null;
  private destroyed = false;
  private releasePacer: (() => void) | null = null;
  private readonly scopes: ScopeTracker;
  private lostListeners: Array<(reason: string) => void> = [];
  private held = new Map<GPUBuffer, number>(); // buffers of dispatches waiting for their pipelines, counted
  private deferred = new Set<GPUBuffer>(); // of those, ones whose tensor was disposed meanwhile
  /** A 16-byte buffer bound where a kernel's optional input is absent. */
  readonly dummy: GPUBuffer;
  /** Workgroup sizes for this adapter (see ops/tuning.ts). */
  tuning: Tuning;

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: AdapterSummary,
    private readonly gpu: GPU,
    opts: EngineOptions,
    storeClass: AsyncStoreClass | null,
  ) {
    // Buffers are allocated by size class (up to 25% over): never past what the device binds.
    this.pool = new BufferPool(device, opts.maxPooledBytes, Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize));
    this.pipelines = new PipelineCache(device);
    this.limits = device.limits;
    this.hasTimestamps = device.features.has('timestamp-query');
    // The subgroup size is the adapter's, whatever the options say: the subgroup kernels are only right at that size.
    this.tuning = { ...defaultTuning(adapterInfo.isFallbackAdapter, adapterInfo.architecture, adapterInfo.subgroupSize), ...opts.tuning, subgroupSize: adapterInfo.subgroupSize };
    this.dummy = device.createBuffer({ size: 16, usage: STORAGE, label: 'dummy' });
    this.scopes = new ScopeTracker(storeClass);
    // WebGPU reports a failed command (a validation error, out of memory) only through this
    // event and skips the command: without it, a step that never ran would look like one that did.
    device.addEventListener?.('uncapturederror', (ev) => {
      this.gpuError ??= (ev as GPUUncapturedErrorEvent).error.message.split('\n')[0]!;
    });
    device.lost.then((info) => {
      if (this.destroyed) return;
      this.lostReason = `${info.reason}: ${info.message}`;
      for (const l of this.lostListeners) l(this.lostReason);
    });
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    if (opts.maxPooledBytes !== undefined && !(opts.maxPooledBytes >= 0)) {
      throw new AttributeError(`Engine: maxPooledBytes must be a number of bytes ≥ 0, got ${opts.maxPooledBytes}.`);
    }
    if (opts.powerPreference !== undefined && opts.powerPreference !== 'low-power' && opts.powerPreference !== 'high-performance') {
      throw new AttributeError(`Engine: powerPreference must be "low-power" or "high-performance", got ${JSON.stringify(opts.powerPreference)}.`);
    }
    const [{ gpu, device, info }, storeClass] = await Promise.all([acquireDevice(opts), asyncStoreClass()]);
    try {
      if (opts.tuning) checkTuning(opts.tuning, device.limits.maxComputeInvocationsPerWorkgroup);
    } catch (e) {
      device.destroy();
      throw e;
    }
    const engine = new Engine(device, info, gpu, opts, opts.followAsyncScopes === false ? null : storeClass);
    if (info.via === 'dawn-node' && info.isFallbackAdapter && opts.pacePolling !== false) engine.releasePacer = paceDawnPolling();
    if (opts.autotune) {
      try {
        const { cachedAutotune } = await import('../ops/autotune.js');
        await cachedAutotune(engine);
      } catch (e) {
        engine.destroy(); // the device and the pacer, which nothing else would release
        throw e;
      }
      if (opts.tuning) engine.tuning = { ...engine.tuning, ...opts.tuning, subgroupSize: info.subgroupSize };
    }
    return engine;
  }

  /** Adapter in words, e.g. "google / swiftshader / … (dawn-node, CPU fallback)". */
  describe(): string {
    return describeAdapter(this.adapterInfo);
  }

  /** The GPU object this engine came from (kept so Dawn's instance outlives the device). */
  get gpuInstance(): GPU {
    return this.gpu;
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListeners.push(listener);
  }

  checkAlive(op: string): void {
    if (this.destroyed) throw new DeviceError(`${op}: this engine was destroyed; create a new one with Engine.create().`);
    if (this.lostReason) {
      throw new DeviceError(
        `${op}: the GPU device was lost (${this.lostReason}); create a new engine and reload from your last checkpoint.`,
      );
    }
    if (this.gpuError) {
      throw new DeviceError(
        `${op}: an earlier GPU command failed (${this.gpuError}), so results since then may be wrong; create a new engine and reload from your last checkpoint. ` +
          'Unless it ran out of memory, this is a bug in convgpu: please report it with this message.',
      );
    }
  }

  /**
   * Refuses a buffer the device cannot bind, before anything is allocated. `scratch`: the name of
   * an op's working buffer (not a tensor the caller made or asked for), said as such.
   */
  checkBytes(op: string, shape: Shape, bytes: number, scratch?: string): void {
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > max) {
      const what = scratch === undefined ? `tensor ${fmtShape(shape)}` : `its working buffer '${scratch}' of ${sizeOf(shape)} floats`;
      const fix = scratch === undefined ? 'use a smaller batch or split the tensor.' : 'use a smaller batch or smaller inputs.';
      throw new DeviceLimitError(`${op}: ${what} needs ${bytes} bytes, over this device's limit of ${max} bytes per storage binding; ${fix}`);
    }
  }

  /** An uninitialised tensor (its contents are whatever the pooled buffer held). */
  empty(shape: Shape, op = 'tensor'): Tensor {
    this.checkAlive(op);
    checkShape(op, 'tensor', shape);
    const bytes = sizeOf(shape) * 4;
    this.checkBytes(op, shape, bytes);
    const t = new Tensor(this, [...shape], this.pool.acquire(bytes, STORAGE));
    this.scopes.current()?.tensors.add(t);
    return t;
  }

  /** Uploads data (checked finite unless allowNonFinite). */
  tensor(data: ArrayLike<number>, shape: Shape, opts: { allowNonFinite?: boolean } = {}): Tensor {
    checkShape('tensor', 'tensor', shape);
    if (data.length !== sizeOf(shape)) {
      throw new ShapeError(
        `tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${sizeOf(shape)} values); pass exactly ${sizeOf(shape)} values, or fix the shape.`,
      );
    }
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    if (!opts.allowNonFinite) checkFinite('tensor', f32, shape);
    const t = this.empty(shape);
    this.device.queue.writeBuffer(t.buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    return t;
  }

  zeros(shape: Shape): Tensor {
    const t = this.empty(shape, 'zeros');
    const enc = this.device.createCommandEncoder();
    enc.clearBuffer(t.buffer, 0, t.byteSize);
    this.device.queue.submit([enc.finish()]);
    return t;
  }

  /** Overwrites a tensor's contents (checked finite unless allowNonFinite, as tensor() does). */
  write(t: Tensor, data: ArrayLike<number>, opts: { allowNonFinite?: boolean } = {}): void {
    if (t.engine !== this) throw new ShapeError(`write: tensor ${fmtShape(t.shape)} belongs to another engine; write it with its own engine.`);
    if (data.length !== t.size) {
      throw new ShapeError(`write: ${data.length} values for tensor ${fmtShape(t.shape)}, which holds ${t.size}; pass exactly ${t.size} values.`);
    }
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data); // a Float64Array's bytes are not f32s
    if (!opts.allowNonFinite) checkFinite('write', f32, t.shape);
    this.checkAlive('write');
    t.checkAlive('write');
    this.device.queue.writeBuffer(t.buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
  }

  /**
   * The tensor's values. `into`, an array of exactly its size, is filled and returned instead
   * of a new one: a reused array skips allocating and first touching fresh memory (1.6 MB in
   * 0.51 ms instead of 5.0 ms on this project's 2-vCPU VM, lavapipe, medians of 21).
   */
  async read(t: Tensor, into?: Float32Array): Promise<Float32Array> {
    t.checkAlive('read');
    if (into && into.length !== t.size) {
      throw new ShapeError(`read: the array to read into holds ${into.length} values, but tensor ${fmtShape(t.shape)} has ${t.size}; pass one of exactly that length.`);
    }
    return this.readBuffer(t.buffer, t.byteSize, 0, into);
  }

  /** `bytes` of a buffer from `offset`, into `into` (of bytes / 4 values) where given. */
  async readBuffer(src: GPUBuffer, bytes: number, offset = 0, into?: Float32Array): Promise<Float32Array> {
    this.checkAlive('read');
    if (!(bytes > 0 && bytes % 4 === 0 && offset % 4 === 0 && offset >= 0 && offset + bytes <= src.size)) {
      throw new ShapeError(`read: ${bytes} bytes from offset ${offset} of a ${src.size}-byte buffer; read whole floats (multiples of 4 bytes) inside the buffer.`);
    }
    if (into && into.length * 4 !== bytes) {
      throw new ShapeError(`read: the array to read into holds ${into.length} values, but ${bytes / 4} are read; pass one of exactly that length.`);
    }
    const staging = this.pool.acquire(bytes, READBACK);
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    try {
      return await mapAndCopy(staging, bytes, into);
    } catch (e) {
      this.checkAlive('read');
      throw e;
    } finally {
      this.pool.release(staging);
    }
  }

  /** Compiles (or finds) a kernel's pipeline. */
  pipeline(kernel: Kernel, constants: Constants = {}): Promise<GPUComputePipeline> {
    return this.pipelines.get(kernel.name, kernel.code, constants);
  }

  /** Refuses a dispatch over the device's per-dimension workgroup limit. */
  checkWorkgroups(d: Dispatch): void {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (d.workgroups.some((n) => n > max)) {
      // The ops add what to split (ops/dispatch.ts runInto): only they know what each axis counts.
      const over = d.workgroups.flatMap((n, i) => (n > max ? [`${'xyz'[i]} ${n}`] : [])).join(', ');
      throw new DeviceLimitError(
        `${d.kernel.name}: dispatch [${d.workgroups.join(', ')}] workgroups is over this device's limit of ${max} per dimension (${over}); split the work into smaller pieces.`,
      );
    }
  }

  /** Records one dispatch into a pass; the pipeline must be compiled (see `pipeline`). */
  encode(pass: GPUComputePassEncoder, pipe: GPUComputePipeline, d: Dispatch, uniform?: GPUBuffer): void {
    this.checkWorkgroups(d);
    if (d.workgroups.some((n) => n === 0)) return;
    pass.setPipeline(pipe);
    pass.setBindGroup(0, this.bindGroup(pipe, d, uniform));
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }

  bindGroup(pipe: GPUComputePipeline, d: Dispatch, uniform?: GPUBuffer): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = d.buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } }));
    if (uniform) entries.push({ binding: entries.length, resource: { buffer: uniform } });
    return this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  }

  /** Uniform buffer holding `params`, from the pool; release it after the submit. */
  uniform(params: ArrayBuffer): GPUBuffer {
    const u = this.pool.acquire(params.byteLength, UNIFORM);
    this.device.queue.writeBuffer(u, 0, params);
    return u;
  }

  /** Runs dispatches in order, in one command buffer. */
  async run(...dispatches: Dispatch[]): Promise<void> {
    await this.submitCompiled(dispatches, (pipes) => {
      const enc = this.device.createCommandEncoder();
      const uniforms = this.record(enc, dispatches, pipes);
      this.device.queue.submit([enc.finish()]);
      // Safe to recycle now: later writes to these buffers are queued after this submit.
      for (const u of uniforms) this.pool.release(u);
    });
  }

  /**
   * Compiles the dispatches' pipelines (checking the device and the workgroup counts first),
   * then calls `submit` with them. The dispatches hold their tensors' buffers from the op's
   * call: a tensor disposed while they compile has its buffer pooled only after `submit`, so no
   * new tensor takes it first.
   */
  async submitCompiled<T>(dispatches: Dispatch[], submit: (pipes: GPUComputePipeline[]) => T): Promise<T> {
    const op = dispatches[0]?.kernel.name ?? 'run';
    this.checkAlive(op);
    for (const d of dispatches) this.checkWorkgroups(d);
    const held = dispatches.flatMap((d) => d.buffers.map((b) => ('buffer' in b ? b.buffer : b)));
    for (const b of held) this.held.set(b, (this.held.get(b) ?? 0) + 1);
    try {
      const pipes = await Promise.all(dispatches.map((d) => this.pipeline(d.kernel, d.constants)));
      this.checkAlive(op);
      return submit(pipes);
    } finally {
      for (const b of held) {
        const n = this.held.get(b)! - 1;
        if (n > 0) {
          this.held.set(b, n);
        } else {
          this.held.delete(b);
          if (this.deferred.delete(b)) this.pool.release(b);
        }
      }
    }
  }

  /**
   * Records dispatches (pipelines compiled) as one compute pass; returns their uniform buffers,
   * to release after the submit.
   */
  record(enc: GPUCommandEncoder, dispatches: Dispatch[], pipes: GPUComputePipeline[], pass: GPUComputePassDescriptor = {}): GPUBuffer[] {
    const p = enc.beginComputePass(pass);
    const uniforms = dispatches.map((d, i) => {
      const u = d.params ? this.uniform(d.params) : undefined;
      this.encode(p, pipes[i]!, d, u);
      return u;
    });
    p.end();
    return uniforms.filter((u): u is GPUBuffer => u !== undefined);
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  /**
   * Runs fn and disposes every tensor created inside it, except those it returns
   * (a tensor, or an array or object of tensors); if fn throws, every one of them.
   * In Node, scopes may also overlap in time (one started while another awaits): each frees
   * only the tensors of its own async call chain. In browsers scopes must nest: await one
   * before starting another that is not inside it.
   */
  async scope<T>(fn: () => Promise<T> | T): Promise<T> {
    const { frame, result: pending } = this.scopes.run(fn);
    let result: T;
    try {
      result = await pending;
    } catch (e) {
      for (const t of frame.tensors) if (!t.isDisposed) t.dispose();
      throw e;
    } finally {
      this.scopes.close(frame);
    }
    const keep = new Set<Tensor>();
    const seen = new Set<object>(); // results may hold cycles
    const collect = (v: unknown): void => {
      if (v instanceof Tensor) keep.add(v);
      else if (v && typeof v === 'object' && !seen.has(v) && !ArrayBuffer.isView(v)) {
        seen.add(v);
        if (v instanceof Map || v instanceof Set) v.forEach((x) => collect(x));
        else Object.values(v).forEach(collect);
      }
    };
    collect(result);
    const outer = this.scopes.current();
    for (const t of frame.tensors) {
      if (keep.has(t)) outer?.tensors.add(t);
      else if (!t.isDisposed) t.dispose();
    }
    return result;
  }

  /** Whether scopes that overlap in time are told apart (Node), or must nest (browsers). */
  get scopesFollowAsync(): boolean {
    return this.scopes.followsAsync;
  }

  /** Forget a tensor in the current scopes, so that a scope end does not dispose it. */
  keep(t: Tensor): Tensor {
    this.scopes.forget(t);
    return t;
  }

  memory(): PoolStats {
    return this.pool.snapshot();
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releasePacer?.();
    this.pool.destroy();
    this.dummy.destroy();
    this.device.destroy();
  }

  /** @internal Called by Tensor.dispose. */
  releaseTensor(t: Tensor, buffer: GPUBuffer): void {
    if (this.destroyed) return;
    this.scopes.forget(t);
    if (this.held.has(buffer)) this.deferred.add(buffer);
    else this.pool.release(buffer);
  }
}

export { DisposedError };
