// The training loop and evaluation, for both backends, shared by the CLI, the demo and
// the tests. Runs are reproducible from (model seed, data seed, step): epoch e shuffles
// with epochSeed(seed, e) and step s augments with stepSeed(seed, s), so a run resumed
// from a checkpoint at step s sees exactly the batches an uninterrupted run would.
import { augmentBatch, type AugmentOptions } from '../data/augment.js';
import { batches } from '../data/batches.js';
import type { Dataset } from '../data/mnist.js';
import { mulberry32 } from '../data/rng.js';
import { AttributeError, NonFiniteError } from '../errors.js';
import { seedInt } from '../shape.js';
import { CpuModel } from './cpu-model.js';
import { accuracy, type Model, type StepResult } from './model.js';

export type AnyModel = Model | CpuModel;

/** One step at a time on either backend. */
export interface Stepper {
  readonly batch: number;
  /** Reads back loss and accuracy only when `read` (a GPU sync). */
  step(x: Float32Array, labels: Float32Array, read: boolean): Promise<StepResult | null>;
  /** Waits for submitted work to finish (for honest timing). */
  sync(): Promise<void>;
  dispose(): void;
}

export async function stepper(model: AnyModel, batch: number): Promise<Stepper> {
  if (model instanceof CpuModel) {
    const classes = model.graph.classes;
    return {
      batch,
      async step(x, labels, read) {
        const rec = model.trainStep(x, labels, batch);
        if (!read) return null;
        const logits = rec.acts[model.graph.output.id]!.data;
        return { loss: rec.loss, accuracy: accuracy(Float32Array.from(logits), labels, classes) };
      },
      async sync() {},
      dispose() {},
    };
  }
  const plan = await model.trainer(batch);
  return {
    batch,
    step: (x, labels, read) => plan.step(x, labels, read),
    sync: () => model.engine.sync(),
    dispose: () => plan.dispose(),
  };
}

/** The shuffling seed of an epoch. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + epoch) >>> 0;
}

/** The augmentation seed of a step. */
export function stepSeed(seed: number, step: number): number {
  return (Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x85ebca6b) + Math.imul(step, 0xc2b2ae35)) >>> 0;
}

/** Full batches per epoch: the short tail is dropped (a compiled plan has one batch size), a different one each epoch. */
export function stepsPerEpoch(n: number, batch: number): number {
  return Math.floor(n / batch);
}

export interface TrainOptions {
  /** Total epochs, counting any already done (a resumed model starts at model.step). */
  epochs: number;
  batch: number;
  /** Data seed: shuffling and augmentation. */
  seed: number;
  /** Random rotation and shift of each training batch. */
  augment?: boolean | AugmentOptions;
  /** Read loss and accuracy back every this many steps (default 20); each read waits for the GPU. */
  readEvery?: number;
  /**
   * NaN guard: every this many steps (and whenever a read-back loss is not finite), check
   * the gradients and weights, and stop with a NonFiniteError naming the first layer
   * affected. Off by default (each check reads the parameters back).
   */
  nanCheckEvery?: number;
  /**
   * Stop after the current step when aborted (e.g. on SIGINT). With a signal, each step first
   * yields to the event loop, so an abort pending there (a Ctrl-C) is seen before the step; the
   * CPU reference never yields otherwise, and would not see one until the run ended.
   */
  signal?: AbortSignal;
  /** Called after every step. */
  onStep?: (p: StepProgress) => void;
  /** Called after every full epoch, e.g. to save a checkpoint; awaited. */
  onEpoch?: (e: EpochResult) => void | Promise<void>;
}

export interface StepProgress {
  /** 0-based epoch. */
  epoch: number;
  /** Steps done in this epoch. */
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** model.step after this step. */
  step: number;
  totalSteps: number;
  /** From the last read-back step. */
  loss: number;
  accuracy: number;
  /** Training images per second over this run so far (as of the last sync). */
  imagesPerSecond: number;
}

export interface EpochResult {
  /** Epochs completed, counting this one (1-based). */
  epoch: number;
  /** model.step at the end of the epoch. */
  step: number;
  /** Means over the steps read back in this epoch. */
  loss: number;
  accuracy: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainResult {
  epochs: EpochResult[];
  /** True when stopped by the signal before the last epoch ended. */
  stopped: boolean;
  /** Training images processed by this call, and the wall time they took. */
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

/** Trains from model.step up to `epochs` epochs over `ds`. */
export async function trainEpochs(model: AnyModel, ds: Dataset, opts: TrainOptions): Promise<TrainResult> {
  const { epochs, batch, seed } = opts;
  const readEvery = opts.readEvery ?? 20;
  for (const [k, v] of [['epochs', epochs], ['batch', batch], ['readEvery', readEvery]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new AttributeError(`trainEpochs: ${k} must be a positive integer, got ${String(v)}.`);
  }
  seedInt('trainEpochs', seed);
  const spe = stepsPerEpoch(ds.n, batch);
  if (spe < 1) throw new AttributeError(`trainEpochs: ${ds.n} training examples do not fill one batch of ${batch}; use a smaller batch.`);
  const [, h, w] = ds.shape;
  const augment = opts.augment === true ? {} : opts.augment || null;
  const totalSteps = epochs * spe;

  const st = await stepper(model, batch);
  const result: TrainResult = { epochs: [], stopped: false, images: 0, seconds: 0, imagesPerSecond: 0 };
  const t0 = performance.now();
  let synced = { images: 0, seconds: 0 };
  let last = { loss: NaN, accuracy: NaN };
  try {
    for (let epoch = Math.floor(model.step / spe); epoch < epochs; epoch++) {
      const skip = model.step - epoch * spe;
      const te = performance.now();
      let images = 0;
      let sums = { loss: 0, accuracy: 0, n: 0 };
      let i = 0;
      for (const b of batches(ds, batch, epochSeed(seed, epoch), { dropLast: true })) {
        if (i++ < skip) continue;
        if (opts.signal) {
          await yieldToEventLoop();
          if (opts.signal.aborted) break;
        }
        const x = augment ? augmentBatch(b.x, b.size, h, w, mulberry32(stepSeed(seed, model.step)), augment) : b.x;
        const stepInEpoch = model.step - epoch * spe + 1;
        const read = stepInEpoch % readEvery === 0 || stepInEpoch === spe;
        const r = await st.step(x, b.y, read);
        images += b.size;
        result.images += b.size;
        const every = opts.nanCheckEvery ?? 0;
        if (every > 0 && (model.step % every === 0 || (r && !Number.isFinite(r.loss)))) await nanGuard(model, r?.loss);
        if (r) {
          last = r;
          sums = { loss: sums.loss + r.loss, accuracy: sums.accuracy + r.accuracy, n: sums.n + 1 };
          synced = { images: result.images, seconds: (performance.now() - t0) / 1000 };
        }
        opts.onStep?.({
          epoch,
          stepInEpoch,
          stepsPerEpoch: spe,
          step: model.step,
          totalSteps,
          ...last,
          imagesPerSecond: synced.images / Math.max(synced.seconds, 1e-9),
        });
      }
      await st.sync();
      if (opts.signal?.aborted && model.step < (epoch + 1) * spe) {
        result.stopped = true;
        break;
      }
      const seconds = (performance.now() - te) / 1000;
      const e: EpochResult = {
        epoch: epoch + 1,
        step: model.step,
        loss: sums.loss / Math.max(sums.n, 1),
        accuracy: sums.accuracy / Math.max(sums.n, 1),
        images,
        seconds,
        imagesPerSecond: images / Math.max(seconds, 1e-9),
      };
      result.epochs.push(e);
      await opts.onEpoch?.(e);
    }
  } finally {
    st.dispose();
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.imagesPerSecond = result.images / Math.max(result.seconds, 1e-9);
  return result;
}

const immediate = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * Lets pending events run, a signal's handler among them, before going on. Two turns: Node
 * reads signals when its event loop polls, and an immediate queued from an I/O callback (a
 * checkpoint's write, say) runs before the loop polls again; the second comes after a poll.
 */
async function yieldToEventLoop(): Promise<void> {
  await immediate();
  await immediate();
}

async function nanGuard(model: AnyModel, loss: number | undefined): Promise<void> {
  const bad = await model.findNonFinite();
  if (!bad && (loss === undefined || Number.isFinite(loss))) return;
  const where = bad
    ? `the ${bad.what} of ${bad.name} in layer ${bad.layer} is the first that is not finite`
    : `the loss is ${loss}, though every weight and gradient is finite`;
  throw new NonFiniteError(
    `training stopped at step ${model.step}: ${where}. Lower the learning rate (or add weight decay), and resume from the last checkpoint, which was saved before this.`,
  );
}

export interface EvalResult {
  /** Over the `n` images evaluated (NaN if none). */
  accuracy: number;
  correct: number;
  /** Images evaluated: the whole dataset, unless stopped. */
  n: number;
  seconds: number;
  imagesPerSecond: number;
  /** True when the signal stopped it before the whole dataset was evaluated. */
  stopped: boolean;
}

export interface EvalOptions {
  /** Images per forward pass (default 500, or fewer when the dataset is smaller). */
  batch?: number;
  /**
   * Stop between batches when aborted (e.g. on SIGINT). As in trainEpochs, each batch first
   * yields to the event loop, so an abort pending there is seen before it.
   */
  signal?: AbortSignal;
}

/**
 * Accuracy over the whole dataset, in batches of `batch`; the last partial batch is padded
 * with zeros and only its real rows are counted. Aborted, it returns what it evaluated so far,
 * with `stopped` set.
 */
export async function evaluate(model: AnyModel, ds: Dataset, opts: EvalOptions = {}): Promise<EvalResult> {
  const batch = Math.min(opts.batch ?? 500, ds.n);
  if (!Number.isInteger(batch) || batch < 1) throw new AttributeError(`evaluate: batch must be a positive integer and the dataset non-empty (n = ${ds.n}).`);
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const classes = model.graph.classes;
  const t0 = performance.now();
  const plan = model instanceof CpuModel ? null : await model.predictor(batch);
  let correct = 0;
  let done = 0;
  let stopped = false;
  try {
    const x = new Float32Array(batch * per);
    for (let start = 0; start < ds.n; start += batch) {
      if (opts.signal) {
        await yieldToEventLoop();
        if (opts.signal.aborted) {
          stopped = true;
          break;
        }
      }
      const size = Math.min(batch, ds.n - start);
      x.set(ds.images.subarray(start * per, (start + size) * per));
      if (size < batch) x.fill(0, size * per);
      const logits = plan ? await plan.run(x) : Float32Array.from((model as CpuModel).predict(x.subarray(0, size * per), size));
      correct += Math.round(accuracy(logits, ds.labels.subarray(start, start + size), classes, size) * size);
      done += size;
    }
  } finally {
    plan?.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { accuracy: done ? correct / done : NaN, correct, n: done, seconds, imagesPerSecond: done / Math.max(seconds, 1e-9), stopped };
}
