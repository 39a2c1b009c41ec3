// Checkpoints: one safetensors file holding a model's parameters (by name), its optimizer
// state (`optim.<slot>.<param name>`), and metadata (format version, model name,
// optimizer and schedule as JSON, step, epoch, seed). Restoring checks every name and
// shape against the model before writing anything, so a bad file never half-loads.
// The byte-level functions work anywhere; saveCheckpoint/loadCheckpoint need Node.
import { ShapeError, fmtShape } from '../errors.js';
import { CheckpointError } from '../io/errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../io/safetensors.js';
import { sizeOf } from '../shape.js';
import type { CpuModel } from './cpu-model.js';
import type { Model } from './model.js';
import { optimizerSlots, type OptimizerSpec, type Schedule } from './optim.js';
import { checkParamSet } from './param-set.js';

export { CheckpointError };

export const CHECKPOINT_FORMAT = 'convgpu-checkpoint';
export const CHECKPOINT_VERSION = 1;
const OPTIM_PREFIX = 'optim.';

export type AnyModel = Model | CpuModel;

/** What the caller adds to a checkpoint besides the tensors. */
export interface CheckpointExtra {
  /** Epochs completed. */
  epoch: number;
  /** Training steps taken; default model.step. */
  step?: number;
  /** Name in the model zoo ('lenet'), checked on resume. */
  modelName: string;
  seed: number;
  /** Anything else (batch size, planned epochs…): stored as JSON. */
  [key: string]: unknown;
}

export interface CheckpointMeta {
  version: number;
  modelName: string;
  optimizer: OptimizerSpec;
  schedule: Schedule | undefined;
  step: number;
  epoch: number;
  seed: number;
  /** The caller's other fields. */
  extra: Record<string, unknown>;
}

export interface CheckpointContents {
  meta: CheckpointMeta;
  params: Record<string, NamedTensor>;
  /** By optimizer slot ('velocity', 'm', 'v'), then parameter name. */
  state: Record<string, Record<string, NamedTensor>>;
  /** File name or label, for error messages. */
  source: string;
}

/** Serializes a model, its optimizer state and `extra` into safetensors bytes. */
export async function encodeModel(model: AnyModel, extra: CheckpointExtra): Promise<Uint8Array> {
  const params = await model.getParams();
  const state = await model.getState();
  checkParamSet(model.paramEntries, 'the parameters', params, 'save');
  for (const slot of optimizerSlots(model.optimizer)) checkParamSet(model.paramEntries, `optimizer state "${slot}"`, state[slot], 'save');
  const tensors: Record<string, NamedTensor> = {};
  for (const e of model.paramEntries) tensors[e.name] = params[e.name]!;
  for (const slot of optimizerSlots(model.optimizer)) {
    for (const e of model.paramEntries) tensors[`${OPTIM_PREFIX}${slot}.${e.name}`] = state[slot]![e.name]!;
  }
  const { epoch, step = model.step, modelName, seed, ...rest } = extra;
  for (const [k, v] of [['epoch', epoch], ['step', step], ['seed', seed]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new CheckpointError(`checkpoint: ${k} must be a non-negative integer, got ${String(v)}.`);
  }
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    model: modelName,
    optimizer: JSON.stringify(model.optimizer),
    schedule: JSON.stringify(model.schedule ?? null),
    step: String(step),
    epoch: String(epoch),
    seed: String(seed),
    extra: JSON.stringify(rest),
  });
}

/** Parses checkpoint bytes and checks that they are a complete convgpu checkpoint (not yet against a model). */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): CheckpointContents {
  const { tensors, metadata: md } = decodeSafetensors(bytes, source);
  const fail = (problem: string): never => {
    throw new CheckpointError(`${source}: ${problem}.`);
  };
  if (md.format !== CHECKPOINT_FORMAT) {
    fail(`not a convgpu checkpoint (metadata format is ${JSON.stringify(md.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  // NOTE: the CRC is what catches flipped bits in the weights; a file without one cannot be trusted.
  if (md.crc32 === undefined) fail('has no CRC-32 of its data; it was not written by saveCheckpoint and cannot be checked');
  const version = Number(md.version);
  if (!Number.isInteger(version) || version < 1) fail(`bad format version ${JSON.stringify(md.version ?? null)}`);
  if (version > CHECKPOINT_VERSION) fail(`format version ${version} is newer than this build reads (${CHECKPOINT_VERSION}); update convgpu`);

  const json = (key: string): unknown => {
    try {
      return JSON.parse(md[key] ?? '');
    } catch {
      return fail(`metadata "${key}" is not valid JSON (${JSON.stringify(md[key] ?? null)})`);
    }
  };
  const int = (key: string): number => {
    const v = Number(md[key]);
    if (md[key] === undefined || !Number.isSafeInteger(v) || v < 0) fail(`metadata "${key}" must be a non-negative integer, got ${JSON.stringify(md[key] ?? null)}`);
    return v;
  };
  const optimizer = json('optimizer') as OptimizerSpec;
  if (typeof optimizer !== 'object' || optimizer === null || (optimizer.type !== 'sgd' && optimizer.type !== 'adam') || !Number.isFinite(optimizer.lr)) {
    fail(`metadata "optimizer" must be {type: "sgd" | "adam", lr, …}, got ${md.optimizer}`);
  }
  const schedule = json('schedule') as Schedule | null;
  if (schedule !== null && (typeof schedule !== 'object' || !['constant', 'step', 'cosine'].includes(schedule.kind))) {
    fail(`metadata "schedule" must be null or {kind: "constant" | "step" | "cosine", …}, got ${md.schedule}`);
  }
  const extra = json('extra');
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) fail('metadata "extra" must be a JSON object');
  if (!md.model) fail('metadata "model" (the model name) is missing');

  const slots = optimizerSlots(optimizer);
  // NOTE: records without a prototype: in a plain {}, a tensor named "__proto__" would set the
  // prototype instead of adding a key, and so slip past restore()'s check of the names.
  const params = dict<NamedTensor>();
  const state = dict<Record<string, NamedTensor>>();
  for (const s of slots) state[s] = dict<NamedTensor>();
  for (const [name, t] of Object.entries(tensors)) {
    if (!name.startsWith(OPTIM_PREFIX)) {
      params[name] = t;
      continue;
    }
    const rest = name.slice(OPTIM_PREFIX.length);
    const dot = rest.indexOf('.');
    const slot = dot > 0 ? rest.slice(0, dot) : '';
    if (!slot) fail(`tensor "${name}" should be named optim.<slot>.<parameter>`);
    if (!slots.includes(slot)) fail(`tensor "${name}" is optimizer state "${slot}", which ${optimizer.type} does not have (it has ${slots.join(', ')})`);
    state[slot]![rest.slice(dot + 1)] = t;
  }
  const meta: CheckpointMeta = {
    version,
    modelName: md.model!,
    optimizer,
    schedule: schedule ?? undefined,
    step: int('step'),
    epoch: int('epoch'),
    seed: int('seed'),
    extra: extra as Record<string, unknown>,
  };
  return { meta, params, state, source };
}

/**
 * Loads a decoded checkpoint into a model: parameters, optimizer state and step.
 * Checks first that the tensor names and shapes are exactly the model's and that the
 * optimizer type matches, and throws (ShapeError / CheckpointError) without touching the
 * model if anything is off. The optimizer's hyperparameters and schedule are the
 * model's own: build the model with `contents.meta.optimizer` / `.schedule` to resume.
 */
export function restore(model: AnyModel, contents: CheckpointContents): void {
  const { meta, source } = contents;
  if (meta.optimizer.type !== model.optimizer.type) {
    throw new CheckpointError(
      `${source}: saved with the ${meta.optimizer.type} optimizer, but this model uses ${model.optimizer.type}; ` +
        'build the model with the checkpoint\'s optimizer (contents.meta.optimizer) to resume it.',
    );
  }
  const check = (what: string, one: string, got: Record<string, NamedTensor>): void => {
    const want = new Map(model.paramEntries.map((e) => [e.name, e.spec.shape]));
    const missing = [...want.keys()].filter((k) => !(k in got));
    const unexpected = Object.keys(got).filter((k) => !want.has(k));
    if (missing.length || unexpected.length) {
      const list = (xs: string[]): string => xs.slice(0, 4).join(', ') + (xs.length > 4 ? `, … (${xs.length} in all)` : '');
      throw new ShapeError(
        `${source}: ${what} of model "${meta.modelName}" do not match this model's parameters` +
          (missing.length ? `; missing: ${list(missing)}` : '') +
          (unexpected.length ? `; not in this model: ${list(unexpected)}` : '') +
          '. Load it into the model it was saved from.',
      );
    }
    for (const [name, shape] of want) {
      const t = got[name]!;
      if (fmtShape(t.shape) !== fmtShape(shape) || t.data.length !== sizeOf(shape)) {
        throw new ShapeError(`${source}: ${one} "${name}" is ${fmtShape(t.shape)}, but this model's is ${fmtShape(shape)}; was it saved from a model of another width?`);
      }
    }
  };
  check('the parameters', 'parameter', contents.params);
  for (const slot of optimizerSlots(model.optimizer)) {
    check(`the optimizer state "${slot}"`, `optimizer state "${slot}" of`, contents.state[slot] ?? {});
  }
  model.setParams(contents.params, contents.state);
  model.step = meta.step;
}

/** decodeCheckpoint + restore, for bytes from fetch() or a file input. */
export function decodeInto(model: AnyModel, bytes: Uint8Array, source = 'checkpoint'): CheckpointMeta {
  const contents = decodeCheckpoint(bytes, source);
  restore(model, contents);
  return contents.meta;
}

/** A record with no prototype, so that any tensor name is just a key. */
function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Makes sure a checkpoint can be written at `path`: creates its folder, and checks that the
 * folder is writable and that `path` is not itself a folder. Throws a CheckpointError naming
 * the path otherwise. Call it before training, so that a bad path is found at once rather
 * than when the first epoch's checkpoint is saved. Node only.
 */
export async function prepareCheckpointPath(path: string): Promise<void> {
  const { access, constants, mkdir, stat } = await import(/* @vite-ignore */ 'node:fs/promises');
  const { dirname, join } = await import(/* @vite-ignore */ 'node:path');
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(path, `cannot create its folder ${dir}`, e);
  }
  try {
    await access(dir, constants.W_OK);
  } catch (e) {
    throw fsError(path, `cannot write to its folder ${dir}`, e);
  }
  const st = await stat(path).catch(() => null);
  if (st?.isDirectory()) throw new CheckpointError(`${path}: cannot save a checkpoint there: it is a folder. Give a file path, such as ${join(path, 'model.safetensors')}.`);
}

/** A file-system error as a CheckpointError that names the checkpoint's path and what to do. */
function fsError(path: string, what: string, e: unknown): CheckpointError {
  const code = (e as { code?: unknown } | null)?.code;
  const why =
    code === 'EEXIST' || code === 'ENOTDIR'
      ? 'part of that path is a file, not a folder'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'no permission to write there'
        : code === 'ENOSPC'
          ? 'the disk is full'
          : e instanceof Error
            ? e.message
            : String(e);
  return new CheckpointError(`${path}: cannot save a checkpoint there: ${what} (${why}). Choose a path in a folder you can write to.`);
}

/** Writes the checkpoint atomically (the old file stays whole if this fails), creating the folder. Node only. */
export async function saveCheckpoint(model: AnyModel, path: string, extra: CheckpointExtra): Promise<void> {
  // Imported here so that bundling this module for a browser does not pull in node:crypto.
  const { writeFileAtomic } = await import('../io/files.js');
  const bytes = await encodeModel(model, extra);
  await prepareCheckpointPath(path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw fsError(path, 'writing the file failed; any previous checkpoint there is unchanged', e);
  }
}

/** Reads and checks a checkpoint file. Node only. */
export async function loadCheckpoint(path: string): Promise<CheckpointContents> {
  const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read the checkpoint (${e instanceof Error ? e.message : String(e)}).`);
  }
  return decodeCheckpoint(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}
