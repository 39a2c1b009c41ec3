// Small helpers shared by the op wiring: grid sizes and tensor checks.
import subgroupTileWgsl from '../../shaders/common/subgroup_tile.wgsl?raw';
import { AttributeError, DeviceLimitError, ShapeError, fmtShape } from '../errors.js';
import { sameShape, type Shape } from '../shape.js';
import type { Binding, Dispatch, Engine, Kernel } from '../runtime/engine.js';
import type { Constants } from '../runtime/pipeline-cache.js';
import { SUBGROUP_TILE_ROWS, subgroupKernelsFit } from './tuning.js';
import type { Tensor } from '../runtime/tensor.js';

/**
 * Edge of the per-invocation register tile in gemm.wgsl, conv2d.fwd.wgsl and conv2d.bwd_filter.wgsl
 * (vec4 accumulators: the `* 4u` of their column and channel offsets). WGSL needs it const (function arrays
 * cannot be override-sized), so it is written twice; a test in tests/ops.test.ts keeps them equal.
 */
export const REG_TILE = 4;

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Workgroups for `total` invocations in groups of `wg`, as a 2-D grid when x would pass the per-dimension limit. */
export function grid1d(engine: Engine, total: number, wg: number): [number, number, number] {
  const groups = ceilDiv(total, wg);
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1, 1];
  const y = ceilDiv(groups, max);
  return [ceilDiv(groups, y), y, 1];
}

/**
 * A tiled kernel's grid, with x folded onto z where x passes the per-dimension limit (an
 * implicit-GEMM conv's N·OH·OW pixels on a large image, a GEMM's columns). The kernel, compiled
 * with FOLD_Z = z, takes its z index as wid.z % FOLD_Z and its x block as
 * wid.x + (wid.z / FOLD_Z) · nwg.x, and skips the few blocks past the end. Grids within the
 * limit come back unchanged and without the constant, so they share the usual pipeline.
 */
export function foldX(engine: Engine, [x, y, z]: [number, number, number]): { workgroups: [number, number, number]; fold: Constants } {
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (x <= max || z * ceilDiv(x, max) > max) return { workgroups: [x, y, z], fold: {} }; // the second: refused by Engine.checkWorkgroups
  const f = ceilDiv(x, max);
  return { workgroups: [ceilDiv(x, f), y, z * f], fold: { FOLD_Z: z } };
}

/** The tensor belongs to this engine and has the expected shape. */
export function expectShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError(
      `${op}: ${what} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)} for these inputs and attrs; pass a ${what} of shape ${fmtShape(shape)}.`,
    );
  }
}

export function sameEngine(op: string, engine: Engine, ...ts: Tensor[]): void {
  engine.checkAlive(op);
  for (const t of ts) {
    if (t.engine !== engine) throw new ShapeError(`${op}: tensor ${fmtShape(t.shape)} belongs to another engine; move it with read() and tensor().`);
    t.checkAlive(op);
  }
}

/**
 * Runs an op's dispatches into the outputs it has just made. If the run fails (a dispatch over
 * the device's limits, a lost device), the outputs are disposed first, so a failed op leaks nothing.
 */
export async function runInto(engine: Engine, op: string, outs: readonly Tensor[], ...ds: Dispatch[]): Promise<void> {
  try {
    await engine.run(...ds);
  } catch (e) {
    for (const t of outs) if (!t.isDisposed) t.dispose();
    if (e instanceof DeviceLimitError) {
      const shapes = outs.map((t) => fmtShape(t.shape)).join(', ');
      const max = engine.limits.maxComputeWorkgroupsPerDimension;
      const axes = new Set(ds.flatMap((d) => d.workgroups.flatMap((n, i) => (n > max ? ['xyz'[i]!] : []))));
      const split = outs[0] ? splitAlong(outs[0].shape, axes) : 'split the call into smaller ones';
      throw new DeviceLimitError(`${op}: output ${shapes} is too large for one dispatch; ${split}, then join the results. ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Which of an output's dimensions a caller can split an op along, for a dispatch over the
 * per-dimension workgroup limit that folding (foldX) cannot take: a conv's groups on z, a GEMM's
 * rows on y, a batched GEMM's batch on z. NOTE: never the batch where it is already 1, or a
 * layer too large at batch 1 is told to use a smaller batch.
 */
function splitAlong(shape: Shape, axes: ReadonlySet<string>): string {
  const list = (parts: string[]): string => `${parts.slice(0, -1).join(', ')}${parts.length > 1 ? ' or ' : ''}${parts.at(-1)}`;
  const split = 'split the call into smaller ones: ';
  const batched = (rest: string[]): string => (shape[0]! > 1 ? `${split}${list([`a smaller batch (${shape[0]})`, ...rest])}` : `the batch is already 1, so ${split}${list(rest)}`);
  if (shape.length === 4) {
    const [images, channels] = [`smaller images (${shape[2]}×${shape[3]}, in tiles)`, `fewer channels (${shape[1]})`];
    // z alone: a conv's groups (times the fold of its pixels): the channels first.
    return batched(axes.size === 1 && axes.has('z') ? [`${channels}, so fewer groups`, images] : [images, channels]);
  }
  if (shape.length === 3) return batched([`fewer rows (${shape[1]})`, `fewer columns (${shape[2]})`]);
  if (shape.length === 2) return `${split}fewer rows (${shape[0]}) or fewer columns (${shape[1]})`;
  return `${split}fewer elements (${shape[0]})`;
}

/**
 * Constants of the subgroup-broadcast kernels (gemm.subgroup.wgsl, conv2d.*.subgroup.wgsl,
 * conv2d.*.channel_cols.wgsl) when the tuning selects them, else null. Rows per workgroup are
 * SG·R, with R no larger than the rows need, so small layers (6 channels, say) waste fewer lanes.
 */
export function subgroupTile(engine: Engine, rows: number): { SG: number; R: number; TN: number } | null {
  const t = engine.tuning;
  if (t.gemm !== 'subgroup' || !subgroupKernelsFit(t.subgroupSize)) return null;
  const maxR = SUBGROUP_TILE_ROWS / t.subgroupSize;
  const blocks = Math.ceil(rows / t.subgroupSize); // no more row blocks than there are rows
  return { SG: t.subgroupSize, R: Math.max(1, Math.min(t.sgRows, maxR, blocks)), TN: t.sgCols === 4 ? 4 : 8 };
}

/**
 * A subgroup-broadcast kernel's source with the register tile they share appended
 * (shaders/common/subgroup_tile.wgsl: accumulate() and tileRows(); after the kernel, since
 * its `enable subgroups;` must come first).
 */
export const withSubgroupTile = (code: string): string => `${code}\n${subgroupTileWgsl}`;

/** Scratch tensors for an op's dispatches, checked against the device's limits first; empty sizes get none. */
function scratchTensors(engine: Engine, op: string, sizes: Record<string, number>): Record<string, Tensor> {
  const used = Object.entries(sizes).filter(([, f]) => f > 0);
  for (const [k, f] of used) engine.checkBytes(op, [f], f * 4, k);
  return Object.fromEntries(used.map(([k, f]) => [k, engine.empty([f], op)]));
}

/** Runs an op's dispatches with its scratch tensors, which it disposes afterwards, whatever happens. */
export async function runWithScratch(
  engine: Engine,
  op: string,
  outs: readonly Tensor[],
  sizes: Record<string, number>,
  dispatches: (scratch: Record<string, Binding>) => Dispatch[],
): Promise<void> {
  let scratch: Record<string, Tensor>;
  try {
    scratch = scratchTensors(engine, op, sizes);
  } catch (e) {
    for (const t of outs) if (!t.isDisposed) t.dispose(); // as runInto does on failure
    throw e;
  }
  try {
    let ds: Dispatch[];
    try {
      ds = dispatches(buffersOf(scratch));
    } catch (e) {
      for (const t of outs) if (!t.isDisposed) t.dispose(); // as runInto does on failure
      // A kernel that refuses the tuning (gemm.shared past the workgroup storage) names itself,
      // not the op: conv2d and matmul both build it.
      if (e instanceof AttributeError) throw new AttributeError(`${op}: ${e.message}`, { cause: e });
      throw e;
    }
    await runInto(engine, op, outs, ...ds);
  } finally {
    Object.values(scratch).forEach((t) => t.dispose());
  }
}

/** Scratch for passes that run one after another and share buffers by name: each name at its largest size. */
export function mergeScratch(...sizes: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const z of sizes) for (const [k, f] of Object.entries(z)) out[k] = Math.max(out[k] ?? 0, f);
  return out;
}

/** The binding starts on a 16-byte boundary, so a shader may read it as vec4s. */
export const vec4Aligned = (x: Binding): boolean => !('buffer' in x) || (x.offset ?? 0) % 16 === 0;

/** The line every pointwise kernel declares its element type with; vec4Kernel swaps it. */
const SCALAR_ELEMENT = 'alias V = f32;';
const vec4Kernels = new Map<string, Kernel>();

/**
 * A pointwise kernel over vec4<f32>: the same source with its `alias V = f32;` line swapped.
 * Those kernels are written so that every expression holds for both (V(0.0) splats, scalar
 * uniforms broadcast, select and the builtins work per component).
 */
export function vec4Kernel(k: Kernel): Kernel {
  let v = vec4Kernels.get(k.name);
  if (!v) {
    if (k.code.split(SCALAR_ELEMENT).length !== 2) throw new Error(`${k.name}: a pointwise kernel declares its element type once, as \`${SCALAR_ELEMENT}\``);
    v = { name: `${k.name}.vec4`, code: k.code.replace(SCALAR_ELEMENT, 'alias V = vec4<f32>;') };
    vec4Kernels.set(k.name, v);
  }
  return v;
}

/**
 * One invocation per element, on a 2-D grid; four elements (one vec4) per invocation where
 * `run`, the elements that lie contiguous in every binding (the total for plain elementwise
 * ops), is a multiple of 4 and every binding starts on 16 bytes. The emulators pay per load,
 * store and invocation, not per byte: ReLU, add and axpy ran ×1.8–3.0 faster as vec4s on
 * lavapipe and SwiftShader (301k and 1.6M elements, paired). `params(per)` encodes the
 * uniform with its counts and extents in units of `per` elements.
 */
export function pointwiseDispatch(
  engine: Engine,
  kernel: Kernel,
  total: number,
  buffers: Binding[],
  constants: Constants,
  params: (per: 1 | 4) => ArrayBuffer,
  run = total,
): Dispatch {
  const per = run % 4 === 0 && total % 4 === 0 && buffers.every(vec4Aligned) ? 4 : 1;
  const n = total / per;
  const WG = engine.tuning.pointwise;
  return { kernel: per === 4 ? vec4Kernel(kernel) : kernel, constants: { WG, ...constants }, buffers, params: params(per), workgroups: grid1d(engine, n, WG) };
}

const buffersOf = (ts: Record<string, Tensor>): Record<string, Binding> => Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, t.buffer]));
