// Shapes of what the benchmark measures and reports; shared by the page, the Node suite
// and the runner that writes the JSON, the table and the chart.
import type { Tuning } from '../../src/ops/tuning.js';

export type Kind = 'gemm' | 'conv' | 'pool' | 'train';
export type Unit = 'GFLOP/s' | 'GB/s' | 'images/s';

/** One thing to measure. Shapes are NCHW / OIHW, the convgpu layouts; TF.js gets NHWC / HWIO copies. */
export type ItemSpec =
  | (ItemBase & { kind: 'gemm'; m: number; n: number; k: number })
  | (ItemBase & { kind: 'conv'; pass: ConvPass; x: number[]; w: number[]; pad: number })
  | (ItemBase & { kind: 'pool'; pass: 'fwd' | 'bwd'; x: number[]; size: number })
  | (ItemBase & { kind: 'train'; c1: number; c2: number; batch: number });

export type ConvPass = 'fwd' | 'bwdInput' | 'bwdFilter';

interface ItemBase {
  id: string;
  /** As printed in the table, e.g. "GEMM 512³". */
  label: string;
  /** FLOPs of one run (gemm, conv, train) or bytes moved (pool). */
  work: number;
  unit: Unit;
}

/** A backend column of the table. */
export type BackendId = 'convgpu' | 'reference' | 'tfjs-webgpu' | 'tfjs-wasm' | 'tfjs-wasm-patched' | 'tfjs-cpu';

export const BACKEND_LABEL: Record<BackendId, string> = {
  convgpu: 'convgpu WebGPU',
  reference: 'convgpu CPU reference',
  'tfjs-webgpu': 'TF.js webgpu',
  'tfjs-wasm': 'TF.js wasm',
  'tfjs-wasm-patched': 'TF.js wasm (patched)',
  'tfjs-cpu': 'TF.js cpu',
};

export type Status =
  | 'ok'
  /** The result differs from the CPU reference by more than the tolerance. */
  | 'fail'
  /** The backend lacks a kernel; `note` has the real error. */
  | 'unsupported'
  /** Not run: over its time budget, or reference too slow; `note` says which. */
  | 'skipped'
  /** It threw for another reason; `note` has the error. */
  | 'error';

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export interface Cell {
  item: string;
  backend: BackendId;
  status: Status;
  /** Milliseconds from the first call (pipeline compile included) to its result in JS. */
  firstMs?: number;
  /** End-to-end time of a warm run: submit (or call) to the output read back into JS. */
  wall?: Stats;
  /** convgpu: GPU time from GpuTimer; TF.js webgpu: tf.time's kernelMs (one run). */
  gpu?: Stats;
  gpuSource?: 'timestamp' | 'wall' | 'tf.time kernelMs';
  /**
   * convgpu, ops of more than one dispatch, where the adapter has timestamps: each dispatch's GPU
   * time in a pass of its own (the median of 3), in order: where the op's time goes.
   */
  kernels?: Array<{ kernel: string; ms: number }>;
  /** Timed runs after the warm-up (0: only the warm-up run fitted the budget, and `wall` is that run). */
  reps?: number;
  /** max |out − ref| / max |ref| over the checked values (worst tensor for a training step). */
  maxRelErr?: number;
  /** What the result was checked against: the full reference output, or an exact slice of it. */
  checkedBy?: string;
  note?: string;
}

/**
 * A head-to-head: two backends' runs of one item alternating (the order swapped each round),
 * so that the machine's load, which drifts over a run, falls on both alike.
 */
export interface Pair {
  item: string;
  a: BackendId;
  b: BackendId;
  rounds: number;
  aMs: Stats;
  bMs: Stats;
  /** b's time ÷ a's, per round (×2: a twice as fast). */
  ratio: Stats;
}

export interface PageInfo {
  /** convgpu's engine.describe(). */
  adapter: string;
  adapterInfo: Record<string, unknown>;
  hasTimestamps: boolean;
  /** The kernels and tiling convgpu ran with (describeTuning), and whether autotune chose them. */
  tuning?: string;
  tfjsWebgpuAdapter?: string;
  tfjsVersion: string;
  wasmThreads?: number;
  wasmThreadsNote?: string;
  hardwareConcurrency?: number;
  crossOriginIsolated?: boolean;
  userAgent?: string;
  backends: BackendId[];
  backendErrors: Record<string, string>;
  /** GPU mode was asked for, but the adapter is a CPU fallback (see suiteItems). */
  gpuNote?: string;
}

/** Events from the page (or the Node suite) to the runner. */
export type BenchEvent =
  | { type: 'info'; info: PageInfo; items: ItemSpec[] }
  | { type: 'log'; text: string }
  | { type: 'cell'; cell: Cell }
  | { type: 'pair'; pair: Pair }
  | { type: 'done'; elapsedMs: number }
  | { type: 'error'; message: string };

export interface BenchConfig {
  quick: boolean;
  gpu: boolean;
  /** Absolute time (Date.now()) after which no new cell starts. */
  deadline: number;
  seed: number;
  /** Only items whose id contains one of these (e.g. "gemm", "conv2-", "train"). */
  only?: string[];
  /** Only these TF.js backends (tf names: webgpu, wasm, cpu); all when absent. convgpu and the reference always run. */
  tfjs?: string[];
  /** The CPU reference as ground truth only: the whole item under ~2 s (else an exact slice), one timed run (GPU machines, where it would dominate the run). */
  refTruthOnly?: boolean;
  /** convgpu's engine made with autotune (cached per adapter) instead of the default tuning. */
  autotune?: boolean;
  /** Tuning fields to set on convgpu's engine (--tuning), to compare kernel variants in the page as bench:kernels does in Node. */
  tuning?: Partial<Tuning>;
}

export interface ResultFile {
  meta: {
    date: string;
    mode: 'browser' | 'node';
    quick: boolean;
    /** GPU mode ran on a GPU adapter (false where GPU flags still gave a CPU fallback: info.gpuNote). */
    gpu: boolean;
    runtime: string;
    flags?: string[];
    totalSeconds: number;
    timing: string;
    tolerance: number;
    incomplete?: string;
  };
  info: PageInfo;
  items: ItemSpec[];
  cells: Cell[];
  /** Head-to-heads (training steps: convgpu against TF.js wasm). */
  pairs?: Pair[];
}
