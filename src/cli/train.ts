// `npm run train`: trains a model-zoo CNN on MNIST, evaluates it on the test set and
// saves a checkpoint after every epoch and on Ctrl-C. `npm run train -- --help` for flags.
// The loop itself is src/nn/train.ts; this file parses flags and prints.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { shiftImages } from '../data/batches.js';
import { loadMnist } from '../data/mnist-node.js';
import type { Dataset } from '../data/mnist.js';
import { ConvGpuError } from '../errors.js';
import { loadCheckpoint, prepareCheckpointPath, restore, saveCheckpoint, type CheckpointContents } from '../nn/checkpoint.js';
import { CpuModel } from '../nn/cpu-model.js';
import type { Graph } from '../nn/graph.js';
import { Model, type ModelOptions } from '../nn/model.js';
import { CLASSICS, MODELS } from '../nn/models.js';
import { USUAL_LR, type OptimizerSpec, type Schedule } from '../nn/optim.js';
import { layerTable, weightSplit } from '../nn/summary.js';
import { evaluate, stepsPerEpoch, trainEpochs, type AnyModel, type EvalResult, type StepProgress } from '../nn/train.js';
import { formatVerify, verify } from '../nn/verify.js';
import { describeTuning } from '../ops/tuning.js';
import { Engine } from '../runtime/engine.js';

/**
 * Defaults, in one place. epochs: lenet (seed 1) tests at 98.47% after 1 epoch and 98.79% after 2, so 2 clears 98.5%.
 * adamLr: lenet, 2 epochs, cosine: 98.31% at 1e-3, 98.82% at 2e-3, 98.90% at 3e-3, 98.93% at 5e-3 (seed 1).
 */
export const DEFAULTS = {
  model: 'lenet',
  epochs: 2,
  batch: 64,
  optimizer: 'sgd',
  lr: USUAL_LR.sgd,
  momentum: 0.9,
  adamLr: USUAL_LR.adam,
  seed: 1,
  readEvery: 20,
  evalBatch: 500,
  /** The float64 reference blocks the event loop for a whole batch (500 images took 1.5 s), and a Ctrl-C waited for it. */
  cpuEvalBatch: 50,
  shift: 3,
  checkpointDir: 'checkpoints',
} as const;

const HELP = `Usage: npm run train -- [flags]
  --model NAME      ${Object.keys(MODELS).join(' | ')} (default ${DEFAULTS.model})
  --epochs N        total epochs (default ${DEFAULTS.epochs})
  --batch N         training batch size (default ${DEFAULTS.batch})
  --optimizer O     sgd (momentum ${DEFAULTS.momentum}, the default) | adam
  --lr X            learning rate, cosine decay over the run (default ${DEFAULTS.lr} for sgd, ${DEFAULTS.adamLr} for adam)
  --seed N          weights, shuffling and augmentation seed, 0 to 4294967295 (default ${DEFAULTS.seed})
  --limit N         train on the first N training images only
  --test-limit N    evaluate on the first N test images only (default all 10,000)
  --augment         random rotation (±10°) and shift (±2 px) of each training batch
  --backend B       webgpu (default) | cpu (the float64 reference: slow, for tiny --limit runs)
  --verify          check one training step against the CPU reference first; exit 1 if it differs
  --resume          continue from the checkpoint (same model, batch, seed, limit, schedule);
                    only a checkpoint saved by npm run train, which records them
  --checkpoint P    checkpoint path (default ${DEFAULTS.checkpointDir}/<model>.safetensors)
  --compare         train mlp and lenet with the same settings; compare accuracy on shifted digits
                    (saves no checkpoint: not with --model, --checkpoint or --resume)
  --nan-check N     every N steps, stop if a weight or gradient is not finite (naming the layer);
                    the last checkpoint, saved before it, is kept
  --autotune        time the kernels' tilings on this adapter first (cached per adapter)
  --json            print a JSON summary as the last line
  --summary         print the model's layers (output shapes, parameters, FLOPs, how each layer with
                    weights connects) and where its weights and arithmetic sit, then exit: no GPU,
                    no data; --model may also be ${Object.keys(CLASSICS).join(' or ')} (3×224×224, 1000 classes);
                    with --json, the totals as the last line
  --help`;

interface Args {
  model?: string;
  epochs?: number;
  batch?: number;
  optimizer?: 'sgd' | 'adam';
  lr?: number;
  seed?: number;
  limit?: number;
  testLimit?: number;
  augment: boolean;
  backend: 'webgpu' | 'cpu';
  verify: boolean;
  resume: boolean;
  checkpoint?: string;
  compare: boolean;
  json: boolean;
  nanCheck?: number;
  autotune: boolean;
  summary: boolean;
}

/** A name of the table's own: "constructor" or "toString" are not models. */
const inZoo = (table: Record<string, unknown>, name: string): boolean => Object.hasOwn(table, name);

/** A flag error: printed without a stack trace, exit code 2. */
class UsageError extends Error {}

function parse(argv: string[]): Args | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      optimizer: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      limit: { type: 'string' },
      'test-limit': { type: 'string' },
      augment: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'webgpu' },
      verify: { type: 'boolean', default: false },
      resume: { type: 'boolean', default: false },
      checkpoint: { type: 'string' },
      compare: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'nan-check': { type: 'string' },
      autotune: { type: 'boolean', default: false },
      summary: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) return null;
  // NOTE: not Number(s) alone: Number("") and Number(" ") are 0, and "0x10" or "1e3" are not what anyone typed as a count.
  const int = (flag: string, s: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    if (s === undefined) return undefined;
    const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new UsageError(`--${flag} must be an integer ${range}, got "${s}".`);
    }
    return n;
  };
  if (v.model !== undefined && inZoo(CLASSICS, v.model) && !v.summary) {
    throw new UsageError(`--model ${v.model} takes 3×224×224 ImageNet images, not 28×28 MNIST digits; print its layers with --summary --model ${v.model}.`);
  }
  if (v.model !== undefined && !inZoo(MODELS, v.model) && !inZoo(CLASSICS, v.model)) {
    throw new UsageError(`--model must be one of ${Object.keys(MODELS).join(', ')} (or, with --summary, ${Object.keys(CLASSICS).join(', ')}); got "${v.model}".`);
  }
  if (v.summary && (v.compare || v.resume)) throw new UsageError(`--summary prints one model's layers and trains nothing; it cannot be combined with --${v.compare ? 'compare' : 'resume'}.`);
  if (v.backend !== 'webgpu' && v.backend !== 'cpu') throw new UsageError(`--backend must be webgpu or cpu, got "${v.backend}".`);
  if (v.optimizer !== undefined && v.optimizer !== 'sgd' && v.optimizer !== 'adam') throw new UsageError(`--optimizer must be sgd or adam, got "${v.optimizer}".`);
  const lr = v.lr === undefined ? undefined : Number(v.lr);
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new UsageError(`--lr must be a positive number, got "${v.lr}".`);
  if (v.compare && v.resume) throw new UsageError('--compare trains fresh models; it cannot be combined with --resume.');
  if (v.compare && v.model !== undefined) throw new UsageError('--compare always trains mlp and lenet; it cannot be combined with --model.');
  if (v.compare && v.checkpoint !== undefined) throw new UsageError('--compare saves no checkpoint; it cannot be combined with --checkpoint.');
  return {
    model: v.model,
    epochs: int('epochs', v.epochs, 1),
    batch: int('batch', v.batch, 1),
    optimizer: v.optimizer as Args['optimizer'],
    lr,
    // Seeds are 32-bit (src/nn/init.ts): a larger one would silently train as seed mod 2^32.
    seed: int('seed', v.seed, 0, 2 ** 32 - 1),
    limit: int('limit', v.limit, 1),
    testLimit: int('test-limit', v['test-limit'], 1),
    augment: v.augment,
    backend: v.backend,
    verify: v.verify,
    resume: v.resume,
    checkpoint: v.checkpoint,
    compare: v.compare,
    json: v.json,
    nanCheck: int('nan-check', v['nan-check'], 1),
    autotune: v.autotune,
    summary: v.summary,
  };
}

/** Everything one training run needs, after defaults and the checkpoint are applied. */
interface RunConfig {
  modelName: string;
  epochs: number;
  batch: number;
  seed: number;
  augment: boolean;
  limit: number | undefined;
  modelOpts: ModelOptions;
}

function fresh(args: Args, modelName: string, trainN: number): RunConfig {
  const epochs = args.epochs ?? DEFAULTS.epochs;
  const batch = args.batch ?? DEFAULTS.batch;
  const seed = args.seed ?? DEFAULTS.seed;
  const schedule: Schedule = { kind: 'cosine', totalSteps: epochs * stepsPerEpoch(trainN, batch) };
  const optimizer: OptimizerSpec =
    (args.optimizer ?? DEFAULTS.optimizer) === 'adam'
      ? { type: 'adam', lr: args.lr ?? DEFAULTS.adamLr }
      : { type: 'sgd', lr: args.lr ?? DEFAULTS.lr, momentum: DEFAULTS.momentum };
  return {
    modelName,
    epochs,
    batch,
    seed,
    augment: args.augment,
    limit: args.limit,
    modelOpts: { seed, optimizer, schedule },
  };
}

/** What runOne's extra() records in a checkpoint besides the model, optimizer, schedule and seed. */
interface RunRecord {
  batch: number;
  /** Planned epochs. */
  epochs: number;
  augment: boolean;
  /** --limit, if the run had one. */
  limit: number | undefined;
}

/**
 * The run a checkpoint belongs to, as `npm run train` recorded it. A checkpoint saved elsewhere
 * (the demo's) lacks it, and is refused: guessing the batch or the images would resume another run.
 */
function runRecord(ck: CheckpointContents): RunRecord {
  const x = ck.meta.extra;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
  const bad = [
    count(x.batch) ? '' : 'batch',
    count(x.epochs) ? '' : 'epochs',
    typeof x.augment === 'boolean' ? '' : 'augment',
    x.limit === null || count(x.limit) ? '' : 'limit',
  ].filter(Boolean);
  if (bad.length) {
    throw new UsageError(
      `--resume: ${ck.source} has no valid record of its run's ${bad.join(', ')}: it was not saved by npm run train (the demo's downloads are like this), ` +
        'so that run cannot be continued exactly. Train a new model without --resume (and with another --checkpoint, to keep this file).',
    );
  }
  return { batch: x.batch as number, epochs: x.epochs as number, augment: x.augment as boolean, limit: (x.limit as number | null) ?? undefined };
}

/** The run a checkpoint belongs to; flags that contradict it are refused rather than silently ignored. */
function resumed(args: Args, ck: CheckpointContents, rec: RunRecord, trainN: number, say: (s: string) => void): RunConfig {
  const m = ck.meta;
  const clash = (flag: string, given: unknown, saved: unknown): void => {
    if (given !== undefined && given !== saved) {
      throw new UsageError(`--${flag} ${String(given)} differs from the checkpoint's ${String(saved)}; drop the flag to resume that run, or start a new one without --resume.`);
    }
  };
  clash('model', args.model, m.modelName);
  clash('batch', args.batch, rec.batch);
  clash('seed', args.seed, m.seed);
  clash('optimizer', args.optimizer, m.optimizer.type);
  clash('lr', args.lr, m.optimizer.lr);
  clash('limit', args.limit, rec.limit);
  if (args.augment && !rec.augment) clash('augment', true, false);
  if (!inZoo(MODELS, m.modelName)) throw new UsageError(`${ck.source}: model "${m.modelName}" is not in the model zoo (${Object.keys(MODELS).join(', ')}).`);
  const epochs = args.epochs ?? rec.epochs;
  let schedule = m.schedule;
  const total = epochs * stepsPerEpoch(trainN, rec.batch);
  // Only while there are steps left: with no more epochs than the checkpoint has, the run only evaluates.
  if (schedule?.kind === 'cosine' && schedule.totalSteps !== total && total > m.step) {
    say(`note: ${epochs} epochs instead of ${rec.epochs}: the cosine schedule now ends at step ${total}, not ${schedule.totalSteps}.`);
    schedule = { ...schedule, totalSteps: total };
  }
  return { modelName: m.modelName, epochs, batch: rec.batch, seed: m.seed, augment: rec.augment, limit: rec.limit, modelOpts: { seed: m.seed, optimizer: m.optimizer, schedule } };
}

/** Before anything is compiled: a batch the training images cannot fill once would train nothing. */
function checkBatch(cfg: RunConfig, trainN: number): void {
  if (stepsPerEpoch(trainN, cfg.batch) < 1) {
    throw new UsageError(`--batch ${cfg.batch} is more than the ${num(trainN)} training images${cfg.limit ? ` (--limit ${cfg.limit})` : ''}; use a smaller --batch.`);
  }
}

function build(engine: Engine | null, name: string, opts: ModelOptions): AnyModel {
  const graph = MODELS[name]!();
  return engine ? new Model(engine, graph, opts) : new CpuModel(graph, opts);
}

const describeOptimizer = (o: OptimizerSpec): string => (o.type === 'sgd' ? `sgd lr ${o.lr} momentum ${o.momentum ?? 0}` : `adam lr ${o.lr}`);

/** The schedule as the model has it: a resumed one is the checkpoint's, which need not be the CLI's cosine. */
function describeSchedule(s: Schedule | undefined): string {
  if (!s || s.kind === 'constant') return 'constant lr';
  if (s.kind === 'step') return `lr × ${s.gamma} every ${s.every} steps`;
  return `cosine${s.minLr ? ` to ${s.minLr}` : ''} over ${s.totalSteps} steps`;
}

const pct = (a: number): string => `${(100 * a).toFixed(2)}%`;
const num = (n: number): string => n.toLocaleString('en-US');

function progressBar(label: string): { onStep: (p: StepProgress) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | acc {acc} | {ips} img/s | ETA {eta_formatted}`,
      hideCursor: tty,
      // Without a terminal, print a plain line every 10 s so logs still show progress.
      noTTYOutput: !tty,
      notTTYSchedule: 10_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onStep(p) {
      const payload = {
        epoch: `${p.epoch + 1}`,
        loss: Number.isNaN(p.loss) ? '…' : p.loss.toFixed(4),
        acc: Number.isNaN(p.accuracy) ? '…' : pct(p.accuracy),
        ips: p.imagesPerSecond > 0 ? p.imagesPerSecond.toFixed(1) : '…',
      };
      if (!started) {
        bar.start(p.totalSteps, p.step - 1, payload);
        started = true;
      }
      bar.update(p.step, payload);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

async function main(): Promise<number> {
  const wall0 = performance.now();
  const args = parse(process.argv.slice(2));
  if (!args) {
    console.log(HELP);
    return 0;
  }
  const say = (s: string): void => console.log(s);
  if (args.summary) {
    const name = args.model ?? DEFAULTS.model;
    const graph = (inZoo(MODELS, name) ? MODELS[name]! : CLASSICS[name]!)();
    say(`model: ${name}`);
    say(layerTable(graph));
    if (args.json) say(JSON.stringify({ model: name, ...weightSplit(graph), firstLayer: graph.firstWeightLayer() }));
    return 0;
  }

  // Needs an engine for the webgpu backend, and for --verify (it compares against WebGPU).
  const engine = args.backend === 'webgpu' || args.verify ? await Engine.create({ autotune: args.autotune }) : null;
  say(engine ? `adapter: ${engine.describe()}${args.autotune ? `; tuned: ${describeTuning(engine.tuning)}` : ''}` : 'backend: cpu (float64 reference, no GPU)');
  // Fallen back to SwiftShader by itself (no Vulkan driver chosen): a newcomer's machine.
  if (engine?.adapterInfo.foundSwiftShader) {
    say('note: SwiftShader runs WebGPU on the CPU; on Debian 12, `sudo scripts/setup-lavapipe.sh` installs Mesa 25\'s lavapipe, which runs this 4–5× faster (README).');
  }
  const gpu = args.backend === 'webgpu' ? engine : null;

  // NOTE: one controller for the whole run, --compare's two models included: with one per
  // model, Ctrl-C stopped only the model training at the time and the next one started.
  // Training and evaluation both take the signal and stop at their next step or batch, so
  // the first Ctrl-C is never lost in a phase that does not check it.
  const abort = new AbortController();
  const onSigint = (): void => {
    // A second Ctrl-C quits at once, without a checkpoint.
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  try {
    let ck: CheckpointContents | null = null;
    let rec: RunRecord | null = null;
    const ckPath = (name: string): string => args.checkpoint ?? `${DEFAULTS.checkpointDir}/${name}.safetensors`;
    if (args.resume) {
      const path = ckPath(args.model ?? DEFAULTS.model);
      if (!existsSync(path)) {
        throw new UsageError(`--resume: there is no checkpoint at ${path}; train once without --resume to make one${args.checkpoint ? '' : ', or pass --checkpoint PATH'}.`);
      }
      ck = await loadCheckpoint(path);
      rec = runRecord(ck);
      say(`resuming ${path}: model ${ck.meta.modelName}, ${ck.meta.epoch} epoch(s) done, step ${ck.meta.step}`);
    }
    const limit = rec ? rec.limit : args.limit;
    const [train, test] = await Promise.all([loadMnist({ split: 'train', limit }), loadMnist({ split: 'test', limit: args.testLimit })]);
    say(`data: ${num(train.n)} training images, ${num(test.n)} test images`);

    const summary: Record<string, unknown> = { backend: args.backend, adapter: engine?.describe() ?? null };
    const evalBatch = gpu ? DEFAULTS.evalBatch : DEFAULTS.cpuEvalBatch;
    const common = { say, engine, verifyFirst: args.verify, nanCheck: args.nanCheck, signal: abort.signal, evalBatch };
    process.on('SIGINT', onSigint);
    let stopped = false;
    if (args.compare) {
      const rows: RunSummary[] = [];
      for (const name of ['mlp', 'lenet']) {
        if (abort.signal.aborted) {
          // A Ctrl-C handled during the previous model's last batch, after its last check.
          say(`interrupted before ${name}.`);
          stopped = true;
          break;
        }
        const cfg = fresh(args, name, train.n);
        checkBatch(cfg, train.n);
        const model = build(gpu, name, cfg.modelOpts);
        try {
          rows.push(await runOne(model, cfg, train, test, { ...common, save: null, shifts: true }));
        } finally {
          if (model instanceof Model) model.dispose();
        }
        if (rows.at(-1)!.stopped) {
          stopped = true;
          break;
        }
      }
      if (!stopped) {
        say('');
        say(compareTable(rows));
        say(`shifted: every test digit moved ${DEFAULTS.shift} px right (→) or ${DEFAULTS.shift} px down (↓), vacated pixels set to background (0).`);
        say(connectivityNote(rows));
      }
      Object.assign(summary, { compare: rows, stopped, wallSeconds: (performance.now() - wall0) / 1000 });
    } else {
      const cfg = ck && rec ? resumed(args, ck, rec, train.n, say) : fresh(args, args.model ?? DEFAULTS.model, train.n);
      checkBatch(cfg, train.n);
      const save = ckPath(cfg.modelName);
      // Now, not after the first epoch: a path that cannot be written fails before any training.
      await prepareCheckpointPath(save);
      const model = build(gpu, cfg.modelName, cfg.modelOpts);
      try {
        if (ck) restore(model, ck);
        const r = await runOne(model, cfg, train, test, { ...common, save, shifts: false });
        stopped = r.stopped;
        if (!stopped) say(`test accuracy: ${pct(r.testAccuracy)} (${num(r.testCorrect)}/${num(test.n)}); wall time ${((performance.now() - wall0) / 1000).toFixed(1)} s`);
        Object.assign(summary, r, { wallSeconds: (performance.now() - wall0) / 1000, resumedFromStep: ck?.meta.step ?? null });
      } finally {
        if (model instanceof Model) model.dispose();
      }
    }
    if (args.json) console.log(JSON.stringify(summary));
    return stopped ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    engine?.destroy();
  }
}

interface RunSummary {
  model: string;
  params: number;
  epochs: number;
  batch: number;
  optimizer: OptimizerSpec['type'];
  lr: number;
  seed: number;
  augment: boolean;
  trainImages: number;
  testImages: number;
  steps: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  testAccuracy: number;
  testCorrect: number;
  shiftedRight?: number;
  shiftedDown?: number;
  /** --compare: the first layer with weights and how it connects (Graph.firstWeightLayer). */
  firstLayer?: ReturnType<Graph['firstWeightLayer']>;
  trainSeconds: number;
  imagesPerSecond: number;
  evalImagesPerSecond: number;
  checkpoint: string | null;
  stopped: boolean;
}

async function runOne(
  model: AnyModel,
  cfg: RunConfig,
  train: Dataset,
  test: Dataset,
  o: { say: (s: string) => void; engine: Engine | null; verifyFirst: boolean; save: string | null; shifts: boolean; nanCheck?: number; signal: AbortSignal; evalBatch: number },
): Promise<RunSummary> {
  const { say } = o;
  const spe = stepsPerEpoch(train.n, cfg.batch);
  say(
    `model: ${cfg.modelName}, ${num(model.paramCount)} parameters; ${cfg.epochs} epoch(s) × ${spe} steps of ${cfg.batch}, ` +
      `${describeOptimizer(cfg.modelOpts.optimizer!)}, ${describeSchedule(model.schedule)}; seed ${cfg.seed}${cfg.augment ? ', augmented' : ''}`,
  );
  if (model instanceof Model) say(await model.summary(cfg.batch));

  if (o.verifyFirst) {
    if (!o.engine) throw new UsageError('--verify needs a WebGPU adapter.');
    const ok = await verifyOnce(o.engine, model, cfg, train, say);
    if (!ok) {
      process.exitCode = 1;
      throw new VerifyFailed();
    }
  }

  const extra = (epoch: number) => ({ epoch, modelName: cfg.modelName, seed: cfg.seed, batch: cfg.batch, epochs: cfg.epochs, augment: cfg.augment, limit: cfg.limit ?? null });
  const bar = progressBar(cfg.modelName);
  let r;
  try {
    r = await trainEpochs(model, train, {
      epochs: cfg.epochs,
      batch: cfg.batch,
      seed: cfg.seed,
      augment: cfg.augment,
      readEvery: DEFAULTS.readEvery,
      nanCheckEvery: o.nanCheck,
      signal: o.signal,
      onStep: bar.onStep,
      onEpoch: async (e) => {
        bar.stop();
        const saved = o.save ? `; saved ${o.save}` : '';
        if (o.save) await saveCheckpoint(model, o.save, extra(e.epoch));
        say(`epoch ${e.epoch}/${cfg.epochs}: loss ${e.loss.toFixed(4)}, train acc ${pct(e.accuracy)} (sampled every ${DEFAULTS.readEvery} steps), ${e.imagesPerSecond.toFixed(1)} img/s, ${e.seconds.toFixed(1)} s${saved}`);
      },
    });
  } finally {
    bar.stop();
  }
  const last = r.epochs.at(-1);
  const epochsDone = Math.floor(model.step / spe);
  const base: RunSummary = {
    model: cfg.modelName,
    params: model.paramCount,
    // A resumed checkpoint may already have more epochs than --epochs asked for.
    epochs: Math.max(cfg.epochs, epochsDone),
    batch: cfg.batch,
    optimizer: cfg.modelOpts.optimizer!.type,
    lr: cfg.modelOpts.optimizer!.lr,
    seed: cfg.seed,
    augment: cfg.augment,
    trainImages: train.n,
    testImages: test.n,
    steps: model.step,
    trainLoss: last?.loss ?? null,
    trainAccuracy: last?.accuracy ?? null,
    testAccuracy: NaN,
    testCorrect: 0,
    trainSeconds: r.seconds,
    imagesPerSecond: r.imagesPerSecond,
    evalImagesPerSecond: NaN,
    checkpoint: o.save,
    stopped: r.stopped,
  };
  if (r.stopped) {
    if (o.save && r.images > 0) {
      await saveCheckpoint(model, o.save, extra(epochsDone));
      say(`interrupted at step ${model.step} (epoch ${epochsDone + 1}); saved ${o.save}. Continue with --resume.`);
    } else if (o.save) {
      // Before this run's first step there is nothing new to save, and an untrained model must not replace an older checkpoint.
      const resumedOne = model.step > 0;
      say(`interrupted at step ${model.step}, before this run's first step; ${resumedOne ? `${o.save} is unchanged` : 'nothing saved'}.`);
      if (!resumedOne) base.checkpoint = null;
    } else {
      say(`interrupted at step ${model.step}.`);
    }
    return base;
  }
  if (r.images === 0) {
    const part = model.step % spe;
    say(`the checkpoint has already trained ${epochsDone} epoch(s)${part ? ` and ${part} step(s)` : ''} (step ${model.step}); the run asks for ${cfg.epochs}, so nothing is left to train: evaluating only.`);
  }

  // NOTE: evaluation takes the signal too. The SIGINT handler is installed until main returns, so
  // a Ctrl-C here that nothing checked only aborted the controller: the run went on to exit 0.
  const evalOpts = { batch: o.evalBatch, signal: o.signal };
  const interrupted = (what: string, ev: EvalResult): RunSummary => {
    const kept = o.save ? `; ${o.save} has the trained model (step ${model.step})` : '';
    say(`interrupted while evaluating ${what}, after ${num(ev.n)} of ${num(test.n)} images${kept}.`);
    return { ...base, stopped: true };
  };
  const ev = await evaluate(model, test, evalOpts);
  if (ev.stopped) return interrupted(cfg.modelName, ev);
  say(`evaluated ${num(ev.n)} test images in ${ev.seconds.toFixed(1)} s (${ev.imagesPerSecond.toFixed(1)} img/s)`);
  const out: RunSummary = { ...base, testAccuracy: ev.accuracy, testCorrect: ev.correct, evalImagesPerSecond: ev.imagesPerSecond };
  if (o.shifts) {
    const right = await evaluate(model, shiftImages(test, DEFAULTS.shift, 0), evalOpts);
    if (right.stopped) return interrupted(`${cfg.modelName} on shifted digits`, right);
    const down = await evaluate(model, shiftImages(test, 0, DEFAULTS.shift), evalOpts);
    if (down.stopped) return interrupted(`${cfg.modelName} on shifted digits`, down);
    out.shiftedRight = right.accuracy;
    out.shiftedDown = down.accuracy;
    out.firstLayer = model.graph.firstWeightLayer();
    say(`${cfg.modelName}: test ${pct(out.testAccuracy)}, shifted → ${pct(out.shiftedRight)}, shifted ↓ ${pct(out.shiftedDown)}`);
  }
  return out;
}

class VerifyFailed extends Error {}

/** One step on a throwaway copy of the model, on WebGPU and on the CPU reference. */
async function verifyOnce(engine: Engine, model: AnyModel, cfg: RunConfig, train: Dataset, say: (s: string) => void): Promise<boolean> {
  // The reference is slow: a few images are enough to catch an indexing bug.
  const n = Math.min(cfg.batch, 8, train.n);
  const per = train.shape[1] * train.shape[2];
  const x = train.images.slice(0, n * per);
  const y = Float32Array.from(train.labels.subarray(0, n));
  const probe = new Model(engine, MODELS[cfg.modelName]!(), cfg.modelOpts);
  try {
    probe.setParams(await model.getParams(), await model.getState());
    probe.step = model.step;
    const rep = await verify(probe, x, y, n);
    say(`verify (${n} images, one step, WebGPU vs float64 reference):`);
    say(formatVerify(rep));
    return rep.ok;
  } finally {
    probe.dispose();
  }
}

function compareTable(rows: RunSummary[]): string {
  const head = ['model', 'params', 'test acc', `shift →${DEFAULTS.shift}px`, `shift ↓${DEFAULTS.shift}px`, 'train img/s'];
  const body = rows.map((r) => [r.model, num(r.params), pct(r.testAccuracy), pct(r.shiftedRight ?? NaN), pct(r.shiftedDown ?? NaN), r.imagesPerSecond.toFixed(1)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

/** How each model's first layer with weights connects: local connectivity and shared weights, in numbers. */
function connectivityNote(rows: RunSummary[]): string {
  const w = Math.max(...rows.map((r) => r.model.length));
  const lines = rows.flatMap((r) => {
    const f = r.firstLayer;
    if (!f) return [];
    const times = f.uses === 1 ? 'once' : `${num(f.uses)} times`;
    return [`  ${r.model.padEnd(w)}  ${f.layer}: each output reads ${num(f.fanIn)} of its ${num(f.inputs)} inputs; each of its ${num(f.weights)} weights is used ${times}`];
  });
  return ['first layer with weights, per image:', ...lines].join('\n');
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof VerifyFailed) {
      console.error('verify failed: WebGPU and the CPU reference disagree (see the table above).');
      process.exitCode = 1;
    } else if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`${e.message}\n\n${HELP}`);
      process.exitCode = 2;
    } else if (e instanceof ConvGpuError) {
      console.error(`${e.name}: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(e);
      process.exitCode = 1;
    }
  },
);
