// GEMM: the dense layer's forward (with fused bias and ReLU) and both of its gradients.
import gemmWgsl from '../../shaders/gemm/gemm.wgsl?raw';
import gemmSharedWgsl from '../../shaders/gemm/gemm.shared.wgsl?raw';
import gemmSubgroupWgsl from '../../shaders/gemm/gemm.subgroup.wgsl?raw';
import gemmPackWgsl from '../../shaders/gemm/gemm.pack.wgsl?raw';
import { AttributeError, ShapeError, fmtShape } from '../errors.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Constants } from '../runtime/pipeline-cache.js';
import type { Tensor } from '../runtime/tensor.js';
import { sizeOf } from '../shape.js';
import { REG_TILE, ceilDiv, foldX, mergeScratch, runWithScratch, sameEngine, subgroupTile, vec4Aligned, withSubgroupTile } from './dispatch.js';
import { gemmGeom, gemmOutShape, type Conv2dGeom, type GemmAttrs, type GemmGeom } from './geometry.js';
import type { Tuning } from './tuning.js';
import { sumAxisDispatch } from './sum.js';

export const gemmKernel = { name: 'gemm', code: gemmWgsl };
export const gemmSharedKernel = { name: 'gemm.shared', code: gemmSharedWgsl };
export const gemmSubgroupKernel = { name: 'gemm.subgroup', code: withSubgroupTile(gemmSubgroupWgsl) };
export const gemmPackKernel = { name: 'gemm.pack', code: gemmPackWgsl };

export interface MatmulOptions extends GemmAttrs {
  /** [N], added to every row of C. */
  bias?: Tensor;
  /** ReLU after the bias. */
  relu?: boolean;
}

export function gemmDispatch(
  engine: Engine,
  g: GemmGeom,
  a: Binding,
  b: Binding,
  c: Binding,
  opts: GemmOpts = {},
): Dispatch {
  const t = engine.tuning;
  const x = opts.im2colB;
  const strideB = x ? (x.chunk ?? 1) * x.c * x.h * x.w : g.broadcastB ? 0 : g.k * g.n;
  const params = new Params()
    .u32(g.m, g.n, g.k, opts.sharedA ? 0 : g.m * g.k, strideB, g.m * g.n, g.n, 0, 0)
    .buffer();
  const buffers = [a, b, opts.bias ?? engine.dummy, c];
  const flags = { TRANS_A: g.transA, TRANS_B: g.transB, HAS_BIAS: !!opts.bias, RELU: !!opts.relu };
  if ((opts.biasRows || x) && t.gemm !== 'shared') throw new Error(`gemm: ${x ? 'im2col of the images as B' : 'a per-row bias'} needs the workgroup-memory GEMM (tuning.gemm = shared)`);
  if (x && g.broadcastB) throw new Error('gemm: im2col of the images as B cannot be shared by the batch');
  const sg = subgroupTile(engine, g.m);
  if (sg) {
    const vecB = bRowsHoldVec4s(g) && vec4Aligned(b);
    const { workgroups, fold } = foldX(engine, [ceilDiv(g.n, sg.SG * sg.TN), ceilDiv(g.m, sg.SG * sg.R), g.batch]);
    return {
      kernel: gemmSubgroupKernel,
      constants: { ...sg, ...flags, VEC_B: vecB, ...fold },
      buffers: [...buffers, vecB ? b : engine.dummy],
      params,
      workgroups,
    };
  }
  const { WG_X, WG_Y } = t.tiled;
  if (t.gemm === 'shared') {
    const tile = sharedTile(engine, g);
    // im2col's B has no rows in memory to fetch as vec4s.
    const vec = { ...sharedVec4(engine, g, tile.TILE_K, a, b), ...(x ? { VEC_B: false } : {}) };
    const { workgroups, fold } = foldX(engine, [ceilDiv(g.n, tile.TN * WG_X), ceilDiv(g.m, tile.TM * WG_Y), g.batch]);
    const im2col: Constants = x
      ? {
          IM2COL_B: true, X_FLOATS: x.n * x.c * x.h * x.w, C: x.c, H: x.h, W: x.w, KH: x.kh, KW: x.kw, OH: x.oh, OW: x.ow,
          SH: x.strideH, SW: x.strideW, DH: x.dilH, DW: x.dilW, PAD_T: x.padTop, PAD_L: x.padLeft,
        }
      : {};
    return {
      kernel: gemmSharedKernel,
      constants: { WG_X, WG_Y, ...tile, ...flags, BIAS_ROWS: !!opts.biasRows, ...vec, STAGES: t.gemmStages, ...fold, ...im2col },
      buffers: [...buffers, vec.VEC_A ? a : engine.dummy, vec.VEC_B ? b : engine.dummy],
      params,
      workgroups,
    };
  }
  const { workgroups, fold } = foldX(engine, [ceilDiv(g.n, REG_TILE * WG_X), ceilDiv(g.m, t.gemmRows * WG_Y), g.batch]);
  return {
    kernel: gemmKernel,
    constants: { WG_X, WG_Y, TM: t.gemmRows, ...flags, ...fold },
    buffers,
    params,
    workgroups,
  };
}

interface GemmOpts {
  bias?: Binding;
  relu?: boolean;
  /** One A for every batch. */
  sharedA?: boolean;
  biasRows?: boolean;
  /**
   * B is im2col of this convolution's images, read straight from them (gemm.shared.wgsl
   * IM2COL_B): b binds x; batch i is image i, k runs over (c, kh, kw) and n over (oh, ow), or
   * transposed (the filter gradient's colᵀ), batch i is the images from i·chunk, k runs over
   * (image, oh, ow) and n over (c, kh, kw).
   */
  im2colB?: Conv2dGeom & { chunk?: number };
}

/**
 * What the packed subgroup GEMM (gemm.pack.wgsl, then gemm.subgroup.wgsl with PACKED_A/B)
 * packs for this GEMM, or null where it packs nothing: the subgroup kernels are not in use,
 * the rule below says no, or the grid or the panels would pass a limit.
 */
function packedTile(engine: Engine, g: GemmGeom, opts: GemmOpts) {
  const t = engine.tuning;
  if (t.gemmPack === 'never' || opts.biasRows) return null;
  const sg = subgroupTile(engine, g.m);
  if (!sg) return null;
  let packA = t.gemmPack === 'a' || t.gemmPack === 'both';
  let packB = t.gemmPack === 'b' || t.gemmPack === 'both';
  if (t.gemmPack === 'auto') {
    // Small GEMMs do not repay the packing passes.
    const big = (g.m * g.n) / (g.m + g.n) >= 128;
    // A lane group reads 16 rows of A at each k: rows a multiple of 4 KiB apart share cache
    // sets and thrash (lavapipe 1024³: packing A ×1.0–1.2; 2048³ ×1.2).
    packA = big && !g.transA && g.k % 1024 === 0;
    // In place, a lane's 8 columns of B come as two vec4s only where they are contiguous; else
    // 8 strided scalar loads, which panels turn into vec4s (lavapipe Bᵀ 512³ / 768³ / 1024³
    // ×1.29 / ×1.35 / ×1.49, 300×302×256 ×1.26). Packing B where vec4s already load in place
    // measured ×0.86–0.97 at 1024³.
    packB = big && !bRowsHoldVec4s(g);
  }
  if (!packA && !packB) return null;
  const R = packA && sg.R === 3 ? 4 : sg.R; // packed A panels are a power of two tall
  const mr = sg.SG * R, nr = sg.SG * sg.TN;
  const panelsA = ceilDiv(g.m, mr), panelsB = ceilDiv(g.n, nr);
  const batchA = opts.sharedA ? 1 : g.batch, batchB = g.broadcastB ? 1 : g.batch;
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (Math.max(panelsA, panelsB, g.batch, ceilDiv((g.k * Math.max(mr, nr)) / 4, t.pointwise)) > max) return null;
  const floatsA = packA ? batchA * panelsA * mr * g.k : 0, floatsB = packB ? batchB * panelsB * nr * g.k : 0;
  if (Math.max(floatsA, floatsB) * 4 > engine.limits.maxStorageBufferBindingSize) return null; // unpacked still fits
  return { SG: sg.SG, R, TN: sg.TN, mr, nr, panelsA, panelsB, batchA, batchB, floatsA, floatsB };
}

/**
 * gemm.pack.wgsl as a dispatch: `rows` rows of X (each k values, rowStride / kStride apart in
 * memory) into k-major panels of p, `batches` times (batchIn apart in X). Also the conv
 * kernels' packed weights and dy (conv2d.ts).
 */
export function gemmPackDispatch(
  engine: Engine,
  x: Binding,
  out: Binding,
  s: { rows: number; k: number; p: number; rowStride: number; kStride: number; batchIn: number; batches: number },
): Dispatch {
  const WG = engine.tuning.pointwise;
  // 4 × 4 blocks where rows run along k in whole aligned vec4s (gemm.pack.wgsl: VEC).
  const VEC = s.kStride === 1 && s.k % 4 === 0 && s.rowStride % 4 === 0 && s.batchIn % 4 === 0 && vec4Aligned(x);
  return {
    kernel: gemmPackKernel,
    constants: { WG, P: s.p, VEC },
    buffers: [x, out, VEC ? x : engine.dummy],
    params: new Params().u32(s.rows, s.k, s.rowStride, s.kStride, s.batchIn, ceilDiv(s.rows, s.p)).buffer(),
    workgroups: [ceilDiv((s.k * s.p) / (VEC ? 16 : 4), WG), ceilDiv(s.rows, s.p), s.batches],
  };
}

/** Scratch floats of gemmDispatches for this GEMM: the packed panels of A and/or B, or none. */
export function gemmScratch(engine: Engine, g: GemmGeom, opts: GemmOpts = {}): Record<string, number> {
  const pk = packedTile(engine, g, opts);
  const out: Record<string, number> = {};
  if (pk?.floatsA) out.packA = pk.floatsA;
  if (pk?.floatsB) out.packB = pk.floatsB;
  return out;
}

/**
 * The GEMM as dispatches: packs A and/or B into panels and runs the subgroup GEMM on them where
 * gemmScratch gave (and the caller passed) their scratch, else gemmDispatch's single kernel.
 */
export function gemmDispatches(
  engine: Engine,
  g: GemmGeom,
  a: Binding,
  b: Binding,
  c: Binding,
  opts: GemmOpts = {},
  scratch: Record<string, Binding> = {},
): Dispatch[] {
  const pk = packedTile(engine, g, opts);
  const packA = !!pk?.floatsA && !!scratch.packA, packB = !!pk?.floatsB && !!scratch.packB;
  if (!pk || (!packA && !packB)) return [gemmDispatch(engine, g, a, b, c, opts)];
  // Rows of op(A) and columns of op(B), each as (row stride, k stride) in memory.
  const [aRow, aK] = g.transA ? [1, g.m] : [g.k, 1];
  const [bRow, bK] = g.transB ? [g.k, 1] : [1, g.n];
  const ds: Dispatch[] = [];
  if (packA) ds.push(gemmPackDispatch(engine, a, scratch.packA!, { rows: g.m, k: g.k, p: pk.mr, rowStride: aRow, kStride: aK, batchIn: opts.sharedA ? 0 : g.m * g.k, batches: pk.batchA }));
  if (packB) ds.push(gemmPackDispatch(engine, b, scratch.packB!, { rows: g.n, k: g.k, p: pk.nr, rowStride: bRow, kStride: bK, batchIn: g.broadcastB ? 0 : g.k * g.n, batches: pk.batchB }));
  // Batch strides: of the panels where packed, else of the operand itself (0 where shared).
  const strideA = packA ? (pk.batchA > 1 ? pk.floatsA / pk.batchA : 0) : opts.sharedA ? 0 : g.m * g.k;
  const strideB = packB ? (pk.batchB > 1 ? pk.floatsB / pk.batchB : 0) : g.broadcastB ? 0 : g.k * g.n;
  const bIn = packB ? scratch.packB! : b;
  const vecB = packB || (bRowsHoldVec4s(g) && vec4Aligned(b)); // panels hold whole vec4s
  ds.push({
    kernel: gemmSubgroupKernel,
    constants: {
      SG: pk.SG, R: pk.R, TN: pk.TN, TRANS_A: g.transA, TRANS_B: g.transB, HAS_BIAS: !!opts.bias, RELU: !!opts.relu,
      COL_IMAGES: false, PACKED_A: packA, PACKED_B: packB, VEC_B: vecB,
    },
    buffers: [packA ? scratch.packA! : a, bIn, opts.bias ?? engine.dummy, c, vecB ? bIn : engine.dummy],
    params: new Params().u32(g.m, g.n, g.k, strideA, strideB, g.m * g.n, g.n, 0, 0).buffer(),
    workgroups: [pk.panelsB, pk.panelsA, g.batch],
  });
  return ds;
}

/**
 * Whether gemm.shared fetches A and B as vec4s along their stored rows (VEC_A / VEC_B, where the
 * tuning asks for it): every row (and so every batch) must start on 16 bytes, rows that run
 * along K must hold whole vec4s of the K step, and the binding must start on 16 bytes (a4 / b4
 * view the same buffer).
 */
function sharedVec4(engine: Engine, g: GemmGeom, tileK: number, a: Binding, b: Binding): { VEC_A: boolean; VEC_B: boolean } {
  if (!engine.tuning.gemmVec4) return { VEC_A: false, VEC_B: false };
  const ok = (x: Binding, rowFloats: number, rowsAlongK: boolean): boolean => vec4Aligned(x) && rowFloats % 4 === 0 && (!rowsAlongK || tileK % 4 === 0);
  return { VEC_A: ok(a, g.transA ? g.m : g.k, !g.transA), VEC_B: ok(b, g.transB ? g.k : g.n, g.transB) };
}

/** Whether a lane's columns of B lie in place as aligned vec4s: B not transposed, rows of whole vec4s. */
const bRowsHoldVec4s = (g: GemmGeom): boolean => !g.transB && g.n % 4 === 0;

/**
 * Bytes of workgroup storage gemm.shared.wgsl declares (its As and Bs: STAGES × TILE_K rows of
 * tm·WG_Y / 4 + 1 and tn·WG_X / 4 + 1 vec4s) for tm × tn register tiles and K step k. It
 * grows with the workgroup (WG_X, WG_Y), the tile, the K step and the staging buffers.
 */
function sharedStagedBytes(t: Pick<Tuning, 'tiled' | 'gemmStages'>, tm: number, tn: number, k: number): number {
  const { WG_X, WG_Y } = t.tiled;
  return 16 * t.gemmStages * k * ((tm * WG_Y) / 4 + 1 + (tn * WG_X) / 4 + 1);
}

/** gemm.shared.wgsl stages at most this many elements per invocation and operand (its MAX_LOADS; a test in tests/ops.test.ts keeps them equal). */
export const SHARED_MAX_LOADS = 16;

/**
 * gemm.shared's register tile and K step for this GEMM: the tuning's tile edge where the grid
 * keeps tuning.sharedMinGroups workgroups (big tiles on a small GEMM leave the GPU idle) and K
 * is over tuning.sharedShortK (a short reduction does not cover an 8×8 tile's overhead), an
 * edge of 4 on an axis that fits half an edge-8 block (tuning.sharedTrim: the same blocks, none
 * half idle), and the tuning's K step, halved until the staged slices fit the workgroup storage
 * and load budget.
 */
export function sharedTile(engine: Engine, g: GemmGeom): { TM: number; TN: number; TILE_K: number } {
  const t = engine.tuning;
  const { WG_X, WG_Y } = t.tiled;
  const groups = (e: number): number => ceilDiv(g.n, e * WG_X) * ceilDiv(g.m, e * WG_Y) * g.batch;
  const e = t.sharedTile === 8 && g.k > t.sharedShortK && groups(8) >= t.sharedMinGroups ? 8 : 4;
  const tm = e === 8 && t.sharedTrim && g.m <= 4 * WG_Y ? 4 : e;
  const tn = e === 8 && t.sharedTrim && g.n <= 4 * WG_X ? 4 : e;
  const storage = engine.limits.maxComputeWorkgroupStorageSize;
  const fits = (k: number): boolean =>
    sharedStagedBytes(t, tm, tn, k) <= storage && Math.max(tm * WG_Y, tn * WG_X) * k <= SHARED_MAX_LOADS * WG_X * WG_Y;
  let k = t.gemmTileK;
  while (k > 1 && !fits(k)) k >>= 1;
  // At K step 1 the load budget always holds (e ≤ 16·min(WG_X, WG_Y)): only the storage can fail.
  // The tuning, not the operands, is at fault; the op that built this dispatch prefixes its name
  // (dispatch.ts runWithScratch).
  if (!fits(k)) {
    const fixes = ['a smaller tuning.tiled workgroup (the staged slices grow with WG_X and WG_Y)', ...(e === 8 ? ['sharedTile 4'] : []), ...(t.gemmStages > 1 ? ['gemmStages 1'] : [])];
    throw new AttributeError(
      `${gemmSharedKernel.name}: tuning.tiled ${WG_X}×${WG_Y} with ${tm}×${tn} register tiles and ${t.gemmStages} staging buffer${t.gemmStages > 1 ? 's' : ''} ` +
        `stages ${sharedStagedBytes(t, tm, tn, k)} bytes in workgroup memory even at K step 1, over this device's limit of ${storage}; ` +
        `use ${fixes.slice(0, -1).join(', ')}${fixes.length > 1 ? ' or ' : ''}${fixes.at(-1)}.`,
    );
  }
  return { TM: tm, TN: tn, TILE_K: k };
}

/**
 * The subgroup GEMM with columns over (image, pixel): C[i] = op(A)·B[i] for `images` planes
 * B[i] = [k, pixels] and C[i] = [m, pixels], A shared, as one GEMM with N = images·pixels so
 * no column tile is cut short at an image's edge. Null where the subgroup kernels are not in
 * use, or where per-image tiles would be (nearly) full anyway.
 */
export function gemmImagesDispatch(
  engine: Engine,
  g: { m: number; k: number; images: number; pixels: number; transA: boolean },
  a: Binding,
  b: Binding,
  c: Binding,
): Dispatch | null {
  const sg = subgroupTile(engine, g.m);
  if (!sg) return null;
  // Only where per-image column tiles would run partly empty (LeNet's 10×10 = 100 pixels in
  // tiles of 64: 22% idle); with whole tiles the per-image dispatch measured as fast or faster.
  const tile = sg.SG * sg.TN;
  const idle = 1 - g.pixels / (ceilDiv(g.pixels, tile) * tile);
  const n = g.images * g.pixels;
  // B as vec4s where each image's plane holds whole vec4s, with 8-lane subgroups: LeNet-32/64's
  // dcol (K = 64) on lavapipe ×0.96–1.19 over paired rounds (the machine's load moved it);
  // on SwiftShader's 4 lanes ×0.89, so there B stays scalar.
  const vecB = sg.SG === 8 && g.pixels % 4 === 0 && vec4Aligned(b);
  if (idle < 0.1) return null;
  const { workgroups, fold } = foldX(engine, [ceilDiv(n, tile), ceilDiv(g.m, sg.SG * sg.R), 1]);
  return {
    kernel: gemmSubgroupKernel,
    constants: { ...sg, TRANS_A: g.transA, TRANS_B: false, HAS_BIAS: false, RELU: false, COL_IMAGES: true, VEC_B: vecB, ...fold },
    buffers: [a, b, engine.dummy, c, vecB ? b : engine.dummy],
    params: new Params().u32(g.m, n, g.k, 0, 0, 0, g.pixels, g.k * g.pixels, g.m * g.pixels).buffer(),
    workgroups,
  };
}

export async function matmul(engine: Engine, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
  const op = 'matmul';
  const g = gemmGeom(a.shape, b.shape, opts, op);
  sameEngine(op, engine, a, b, ...(opts.bias ? [opts.bias] : []));
  if (opts.bias && (opts.bias.shape.length !== 1 || opts.bias.shape[0] !== g.n)) {
    throw new ShapeError(
      `${op}: bias ${fmtShape(opts.bias.shape)} must be [${g.n}] for output columns N=${g.n} (a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)}); pass one bias value per output column.`,
    );
  }
  const out = engine.empty(gemmOutShape(g, a.shape.length === 3), op);
  await runWithScratch(engine, op, [out], gemmScratch(engine, g), (scratch) => gemmDispatches(engine, g, a.buffer, b.buffer, out.buffer, { bias: opts.bias?.buffer, relu: opts.relu }, scratch));
  return out;
}

/**
 * Gradients of C = op(A)·op(B): dA and dB, each one GEMM with the transposes flipped.
 * With C = A'B': dA' = dC·B'ᵀ and dB' = A'ᵀ·dC. A B shared by the batch sums its gradient over it.
 */
export async function matmulBackward(
  engine: Engine,
  a: Tensor,
  b: Tensor,
  dy: Tensor,
  attrs: GemmAttrs = {},
): Promise<{ da: Tensor; db: Tensor }> {
  const op = 'matmulBackward';
  const g = gemmGeom(a.shape, b.shape, attrs, op);
  sameEngine(op, engine, a, b, dy);
  const yShape = gemmOutShape(g, a.shape.length === 3);
  if (fmtShape(dy.shape) !== fmtShape(yShape)) {
    throw new ShapeError(
      `${op}: dy ${fmtShape(dy.shape)} must match the output shape ${fmtShape(yShape)} of a ${fmtShape(a.shape)} × b ${fmtShape(b.shape)}; pass the gradient of matmul's output.`,
    );
  }
  const { transA, transB, batch, m, n, k } = g;
  const shared = g.broadcastB; // B is 2-D and shared by every batch of A
  const geom = (x: Pick<GemmGeom, 'm' | 'n' | 'k' | 'transA' | 'transB'>): GemmGeom => ({ ...x, batch, broadcastB: false });
  const dbAllShape = shared ? [batch, ...b.shape] : b.shape;
  engine.checkBytes(op, dbAllShape, sizeOf(dbAllShape) * 4); // before da, so that neither leaks
  // dA and dB run one after the other, so they share one set of packing scratch.
  const gA = !transA ? { ...geom({ m, n: k, k: n, transA: false, transB: !transB }), broadcastB: shared } : geom({ m: k, n: m, k: n, transA: transB, transB: true });
  const optsA = { sharedA: transA && shared };
  const gB = !transB ? geom({ m: k, n, k: m, transA: !transA, transB: false }) : geom({ m: n, n: k, k: m, transA: true, transB: transA });
  const da = engine.empty(a.shape, op);
  const dbAll = engine.empty(dbAllShape, op);
  const db = shared ? engine.empty(b.shape, op) : dbAll;
  await runWithScratch(engine, op, db === dbAll ? [da, db] : [da, dbAll, db], mergeScratch(gemmScratch(engine, gA, optsA), gemmScratch(engine, gB)), (sc) => {
    const ds: Dispatch[] = [];
    if (!transA) ds.push(...gemmDispatches(engine, gA, dy.buffer, b.buffer, da.buffer, optsA, sc));
    else ds.push(...gemmDispatches(engine, gA, b.buffer, dy.buffer, da.buffer, optsA, sc));
    if (!transB) ds.push(...gemmDispatches(engine, gB, a.buffer, dy.buffer, dbAll.buffer, {}, sc));
    else ds.push(...gemmDispatches(engine, gB, dy.buffer, a.buffer, dbAll.buffer, {}, sc));
    if (shared) ds.push(sumAxisDispatch(engine, dbAll.buffer, db.buffer, 1, batch, b.shape[0]! * b.shape[1]!));
    return ds;
  });
  if (shared) dbAll.dispose();
  return { da, db };
}
