// The benchmark loop, the same in the page and in Node: for each item, the CPU reference
// first (its output is the ground truth), then convgpu and each TF.js backend. Each cell
// has a time budget; cells predicted to be too slow, or started after the deadline, are
// skipped and say so.
import type * as TF from '@tensorflow/tfjs-core';
import type { Engine } from '../../src/runtime/engine.js';
import { describeTuning } from '../../src/ops/tuning.js';
import { GpuTimer, type Timing } from '../../src/runtime/gpu-timer.js';
import { alternate } from './alternate.js';
import { buildItems } from './items.js';
import { prepareConvgpu } from './convgpu.js';
import { relErr } from './data.js';
import { fullTruth, prepareReference, sliceTruth, sliceWork, type Truth } from './reference.js';
import { makeInputs, type Inputs, type Output, type Prepared } from './runner.js';
import { missingKernel, prepareTfjs, registerWasmConv2DBackpropFilter } from './tfjs.js';
import { gpuStats, median, stats } from './stats.js';
import type { BackendId, BenchConfig, BenchEvent, Cell, ItemSpec, PageInfo, Pair } from './types.js';

type Tf = typeof TF;

/** max |out − ref| / max |ref| allowed: f32 sums of a few thousand terms are ~1e-6 of the scale; an indexing bug is ~1. */
export const TOLERANCE = 1e-3;

interface Limits {
  /** Timed runs of one cell stop once they have taken this long. */
  cellBudgetMs: number;
  maxReps: number;
  /** A cell predicted (from the backend's rate on an earlier item of the same kind) to take longer per run is skipped. */
  skipRunMs: number;
  /** The same for training steps, the rows the comparison is about: one slow run is worth its time there. */
  skipTrainRunMs: number;
  /** The reference row runs the whole item only under this estimate; else a slice is the ground truth. */
  refMaxMs: number;
  /** A training step has no exact slice: the reference step runs once for the truth under this estimate. */
  trainRefMaxMs: number;
  /** Head-to-head rounds, and the time they may take. */
  pairRounds: number;
  pairBudgetMs: number;
}

/**
 * The items for this adapter: GPU mode's extra sizes (GEMM 2048³, 4096³) only where the adapter
 * is a GPU. GPU flags can still leave Chromium on SwiftShader (no driver, or one it blocks), where
 * those sizes would take minutes a run; the note says so.
 */
export function suiteItems(config: BenchConfig, engine: Engine): { items: ItemSpec[]; gpuNote?: string } {
  const fallback = engine.adapterInfo.isFallbackAdapter;
  const gpuNote =
    config.gpu && fallback
      ? `GPU mode, but the adapter is ${engine.describe()}: the GPU-only sizes are left out. ` +
        (engine.adapterInfo.via === 'dawn-node'
          ? 'Check the GPU\'s Vulkan driver (CONVGPU_VK_ICD=/path/to/its_icd.json picks one).'
          : 'Check the GPU driver (chrome://gpu in the same Chromium), or pass --swiftshader to skip GPU mode.')
      : undefined;
  return { items: buildItems({ ...config, gpu: config.gpu && !fallback }), gpuNote };
}

export function limitsFor(quick: boolean): Limits {
  return quick
    ? { cellBudgetMs: 1000, maxReps: 3, skipRunMs: 5000, skipTrainRunMs: 5000, refMaxMs: 1500, trainRefMaxMs: 30_000, pairRounds: 5, pairBudgetMs: 3000 }
    : { cellBudgetMs: 8000, maxReps: 10, skipRunMs: 60_000, skipTrainRunMs: 180_000, refMaxMs: 15_000, trainRefMaxMs: 600_000, pairRounds: 15, pairBudgetMs: 30_000 };
}

/** Rough float64-reference speeds on this kind of CPU (GFLOP/s, GB/s for pooling), until one is measured. */
const REF_PRIOR: Record<ItemSpec['kind'], number> = { gemm: 0.08e9, conv: 0.06e9, pool: 0.2e9, train: 0.02e9 };

export interface SuiteEnv {
  engine: Engine;
  tf: Tf | null;
  /** TF.js backends that initialised, by tf name. */
  tfBackends: string[];
  config: BenchConfig;
  emit(e: BenchEvent): void;
}

function check(out: Output | undefined, truth: Truth): number {
  if (!out) return Infinity;
  if (truth.kernel) return out instanceof Float32Array ? relErr(truth.kernel.pick(out), truth.kernel.values) : Infinity;
  if (out instanceof Float32Array || !truth.train) return Infinity;
  let err = Math.abs(out.loss - truth.train.loss) / Math.max(Math.abs(truth.train.loss), 1e-6);
  for (const [name, g] of Object.entries(truth.train.grads)) err = Math.max(err, out.grads[name] ? relErr(out.grads[name], g) : Infinity);
  return Number.isNaN(err) ? Infinity : err;
}

const TF_NAME: Partial<Record<BackendId, string>> = { 'tfjs-webgpu': 'webgpu', 'tfjs-wasm': 'wasm', 'tfjs-wasm-patched': 'wasm', 'tfjs-cpu': 'cpu' };

export async function runSuite(env: SuiteEnv, items: ItemSpec[]): Promise<void> {
  const { engine, tf, config } = env;
  const lim = { ...limitsFor(config.quick), ...(config.refTruthOnly ? { refMaxMs: 2000, trainRefMaxMs: 60_000 } : {}) };
  const timer = new GpuTimer(engine);
  const rates = new Map<string, number>();
  // Speeds seen so far (work per ms). The reference is predicted from the same pass, else the
  // same kind; the other backends from their best speed on that kind, so that one slow shape
  // does not get the others skipped.
  const passKey = (b: BackendId, it: ItemSpec): string => `${b}/${it.kind}/${'pass' in it ? it.pass : ''}`;
  const kindKey = (b: BackendId, it: ItemSpec): string => `${b}/${it.kind}`;
  const recordRate = (b: BackendId, it: ItemSpec, r: number): void => {
    rates.set(passKey(b, it), r);
    rates.set(kindKey(b, it), b === 'reference' ? r : Math.max(r, rates.get(kindKey(b, it)) ?? 0));
  };
  const estimateMs = (b: BackendId, it: ItemSpec): number | null => {
    const r = b === 'reference' ? (rates.get(passKey(b, it)) ?? rates.get(kindKey(b, it))) : rates.get(kindKey(b, it));
    if (r) return it.work / r;
    return b === 'reference' ? (it.work / REF_PRIOR[it.kind]) * 1000 : null;
  };
  const secs = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const statusOf = new Map<string, Cell['status']>(); // by item/backend
  const medianOf = new Map<string, number>(); // end-to-end ms, by item/backend
  const emitCell = (cell: Cell): void => {
    statusOf.set(`${cell.item}/${cell.backend}`, cell.status);
    if (cell.wall) medianOf.set(`${cell.item}/${cell.backend}`, cell.wall.median);
    env.emit({ type: 'cell', cell });
  };

  async function measure(b: BackendId, item: ItemSpec, prepare: () => Prepared | Promise<Prepared>, truth: Truth | null, opts: { allowNoRep?: boolean } = {}): Promise<Output | undefined> {
    const cell: Cell = { item: item.id, backend: b, status: 'ok' };
    let p: Prepared | null = null;
    let firstOut: Output | undefined;
    try {
      p = await prepare();
      const t0 = performance.now();
      const first = await p.run(true);
      cell.firstMs = performance.now() - t0;
      firstOut = first.out;
      if (truth) {
        cell.maxRelErr = check(first.out, truth);
        cell.checkedBy = truth.how;
        if (!(cell.maxRelErr <= TOLERANCE)) cell.status = 'fail';
      } else {
        cell.checkedBy = b === 'reference' ? 'is the reference' : 'not verified: no reference result within the time limits';
      }
      const walls: number[] = [];
      const gpus: Timing[] = [];
      const repStart = performance.now();
      const maxReps = b === 'reference' && config.refTruthOnly ? 1 : lim.maxReps;
      while (walls.length < maxReps) {
        const typical = walls.length ? stats(walls).median : first.wallMs;
        const spent = performance.now() - repStart;
        if (walls.length > 0 && spent + typical > lim.cellBudgetMs) break;
        if (walls.length === 0 && (Date.now() > config.deadline || (opts.allowNoRep && typical > lim.cellBudgetMs))) break;
        const r = await p.run(false);
        walls.push(r.wallMs);
        if (p.gpuTime) gpus.push(await p.gpuTime());
      }
      cell.reps = walls.length;
      cell.wall = stats(walls.length ? walls : [first.wallMs]);
      const notes: string[] = [];
      if (!walls.length) notes.push('cold run only: no warm run fitted the time budget');
      const g = gpuStats(gpus);
      if (g) {
        cell.gpu = g.gpu;
        cell.gpuSource = g.source;
        if (g.note) notes.push(g.note);
      }
      if (notes.length) cell.note = notes.join('; ');
      if (p.kernelTimes && walls.length && Date.now() < config.deadline) {
        const runs: Array<Array<{ kernel: string; ms: number }>> = [];
        for (let i = 0; i < 3; i++) {
          const k = await p.kernelTimes();
          if (k) runs.push(k);
        }
        if (runs.length) cell.kernels = runs[0]!.map((k, i) => ({ kernel: k.kernel, ms: median(runs.map((r) => r[i]!.ms)) }));
      }
      if (p.kernelMs && Date.now() < config.deadline) {
        const k = await p.kernelMs();
        if (k !== undefined) {
          cell.gpu = { median: k, min: k, max: k };
          cell.gpuSource = 'tf.time kernelMs';
        }
      }
      recordRate(b, item, item.work / cell.wall.median);
    } catch (e) {
      const kernel = missingKernel(e);
      const tfName = TF_NAME[b];
      cell.status = kernel ? 'unsupported' : 'error';
      cell.note = kernel ? `unsupported (no ${kernel} in tfjs-backend-${tfName} 4.22): ${String(e)}` : String(e instanceof Error ? e.message : e);
      delete cell.maxRelErr;
    } finally {
      p?.dispose();
    }
    emitCell(cell);
    return firstOut;
  }

  /**
   * convgpu and another backend's runs alternating, the order swapped each round, after one
   * warm run each, where 3 rounds fit the pair budget by the cells' medians: the ratio per
   * round does not drift with the machine's load the way medians taken minutes apart do.
   * Only run(false) here, no GPU-time pass: each side's timed run follows the other's, or its
   * own, and nothing else.
   */
  async function headToHead(item: ItemSpec, inp: Inputs, other: BackendId, prepareOther: () => Prepared | Promise<Prepared>): Promise<void> {
    const round = (medianOf.get(`${item.id}/convgpu`) ?? Infinity) + (medianOf.get(`${item.id}/${other}`) ?? Infinity);
    if (3 * round > lim.pairBudgetMs || overDeadline()) return;
    let a: Prepared | null = null;
    let b: Prepared | null = null;
    try {
      a = await prepareConvgpu(engine, timer, item, inp);
      b = await prepareOther();
      await a.run(false);
      await b.run(false);
      const t0 = performance.now();
      const { a: aMs, b: bMs } = await alternate(
        async () => (await a!.run(false)).wallMs,
        async () => (await b!.run(false)).wallMs,
        (n) => n < lim.pairRounds && (n < 3 || performance.now() - t0 < lim.pairBudgetMs) && !overDeadline(),
      );
      if (!aMs.length) return;
      const pair: Pair = { item: item.id, a: 'convgpu', b: other, rounds: aMs.length, aMs: stats(aMs), bMs: stats(bMs), ratio: stats(bMs.map((x, i) => x / aMs[i]!)) };
      env.emit({ type: 'pair', pair });
    } catch (e) {
      env.emit({ type: 'log', text: `  head to head with ${other} failed: ${String(e)}` });
    } finally {
      a?.dispose();
      b?.dispose();
    }
  }

  const skip = (b: BackendId, item: ItemSpec, note: string): void => emitCell({ item: item.id, backend: b, status: 'skipped', note });
  const overDeadline = (): boolean => Date.now() > config.deadline;
  const DEADLINE_NOTE = `skipped: the run's time limit (${config.quick ? '--quick' : 'full run'}) was used up`;

  for (const item of items) {
    env.emit({ type: 'log', text: `▸ ${item.label}` });
    const inp: Inputs = makeInputs(item, config.seed);

    // 1. The reference: the whole item when affordable (its first output is the truth), else an exact slice.
    let truth: Truth | null = null;
    const refEst = estimateMs('reference', item)!;
    if (overDeadline()) {
      skip('reference', item, DEADLINE_NOTE);
    } else if (refEst <= lim.refMaxMs || (item.kind === 'train' && refEst <= lim.trainRefMaxMs)) {
      const out = await measure('reference', item, () => prepareReference(item, inp), null, { allowNoRep: true });
      if (out) truth = fullTruth(out);
    } else {
      skip('reference', item, `skipped: the float64 reference would take ~${secs(refEst)} per run (limit ${secs(item.kind === 'train' ? lim.trainRefMaxMs : lim.refMaxMs)})`);
      if (sliceWork(item) / (item.work / refEst) < lim.refMaxMs * 4) truth = sliceTruth(item, inp);
    }

    // 2. convgpu, then each TF.js backend, all checked against the truth.
    const order: BackendId[] = ['convgpu', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-wasm-patched', 'tfjs-cpu'];
    for (const b of order) {
      const needsPatch = item.kind === 'train' || (item.kind === 'conv' && item.pass === 'bwdFilter');
      if (b === 'tfjs-wasm-patched' && !needsPatch) continue;
      const tfName = TF_NAME[b];
      if (tfName && config.tfjs && !config.tfjs.includes(tfName)) continue;
      if (tfName && (!tf || !env.tfBackends.includes(tfName))) {
        skip(b, item, `skipped: TF.js ${tfName} backend did not initialise here`);
        continue;
      }
      if (overDeadline()) {
        skip(b, item, DEADLINE_NOTE);
        continue;
      }
      const est = estimateMs(b, item);
      const maxRun = item.kind === 'train' ? lim.skipTrainRunMs : lim.skipRunMs;
      if (est !== null && est > maxRun) {
        skip(b, item, `skipped: ~${secs(est)} per run at this backend's best speed on an earlier ${item.kind} item (limit ${secs(maxRun)})`);
        continue;
      }
      if (b === 'convgpu') {
        await measure(b, item, () => prepareConvgpu(engine, timer, item, inp), truth);
        continue;
      }
      await tf!.setBackend(tfName!);
      let unpatch: (() => void) | null = null;
      try {
        if (b === 'tfjs-wasm-patched') unpatch = registerWasmConv2DBackpropFilter(tf!);
        await measure(b, item, () => prepareTfjs(tf!, item, inp), truth);
      } finally {
        unpatch?.();
      }
    }

    // 3. Head to head with TF.js webgpu (the ×3 goal), and for training steps with TF.js wasm
    // (patched where it must be: the ×2 goal).
    const ok = (b: BackendId): boolean => statusOf.get(`${item.id}/${b}`) === 'ok';
    if (tf && ok('convgpu') && ok('tfjs-webgpu')) {
      await tf.setBackend('webgpu');
      await headToHead(item, inp, 'tfjs-webgpu', () => prepareTfjs(tf, item, inp));
    }
    const wasm: BackendId | null = ok('tfjs-wasm') ? 'tfjs-wasm' : ok('tfjs-wasm-patched') ? 'tfjs-wasm-patched' : null;
    if (item.kind === 'train' && tf && ok('convgpu') && wasm) {
      await tf.setBackend('wasm');
      const unpatch = wasm === 'tfjs-wasm-patched' ? registerWasmConv2DBackpropFilter(tf) : null;
      try {
        await headToHead(item, inp, wasm, () => prepareTfjs(tf, item, inp));
      } finally {
        unpatch?.();
      }
    }
  }
  timer.destroy();
}

/** Initialises each TF.js backend; returns those that work and why the others did not. */
export async function initTfjs(tf: Tf, names: string[]): Promise<{ ok: string[]; errors: Record<string, string> }> {
  const ok: string[] = [];
  const errors: Record<string, string> = {};
  for (const n of names) {
    try {
      if (await tf.setBackend(n)) {
        await tf.ready();
        ok.push(n);
      } else errors[n] = `tf.setBackend('${n}') returned false`;
    } catch (e) {
      errors[n] = String(e);
    }
  }
  return { ok, errors };
}

/** What the page and the Node suite both report about convgpu's kernels: which tuning, and where it came from. */
export function convgpuTuning(config: BenchConfig, engine: Engine): string {
  const from = config.autotune ? 'autotuned' : config.tuning ? `set (${JSON.stringify(config.tuning)})` : 'default';
  return `${from}: ${describeTuning(engine.tuning)}`;
}

/** What the page and the Node suite both report about TF.js. */
export function tfjsInfo(tf: Tf, ok: string[]): Pick<PageInfo, 'tfjsVersion' | 'tfjsWebgpuAdapter'> {
  let adapter: string | undefined;
  if (ok.includes('webgpu')) {
    const be = tf.findBackend('webgpu') as (TF.KernelBackend & { adapterInfo?: { vendor?: string; architecture?: string; description?: string } }) | null;
    const i = be?.adapterInfo;
    adapter = i ? [i.vendor, i.architecture, i.description].filter(Boolean).join(' / ') || 'unknown' : undefined;
  }
  return { tfjsVersion: tf.version_core, tfjsWebgpuAdapter: adapter };
}
