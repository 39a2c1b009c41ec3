// conv2d: forward (implicit GEMM over a zero-padded input, with pixel or, on packed weights,
// channel columns; or on GPUs im2col and the workgroup-memory GEMM; fused bias and ReLU), the input gradient (a GEMM into per-tap columns then col2im, the forward kernel on the
// padded, upsampled dy with flipped weights, or on SwiftShader a kernel over each pixel's
// valid taps: conv2dBwdInputRoute), the filter gradient (split-K GEMM, tap or channel
// columns; or on GPUs im2col and one GEMM over groups of images) and the bias gradient.
import bwdBiasWgsl from '../../shaders/conv2d/conv2d.bwd_bias.wgsl?raw';
import bwdBiasPlanesWgsl from '../../shaders/conv2d/conv2d.bwd_bias.planes.wgsl?raw';
import col2imWgsl from '../../shaders/conv2d/conv2d.col2im.wgsl?raw';
import bwdFilterWgsl from '../../shaders/conv2d/conv2d.bwd_filter.wgsl?raw';
import flipWgsl from '../../shaders/conv2d/conv2d.flip.wgsl?raw';
import padWgsl from '../../shaders/conv2d/conv2d.pad.wgsl?raw';
import fwdWgsl from '../../shaders/conv2d/conv2d.fwd.wgsl?raw';
import fwdSubgroupWgsl from '../../shaders/conv2d/conv2d.fwd.subgroup.wgsl?raw';
import fwdChannelColsWgsl from '../../shaders/conv2d/conv2d.fwd.channel_cols.wgsl?raw';
import bwdFilterSubgroupWgsl from '../../shaders/conv2d/conv2d.bwd_filter.subgroup.wgsl?raw';
import bwdFilterChannelColsWgsl from '../../shaders/conv2d/conv2d.bwd_filter.channel_cols.wgsl?raw';
import bwdInputSubgroupWgsl from '../../shaders/conv2d/conv2d.bwd_input.subgroup.wgsl?raw';
import im2colWgsl from '../../shaders/conv2d/conv2d.im2col.wgsl?raw';
import dyGroupsWgsl from '../../shaders/conv2d/conv2d.bwd_filter.dy_groups.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkRank, type Shape } from '../shape.js';
import { REG_TILE, ceilDiv, expectShape, foldX, grid1d, runWithScratch, sameEngine, subgroupTile, vec4Aligned, withSubgroupTile } from './dispatch.js';
import { conv2dGeom, type Conv2dAttrs, type Conv2dGeom } from './geometry.js';
import { sumAxisDispatch } from './sum.js';
import { gemmDispatch, gemmImagesDispatch, gemmPackDispatch } from './gemm.js';

export const conv2dKernels = {
  fwd: { name: 'conv2d.fwd', code: fwdWgsl },
  fwdSubgroup: { name: 'conv2d.fwd.subgroup', code: withSubgroupTile(fwdSubgroupWgsl) },
  fwdChannelCols: { name: 'conv2d.fwd.channel_cols', code: withSubgroupTile(fwdChannelColsWgsl) },
  pad: { name: 'conv2d.pad', code: padWgsl },
  flip: { name: 'conv2d.flip', code: flipWgsl },
  col2im: { name: 'conv2d.col2im', code: col2imWgsl },
  im2col: { name: 'conv2d.im2col', code: im2colWgsl },
  dyGroups: { name: 'conv2d.bwd_filter.dy_groups', code: dyGroupsWgsl },
  bwdInputSubgroup: { name: 'conv2d.bwd_input.subgroup', code: withSubgroupTile(bwdInputSubgroupWgsl) },
  bwdFilter: { name: 'conv2d.bwd_filter', code: bwdFilterWgsl },
  bwdFilterSubgroup: { name: 'conv2d.bwd_filter.subgroup', code: withSubgroupTile(bwdFilterSubgroupWgsl) },
  bwdFilterChannelCols: { name: 'conv2d.bwd_filter.channel_cols', code: withSubgroupTile(bwdFilterChannelColsWgsl) },
  bwdBias: { name: 'conv2d.bwd_bias', code: bwdBiasWgsl },
  bwdBiasPlanes: { name: 'conv2d.bwd_bias.planes', code: bwdBiasPlanesWgsl },
};

export interface Conv2dOptions extends Conv2dAttrs {
  /** [O], added per output channel. */
  bias?: Tensor;
  /** ReLU after the bias. */
  relu?: boolean;
}

export const conv2dOutShape = (g: Conv2dGeom): number[] => [g.n, g.o, g.oh, g.ow];

const isPadded = (g: Conv2dGeom): boolean => g.padTop + g.padBottom + g.padLeft + g.padRight > 0;
const paddedH = (g: Conv2dGeom): number => g.h + g.padTop + g.padBottom;
const paddedW = (g: Conv2dGeom): number => g.w + g.padLeft + g.padRight;

/** What conv2d.fwd.wgsl sees: an already padded input of hp × wp. */
interface FwdGeom {
  n: number; c: number; hp: number; wp: number;
  o: number; oh: number; ow: number; kh: number;
  kw: number; cg: number; og: number; strideH: number;
  strideW: number; dilH: number; dilW: number; groups: number;
}

const forwardGeom = (g: Conv2dGeom): FwdGeom => ({ ...g, hp: paddedH(g), wp: paddedW(g) });

/** The input gradient's 'forward' route: dy upsampled by the stride and padded by (K−1)·d − pad, C outputs. */
const upsampledGeom = (g: Conv2dGeom): FwdGeom => ({
  n: g.n, c: g.o, hp: g.h + (g.kh - 1) * g.dilH, wp: g.w + (g.kw - 1) * g.dilW, o: g.c, oh: g.h, ow: g.w, kh: g.kh, kw: g.kw, cg: g.og, og: g.cg,
  strideH: 1, strideW: 1, dilH: g.dilH, dilW: g.dilW, groups: g.groups,
});

function fwdParams(f: FwdGeom): Params {
  return new Params().u32(f.n, f.c, f.hp, f.wp, f.o, f.oh, f.ow, f.kh, f.kw, f.cg, f.og, f.strideH, f.strideW, f.dilH, f.dilW);
}

function padDispatch(engine: Engine, planes: number, h: number, w: number, hp: number, wp: number, padTop: number, padLeft: number, sh: number, sw: number, src: Binding, dst: Binding): Dispatch {
  const WG = engine.tuning.pointwise;
  const ROWWISE = engine.tuning.rowwise;
  const total = planes * hp * (ROWWISE ? 1 : wp);
  return {
    kernel: conv2dKernels.pad,
    constants: { WG, SH: sh, SW: sw, ROWWISE },
    buffers: [src, dst],
    params: new Params().u32(total, h, w, hp, wp).i32(padTop, padLeft).buffer(),
    workgroups: grid1d(engine, total, WG),
  };
}

/**
 * Whether the subgroup forward and filter gradient take the output channels as columns
 * (tuning.convChannelCols; 'auto': where the og channels fill ≥ 3/4 of the panels), and the
 * tile: `rows` rows (pixels, or taps) in blocks of SG·R, panels of P = SG·TN channels. Where
 * 8 channels per lane would leave the panels < 3/4 full and 4 would not (24–32 or 72–95
 * channels), 4: on lavapipe, paired, against pixel columns, filter gradient ×1.25–1.42 and
 * forward ×0.97–1.29 (LeNet-32/64's first conv; its training step ×1.11).
 */
function channelColTile(engine: Engine, rows: number, og: number) {
  const mode = engine.tuning.convChannelCols;
  const sg = subgroupTile(engine, rows);
  if (mode === 'never' || !sg) return null;
  const fill = (tn: number): number => og / (ceilDiv(og, sg.SG * tn) * sg.SG * tn);
  const TN = sg.TN === 8 && fill(8) < 0.75 && fill(4) >= 0.75 ? 4 : sg.TN;
  if (mode === 'auto' && fill(TN) < 0.75) return null; // wide panels, few channels
  const P = sg.SG * TN;
  return { ...sg, TN, P, panels: ceilDiv(og, P) };
}

/** The forward's channel-column tiling, packing the weights into `floats` of scratch.wpack; null where it does not apply or fit. */
function channelCols(engine: Engine, f: FwdGeom) {
  const t = channelColTile(engine, f.n * f.oh * f.ow, f.og);
  if (!t) return null;
  const ntaps = f.cg * f.kh * f.kw;
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (ceilDiv((ntaps * t.P) / 4, engine.tuning.pointwise) > max) return null; // the packing's grid (the pixel blocks fold: foldX)
  return { ...t, ntaps, floats: f.groups * t.panels * ntaps * t.P };
}

/** The filter gradient's channel-column tiling, packing dy into `floats` of scratch.dypack; null where it does not apply or fit. */
function filterChannelCols(engine: Engine, g: Conv2dGeom) {
  const ntaps = g.cg * g.kh * g.kw;
  const t = channelColTile(engine, ntaps, g.og);
  if (!t) return null;
  const ohw = g.oh * g.ow;
  const floats = g.n * g.groups * t.panels * ohw * t.P;
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (Math.max(ceilDiv(ntaps, t.SG * t.R), g.n * g.groups, ceilDiv((ohw * t.P) / 4, engine.tuning.pointwise)) > max) return null;
  if (floats * 4 > engine.limits.maxStorageBufferBindingSize) return null;
  return { ...t, ntaps, floats };
}

/** The forward's scratch for packed weights (channelCols), or none. */
const wpackScratch = (engine: Engine, f: FwdGeom): Record<string, number> => {
  const cc = channelCols(engine, f);
  return cc ? { wpack: cc.floats } : {};
};

/** The forward's GEMM over the padded input: pixel columns, or channel columns on packed weights. */
function implicitGemm(engine: Engine, f: FwdGeom, x: Binding, w: Binding, y: Binding, scratch: Record<string, Binding>, opts: { bias?: Binding; relu?: boolean } = {}): Dispatch[] {
  const cc = channelCols(engine, f);
  if (cc && scratch.wpack) {
    const { workgroups, fold } = foldX(engine, [ceilDiv(f.n * f.oh * f.ow, cc.SG * cc.R), cc.panels, f.groups]);
    return [
      // w [O, cg·KH·KW] per group → k-major panels of P channels
      gemmPackDispatch(engine, w, scratch.wpack, { rows: f.og, k: cc.ntaps, p: cc.P, rowStride: cc.ntaps, kStride: 1, batchIn: f.og * cc.ntaps, batches: f.groups }),
      {
        kernel: conv2dKernels.fwdChannelCols,
        constants: { SG: cc.SG, R: cc.R, TN: cc.TN, HAS_BIAS: !!opts.bias, RELU: !!opts.relu, ...fold },
        buffers: [x, scratch.wpack, opts.bias ?? engine.dummy, y],
        params: fwdParams(f).u32(cc.panels).buffer(),
        workgroups,
      },
    ];
  }
  const sg = subgroupTile(engine, f.og);
  if (sg) {
    const { workgroups, fold } = foldX(engine, [ceilDiv(f.n * f.oh * f.ow, sg.SG * sg.TN), ceilDiv(f.og, sg.SG * sg.R), f.groups]);
    return [{
      kernel: conv2dKernels.fwdSubgroup,
      constants: { ...sg, HAS_BIAS: !!opts.bias, RELU: !!opts.relu, ...fold },
      buffers: [x, w, opts.bias ?? engine.dummy, y],
      params: fwdParams(f).buffer(),
      workgroups,
    }];
  }
  const { WG_X, WG_Y } = engine.tuning.conv;
  const { workgroups, fold } = foldX(engine, [ceilDiv(f.n * f.oh * f.ow, engine.tuning.convPixels * WG_X), ceilDiv(f.og, REG_TILE * WG_Y), f.groups]);
  return [{
    kernel: conv2dKernels.fwd,
    constants: { WG_X, WG_Y, TP: engine.tuning.convPixels, HAS_BIAS: !!opts.bias, RELU: !!opts.relu, ...fold },
    buffers: [x, w, opts.bias ?? engine.dummy, y],
    params: fwdParams(f).buffer(),
    workgroups,
  }];
}

/** Scratch buffers (float counts by name) each pass needs; absent names are not needed. */
export function conv2dScratch(engine: Engine, g: Conv2dGeom, pass: 'fwd' | 'bwdInput' | 'bwdFilter'): Record<string, number> {
  const xpad: Record<string, number> = isPadded(g) ? { xpad: g.n * g.c * paddedH(g) * paddedW(g) } : {};
  if (pass === 'fwd' && useIm2col(engine, g)) return {}; // im2col is read from x in place
  if (pass === 'bwdFilter' && useIm2col(engine, g, 'bwdFilter')) return im2colFilterScratch(im2colFilterPlan(engine, g)!, g);
  if (pass === 'fwd') return { ...xpad, ...wpackScratch(engine, forwardGeom(g)) };
  if (pass === 'bwdInput') {
    const route = conv2dBwdInputRoute(engine, g);
    if (route === 'direct') {
      const t = directTile(engine, g)!;
      return { dypack: t.dyFloats, wpack: t.wFloats };
    }
    if (route === 'col2im') return { dcol: colFloats({ ...g, n: colRun(engine, g) }) };
    const f = upsampledGeom(g);
    return { dyUp: g.n * g.o * f.hp * f.wp, wf: g.o * g.cg * g.kh * g.kw, ...wpackScratch(engine, f) };
  }
  const splits = conv2dBwdFilterSplits(engine, g);
  const cc = filterChannelCols(engine, g);
  return { ...xpad, ...(splits > 1 ? { part: splits * g.o * g.cg * g.kh * g.kw } : {}), ...(cc ? { dypack: cc.floats } : {}) };
}

/** Forward: zero-pad x into `scratch.xpad` when there is padding, then the implicit GEMM. */
export function conv2dFwdDispatches(
  engine: Engine,
  g: Conv2dGeom,
  x: Binding,
  w: Binding,
  y: Binding,
  scratch: Record<string, Binding>,
  opts: { bias?: Binding; relu?: boolean } = {},
): Dispatch[] {
  if (useIm2col(engine, g)) {
    // W · im2col(x) per image, with im2col read from x as the GEMM stages it: one dispatch, no
    // col in memory (under a GPU's tuning on lavapipe, 7 shapes ×1.25–1.41 against im2col then
    // the GEMM, paired, bit-identical).
    const gg = { batch: g.n, m: g.o, n: g.oh * g.ow, k: g.c * g.kh * g.kw, transA: false, transB: false, broadcastB: false };
    return [gemmDispatch(engine, gg, w, x, y, { ...opts, sharedA: true, biasRows: true, im2colB: g })];
  }
  const f = forwardGeom(g);
  if (!isPadded(g)) return implicitGemm(engine, f, x, w, y, scratch, opts);
  return [
    padDispatch(engine, g.n * g.c, g.h, g.w, f.hp, f.wp, g.padTop, g.padLeft, 1, 1, x, scratch.xpad!),
    ...implicitGemm(engine, f, scratch.xpad!, w, y, scratch, opts),
  ];
}

/** Floats of the per-tap column matrices (im2col's col, col2im's dcol): C·KH·KW × OH·OW per image. */
const colFloats = (g: Conv2dGeom): number => g.n * g.c * g.kh * g.kw * g.oh * g.ow;
/** Bytes a route's scratch may take: one buffer, and 256 MiB. */
const scratchBytes = (engine: Engine): number => Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize, 256 * 2 ** 20);
/** Whether a route's scratch, `floats` in all, fits. */
const scratchFits = (engine: Engine, floats: number): boolean => floats * 4 <= scratchBytes(engine);
const colFits = (engine: Engine, g: Conv2dGeom): boolean => scratchFits(engine, colFloats(g));

/**
 * The passes, [first image, images], of the input gradient's col2im route: all N at once where
 * dcol fits the scratch, else runs of as many images as it holds, so a large batch keeps the
 * route (AlexNet's first layer at batch 128 needs 563 MB of dcol). A run binds dy and dx at
 * offsets, so runs are a multiple of the images that keep those aligned
 * (minStorageBufferOffsetAlignment). Empty where not even that many fit.
 */
export function colPasses(engine: Engine, g: Conv2dGeom): Array<[number, number]> {
  if (colFits(engine, g)) return [[0, g.n]];
  const perImage = colFloats({ ...g, n: 1 }) * 4;
  const step = alignedStep(engine, g.o * g.oh * g.ow * 4, g.c * g.h * g.w * 4);
  const run = Math.floor(Math.floor(scratchBytes(engine) / perImage) / step) * step;
  if (run < 1) return [];
  const out: Array<[number, number]> = [];
  for (let first = 0; first < g.n; first += run) out.push([first, Math.min(run, g.n - first)]);
  return out;
}

/** The most images a pass of colPasses takes: what its scratch holds. */
const colRun = (engine: Engine, g: Conv2dGeom): number => Math.max(...colPasses(engine, g).map(([, images]) => images));

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** The fewest items (images, groups) whose spans, of these bytes each, all end on the device's binding-offset alignment. */
function alignedStep(engine: Engine, ...bytes: number[]): number {
  const align = engine.limits.minStorageBufferOffsetAlignment;
  return bytes.map((b) => align / gcd(align, b)).reduce((a, b) => (a * b) / gcd(a, b), 1);
}

/** Bytes [offset, offset + size) of a binding, as a binding of its own. */
function range(b: Binding, offset: number, size: number): GPUBufferBinding {
  return 'buffer' in b ? { buffer: b.buffer, offset: (b.offset ?? 0) + offset, size } : { buffer: b, offset, size };
}

/**
 * The GPU route for the forward pass and the filter gradient (tuning.convIm2col): the
 * workgroup-memory GEMM over im2col of x, read from x in place (gemm.shared.wgsl IM2COL_B):
 * per image forward, over groups of images for the filter gradient (which writes col to
 * scratch only where it runs in passes: im2colFilterPlan). On an H100 the implicit-GEMM
 * kernel (no workgroup memory, built for the CPU emulators) ran 32×32×32×64→64 3×3 at 3.4
 * TFLOP/s forward and its filter gradient at 0.26. Ungrouped convolutions: the forward always,
 * the filter gradient where im2colFilterPlan finds passes that fit; else the implicit GEMM
 * (split-K for the filter gradient).
 */
export function useIm2col(engine: Engine, g: Conv2dGeom, pass: 'fwd' | 'bwdFilter' = 'fwd'): boolean {
  if (!engine.tuning.convIm2col || engine.tuning.gemm !== 'shared' || g.groups !== 1) return false;
  return pass === 'fwd' || im2colFilterPlan(engine, g) !== null;
}

/** im2col of groups of `chunk` images, each group's columns side by side, for `images` images from `first` (all of them by default). */
function im2colDispatch(engine: Engine, g: Conv2dGeom, x: Binding, col: Binding, chunk = 1, first = 0, images = g.n): Dispatch {
  const WG = engine.tuning.pointwise;
  const total = ceilDiv(images, chunk) * chunk * g.c * g.kh * g.kw * g.oh * g.ow;
  return {
    kernel: conv2dKernels.im2col,
    constants: { WG },
    buffers: [x, col],
    params: new Params()
      .u32(total, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.dilH, g.dilW)
      .i32(g.padTop, g.padLeft)
      .u32(chunk, g.n, first)
      .buffer(),
    workgroups: grid1d(engine, total, WG),
  };
}

/** Below this K (chunk·OH·OW) per GEMM, splitting the images further costs more in partial sums than it gains. */
const MIN_GROUP_K = 128;

/**
 * The im2col filter gradient's groups of images: dW = Σ_s dy_s[O, chunk·OH·OW] · col_sᵀ, one
 * batched GEMM over S groups of chunk = ⌈N / S⌉ images, summed over s where S > 1. One group (K
 * = N·OH·OW, no partial sums) wherever that GEMM alone keeps tuning.sharedMinGroups workgroups
 * (deep layers: a GEMM per image had K = OH·OW, 4–49, and N·O·C·KH·KW partial sums, 604 MB for
 * 64×512×7×7→512 3×3). A small O × C·KH·KW (a first layer's 64 × 27: one workgroup) is split
 * over the images, K ≥ MIN_GROUP_K per group: into enough groups to fill the grid with the
 * tuning's tiles, else (K too short for that) with the 4×4 tiles gemm.shared then takes, else
 * as many as K allows. The partial sums stay about sharedMinGroups blocks of the GEMM's output.
 */
export function im2colFilterGroups(engine: Engine, g: Conv2dGeom): { groups: number; chunk: number } {
  const t = engine.tuning;
  const need = (tile: number): number =>
    ceilDiv(t.sharedMinGroups, ceilDiv(g.c * g.kh * g.kw, tile * t.tiled.WG_X) * ceilDiv(g.o, tile * t.tiled.WG_Y));
  const most = Math.max(1, Math.min(g.n, Math.floor((g.n * g.oh * g.ow) / MIN_GROUP_K)));
  // Splitting into groups that still leave the big tiles short of the grid would drop them to 4×4 and split K too.
  const want = need(t.sharedTile) <= most ? need(t.sharedTile) : Math.min(need(4), most);
  let chunk = ceilDiv(g.n, Math.max(1, want));
  if (chunk > 1 && ceilDiv(g.n, chunk) < want) chunk--; // 10 images in 6 groups: ⌈10/6⌉ = 2 makes only 5
  return { groups: ceilDiv(g.n, chunk), chunk };
}

/**
 * The im2col filter gradient's plan: the groups of im2colFilterGroups in one pass, whose GEMM
 * reads im2col from x in place, where their regrouped dy and partial sums fit the scratch;
 * else `perPass` of them at a time through col (a pass's groups start at an image x cannot be
 * bound at), each pass writing its groups' dW into part at a binding offset, then one sum over
 * all groups. Where not even one group fits, the groups are made smaller (a single group, K =
 * N·OH·OW, becomes two, four, …). Null where not even one image does: the split-K kernels
 * then (0.26 TFLOP/s on an H100, against the GEMM's tens).
 */
export function im2colFilterPlan(engine: Engine, g: Conv2dGeom): { groups: number; chunk: number; perPass: number } | null {
  let { groups, chunk } = im2colFilterGroups(engine, g);
  const ckk = g.c * g.kh * g.kw;
  const pixels = g.oh * g.ow;
  const cap = scratchBytes(engine) / 4;
  for (;;) {
    const dyGroups = chunk > 1 ? chunk * g.o * pixels : 0;
    const part = groups > 1 ? groups * g.o * ckk : 0;
    if (groups * dyGroups + part <= cap) return { groups, chunk, perPass: groups };
    if (groups > 1) {
      // A pass's groups start at an offset of part, and with one image per group, of dy too.
      const step = alignedStep(engine, g.o * ckk * 4, ...(chunk === 1 ? [g.o * pixels * 4] : []));
      const perPass = Math.floor(Math.max(0, Math.floor((cap - part) / (chunk * ckk * pixels + dyGroups))) / step) * step;
      if (perPass >= 1) return { groups, chunk, perPass };
    }
    if (chunk === 1) return null;
    chunk = ceilDiv(chunk, 2);
    groups = ceilDiv(g.n, chunk);
  }
}

/**
 * The im2col filter gradient's scratch: col for a pass's groups where it takes passes (in one
 * pass its GEMM reads im2col from x in place), their dy regrouped (unless one image per
 * group), partial sums (more than one group).
 */
function im2colFilterScratch(plan: { groups: number; chunk: number; perPass: number }, g: Conv2dGeom): Record<string, number> {
  const { groups, chunk, perPass } = plan;
  const images = perPass * chunk; // past N: zero columns
  return {
    ...(perPass < groups ? { col: images * g.c * g.kh * g.kw * g.oh * g.ow } : {}),
    ...(chunk > 1 ? { dyGroups: images * g.o * g.oh * g.ow } : {}),
    ...(groups > 1 ? { part: groups * g.o * g.c * g.kh * g.kw } : {}),
  };
}

/**
 * The input gradient's route.
 * 'col2im': dcol = Wᵀ · dy per image (a GEMM with M = C·KH·KW, N = OH·OW, K = O, into
 * scratch.dcol), then col2im sums each input pixel's taps; every multiply is a real one,
 * but dcol is KH·KW times dx and its GEMM has a short K.
 * 'forward': the forward kernel on the padded (upsampled) dy with flipped weights; it also
 * multiplies the padding's zeros, H·W / (OH·OW) times the real work at stride 1, and its
 * row tiles run over C. Taken where that overhead is ≤ 1.25 (a "same" convolution:
 * 32×32×32×64→64 3×3 pad 1 measured 336 vs 530 ms on lavapipe, 1.63 vs 2.23 s on
 * SwiftShader), for grouped convolutions, and where dcol holds not even one aligned run of
 * images (colPasses; else col2im runs image run by image run).
 * 'direct' (stride 1): conv2d.bwd_input.subgroup.wgsl, whose columns are the images at one
 * input pixel, so it multiplies only the taps that exist; where its image and channel tiles
 * are ≥ 75% full and the forward route would multiply ≥ tuning.convBwdInputDirect times the
 * real work. Paired rounds, direct vs the route it replaced: 64×14×14×32→64 5×5 valid
 * ×2.55 (lavapipe, vs col2im) and ×1.69 (SwiftShader), 5×5 "same" ×1.23 / ×1.17 (vs
 * forward), 3×3 "same" 32×32×64→64 ×0.81 on lavapipe but ×1.19 on SwiftShader.
 */
export function conv2dBwdInputRoute(engine: Engine, g: Conv2dGeom): 'direct' | 'col2im' | 'forward' {
  const stride1 = g.strideH === 1 && g.strideW === 1;
  // GPUs: the GEMM into dcol runs on the workgroup-memory kernel; the forward route's kernel does not.
  if (useIm2col(engine, g) && colPasses(engine, g).length) return 'col2im';
  if (g.groups === 1 && stride1) {
    const minWaste = engine.tuning.convBwdInputDirect;
    if (minWaste !== null && directFill(engine, g) >= 0.75 && forwardWaste(g) >= minWaste) return 'direct';
    const sg = subgroupTile(engine, g.c);
    const rows = sg ? sg.SG * sg.R : REG_TILE * engine.tuning.conv.WG_Y;
    const overhead = ((g.h * g.w) / (g.oh * g.ow)) * ((ceilDiv(g.c, rows) * rows) / g.c);
    if (overhead <= 1.25) return 'forward';
  }
  if (g.groups !== 1 || !colPasses(engine, g).length) return 'forward';
  return 'col2im';
}

/** At stride 1, the (input index, tap) pairs of one axis whose dy index t + pad − k·d lies in [0, out). */
function validTaps(len: number, k: number, d: number, pad: number, out: number): number {
  let n = 0;
  for (let t = 0; t < len; t++) {
    for (let j = 0; j < k; j++) {
      const i = t + pad - j * d;
      if (i >= 0 && i < out) n++;
    }
  }
  return n;
}

/** Multiplies of the input gradient's forward route (every tap of every input pixel) per real one, at stride 1. */
const forwardWaste = (g: Conv2dGeom): number =>
  (g.h * g.kh * g.w * g.kw) / (validTaps(g.h, g.kh, g.dilH, g.padTop, g.oh) * validTaps(g.w, g.kw, g.dilW, g.padLeft, g.ow));

/**
 * The direct kernel's tiling: panels of P images (packed dy: `dyFloats`) and blocks of PW input
 * channels (packed W: `wFloats`); null where its grids or buffers would not fit.
 */
function directTile(engine: Engine, g: Conv2dGeom) {
  const sg = subgroupTile(engine, g.c);
  if (!sg) return null;
  const P = sg.SG * sg.TN;
  const PW = sg.SG * sg.R;
  const ksz = g.kh * g.kw;
  const dyFloats = ceilDiv(g.n, P) * P * g.o * g.oh * g.ow;
  const wFloats = ksz * ceilDiv(g.c, PW) * PW * g.o;
  const WG = engine.tuning.pointwise;
  const maxGrid = Math.max(g.h * g.w, ksz, ceilDiv((g.o * g.oh * g.ow * P) / 4, WG), ceilDiv((g.o * PW) / 4, WG));
  if (maxGrid > engine.limits.maxComputeWorkgroupsPerDimension) return null;
  if (Math.max(dyFloats, wFloats) * 4 > engine.limits.maxStorageBufferBindingSize) return null;
  return { sg, P, PW, dyFloats, wFloats };
}

/** How full the direct kernel's tiles run (images × channels), or 0 where it cannot run. */
function directFill(engine: Engine, g: Conv2dGeom): number {
  const t = directTile(engine, g);
  if (!t) return 0;
  return (g.n / (ceilDiv(g.n, t.P) * t.P)) * (g.c / (ceilDiv(g.c, t.PW) * t.PW));
}

/** Input gradient, by conv2dBwdInputRoute; col2im: the GEMM, then the gather of each input pixel's taps. */
export function conv2dBwdInputDispatches(engine: Engine, g: Conv2dGeom, dy: Binding, w: Binding, dx: Binding, scratch: Record<string, Binding>): Dispatch[] {
  const route = conv2dBwdInputRoute(engine, g);
  if (route === 'forward') return upsampledBwdInput(engine, g, dy, w, dx, scratch);
  if (route === 'direct') {
    const { sg, P, PW } = directTile(engine, g)!;
    const k = g.o * g.oh * g.ow;
    const ksz = g.kh * g.kw;
    return [
      // dy [N, O·OH·OW] → panels of P images, image-minor
      gemmPackDispatch(engine, dy, scratch.dypack!, { rows: g.n, k, p: P, rowStride: k, kStride: 1, batchIn: 0, batches: 1 }),
      // W [O, C, KH·KW] → per tap, blocks of PW input channels, channel-minor
      gemmPackDispatch(engine, w, scratch.wpack!, { rows: g.c, k: g.o, p: PW, rowStride: ksz, kStride: g.c * ksz, batchIn: 1, batches: ksz }),
      {
        kernel: conv2dKernels.bwdInputSubgroup,
        constants: { ...sg },
        buffers: [scratch.dypack!, scratch.wpack!, dx],
        params: new Params().u32(g.n, g.c, g.h, g.w, g.o, g.oh, g.ow, g.kh, g.kw, g.dilH, g.dilW, g.padTop, g.padLeft, ceilDiv(g.c, PW)).buffer(),
        workgroups: [ceilDiv(g.n, P), ceilDiv(g.c, PW), g.h * g.w],
      },
    ];
  }
  const m = g.c * g.kh * g.kw;
  const WG = engine.tuning.pointwise;
  const pixels = g.oh * g.ow;
  const [dyImage, dxImage] = [g.o * pixels * 4, g.c * g.h * g.w * 4];
  // Per run of images dcol holds (colPasses): dcol = Wᵀ·dy per image, then col2im into dx's images.
  const passes = colPasses(engine, g);
  return passes.flatMap(([first, images]) => {
    const [dyRun, dxRun] = passes.length === 1 ? [dy, dx] : [range(dy, first * dyImage, images * dyImage), range(dx, first * dxImage, images * dxImage)];
    const total = images * g.c * g.h * g.w;
    return [
      gemmImagesDispatch(engine, { m, k: g.o, images, pixels, transA: true }, w, dyRun, scratch.dcol!) ??
        gemmDispatch(engine, { batch: images, m, n: pixels, k: g.o, transA: true, transB: false, broadcastB: false }, w, dyRun, scratch.dcol!, { sharedA: true }),
      {
        kernel: conv2dKernels.col2im,
        constants: { WG, KH: g.kh, KW: g.kw, SH: g.strideH, SW: g.strideW, DH: g.dilH, DW: g.dilW, CLIP: engine.tuning.col2imClip },
        buffers: [scratch.dcol!, dxRun],
        params: new Params().u32(total, g.h, g.w, g.oh, g.ow, g.padTop, g.padLeft).buffer(),
        workgroups: grid1d(engine, total, WG),
      },
    ];
  });
}

/**
 * Input gradient as a forward convolution: dy upsampled by the stride and padded by
 * (K−1)·d − pad (scratch.dyUp), convolved with the weights rotated 180° and their channels
 * swapped per group (scratch.wf), stride 1 and the same dilation.
 */
function upsampledBwdInput(engine: Engine, g: Conv2dGeom, dy: Binding, w: Binding, dx: Binding, scratch: Record<string, Binding>): Dispatch[] {
  const f = upsampledGeom(g);
  const WG = engine.tuning.pointwise;
  const filters = g.o * g.cg; // = C·og
  return [
    padDispatch(engine, g.n * g.o, g.oh, g.ow, f.hp, f.wp, (g.kh - 1) * g.dilH - g.padTop, (g.kw - 1) * g.dilW - g.padLeft, g.strideH, g.strideW, dy, scratch.dyUp!),
    {
      kernel: conv2dKernels.flip,
      constants: { WG },
      buffers: [w, scratch.wf!],
      params: new Params().u32(filters, g.og, g.cg, g.kh * g.kw).buffer(),
      workgroups: grid1d(engine, filters, WG),
    },
    ...implicitGemm(engine, f, scratch.dyUp!, scratch.wf!, dx, scratch),
  ];
}

/**
 * The subgroup filter gradient's tile (rows: output channels, columns: taps), or null: 4 taps
 * per lane where 8 would leave the column tiles < 3/4 full and 4 fill them better (a 5×5
 * kernel on one channel: 25 of 32 columns, not 25 of 64; LeNet's first conv).
 */
function filterSubgroupTile(engine: Engine, g: Conv2dGeom) {
  const sg = subgroupTile(engine, g.og);
  if (!sg) return sg;
  const taps = g.cg * g.kh * g.kw;
  const fill = (tn: number): number => taps / (ceilDiv(taps, sg.SG * tn) * sg.SG * tn);
  return sg.TN === 8 && fill(8) < 0.75 && fill(4) > fill(8) ? { ...sg, TN: 4 } : sg;
}

/**
 * How far to split the filter gradient's long K (N·OH·OW) over the batch: enough
 * splits to give the device ~`target` invocations, no more than the batch.
 */
export function conv2dBwdFilterSplits(engine: Engine, g: Conv2dGeom): number {
  const sg = filterSubgroupTile(engine, g);
  const cc = filterChannelCols(engine, g);
  const tiles = cc
    ? ceilDiv(cc.ntaps, cc.SG * cc.R) * cc.panels * g.groups * cc.SG
    : sg
    ? ceilDiv(g.cg * g.kh * g.kw, sg.SG * sg.TN) * ceilDiv(g.og, sg.SG * sg.R) * g.groups * sg.SG
    : ceilDiv(g.cg * g.kh * g.kw, REG_TILE) * ceilDiv(g.og, REG_TILE) * g.groups;
  const target = engine.adapterInfo.isFallbackAdapter ? 256 : 8192;
  return Math.max(1, Math.min(g.n, Math.floor(target / tiles)));
}

/** Filter gradient: pad x (scratch.xpad) when there is padding, the split-K GEMM into scratch.part, then the sum over splits. */
export function conv2dBwdFilterDispatches(engine: Engine, g: Conv2dGeom, x: Binding, dy: Binding, dw: Binding, scratch: Record<string, Binding>): Dispatch[] {
  if (useIm2col(engine, g, 'bwdFilter')) {
    // dW = Σ_s dy_s[O, chunk·OH·OW] · col_sᵀ: one GEMM per group of images (im2colFilterGroups),
    // so K runs over the group's pixels, not one image's; into scratch.part, then the sum, where
    // S > 1. In passes of perPass groups, through col, where the scratch does not hold them all
    // (im2colFilterPlan).
    const { groups, chunk, perPass } = im2colFilterPlan(engine, g)!;
    const ncols = g.c * g.kh * g.kw;
    const pixels = g.oh * g.ow;
    const WG = engine.tuning.pointwise;
    const ds: Dispatch[] = [];
    for (let s = 0; s < groups; s += perPass) {
      const count = Math.min(perPass, groups - s);
      const whole = count === groups;
      // In one pass the GEMM reads colᵀ from x as it stages B (as the forward does); in passes
      // each pass's groups go through col, as x cannot be bound at an arbitrary image.
      if (!whole) ds.push(im2colDispatch(engine, g, x, scratch.col!, chunk, s * chunk, count * chunk));
      // The GEMM's A: dy regrouped, or with one image per group dy itself ([N, O, OH·OW]), at the pass's images.
      const a = chunk > 1 ? scratch.dyGroups! : whole ? dy : range(dy, s * g.o * pixels * 4, count * g.o * pixels * 4);
      if (chunk > 1) {
        const total = count * g.o * chunk * pixels;
        ds.push({
          kernel: conv2dKernels.dyGroups,
          constants: { WG },
          buffers: [dy, a],
          params: new Params().u32(total, g.o, chunk, pixels, g.n, s * chunk).buffer(),
          workgroups: grid1d(engine, total, WG),
        });
      }
      const out = groups === 1 ? dw : whole ? scratch.part! : range(scratch.part!, s * g.o * ncols * 4, count * g.o * ncols * 4);
      const gg = { batch: count, m: g.o, n: ncols, k: chunk * pixels, transA: false, transB: true, broadcastB: false };
      ds.push(gemmDispatch(engine, gg, a, whole ? x : scratch.col!, out, whole ? { im2colB: { ...g, chunk } } : {}));
    }
    if (groups > 1) ds.push(sumAxisDispatch(engine, scratch.part!, dw, 1, groups, g.o * ncols));
    return ds;
  }
  const { WG_X, WG_Y } = engine.tuning.conv;
  const splits = conv2dBwdFilterSplits(engine, g);
  const ncols = g.cg * g.kh * g.kw;
  const nPerSplit = ceilDiv(g.n, splits);
  const hp = paddedH(g);
  const wp = paddedW(g);
  const ds: Dispatch[] = [];
  const xp = isPadded(g) ? scratch.xpad! : x;
  if (isPadded(g)) ds.push(padDispatch(engine, g.n * g.c, g.h, g.w, hp, wp, g.padTop, g.padLeft, 1, 1, x, xp));
  const out = splits > 1 ? scratch.part! : dw;
  const params = fwdParams({ ...g, hp, wp }).u32(splits, nPerSplit).buffer();
  const sg = filterSubgroupTile(engine, g);
  const cc = filterChannelCols(engine, g);
  if (cc && scratch.dypack) {
    const ohw = g.oh * g.ow;
    ds.push(
      // dy [N, O, OH·OW] → per image and group, pixel-major panels of P channels
      gemmPackDispatch(engine, dy, scratch.dypack, { rows: g.og, k: ohw, p: cc.P, rowStride: ohw, kStride: 1, batchIn: g.og * ohw, batches: g.n * g.groups }),
      {
        kernel: conv2dKernels.bwdFilterChannelCols,
        constants: { SG: cc.SG, R: cc.R, TN: cc.TN },
        buffers: [xp, scratch.dypack, out],
        params: fwdParams({ ...g, hp, wp }).u32(splits, nPerSplit, g.groups, cc.panels).buffer(),
        workgroups: [ceilDiv(cc.ntaps, cc.SG * cc.R), cc.panels, g.groups * splits],
      },
    );
  } else if (sg) {
    ds.push({
      kernel: conv2dKernels.bwdFilterSubgroup,
      constants: { ...sg },
      buffers: [xp, dy, out],
      params,
      workgroups: [ceilDiv(ncols, sg.SG * sg.TN), ceilDiv(g.og, sg.SG * sg.R), g.groups * splits],
    });
  } else ds.push({
    kernel: conv2dKernels.bwdFilter,
    constants: { WG_X, WG_Y },
    buffers: [xp, dy, out],
    params,
    workgroups: [ceilDiv(ncols, REG_TILE * WG_X), ceilDiv(g.og, REG_TILE * WG_Y), g.groups * splits],
  });
  if (splits > 1) ds.push(sumAxisDispatch(engine, out, dw, 1, splits, g.o * ncols));
  return ds;
}

/**
 * Bias-gradient scratch: on row-wise adapters (the CPU emulators) one partial sum per (n, c)
 * plane, which conv2dBwdBiasDispatches then adds over n.
 */
export function conv2dBwdBiasScratch(engine: Engine, n: number, c: number): Record<string, number> {
  return engine.tuning.rowwise && n > 1 ? { biasPart: n * c } : {};
}

/**
 * db[c] = Σ_{n, s} dy[n, c, s] over an [N, C, S] view. Row-wise adapters: each invocation sums
 * one plane (conv2d.bwd_bias.planes.wgsl), then sum.wgsl adds the N partials; GPUs: one
 * workgroup per channel with a tree reduction (conv2d.bwd_bias.wgsl), whose loads coalesce.
 */
export function conv2dBwdBiasDispatches(engine: Engine, n: number, c: number, s: number, dy: Binding, db: Binding, scratch: Record<string, Binding>): Dispatch[] {
  if (!engine.tuning.rowwise) {
    const WG = engine.tuning.reduce;
    return [{ kernel: conv2dKernels.bwdBias, constants: { WG }, buffers: [dy, db], params: new Params().u32(n, c, s).buffer(), workgroups: grid1d(engine, c, 1) }];
  }
  const WG = engine.tuning.pointwise;
  const VEC = s % 4 === 0 && vec4Aligned(dy);
  const part = n > 1 ? scratch.biasPart! : db;
  const ds: Dispatch[] = [
    {
      kernel: conv2dKernels.bwdBiasPlanes,
      constants: { WG, VEC },
      buffers: [dy, part, VEC ? dy : engine.dummy],
      params: new Params().u32(n * c, s).buffer(),
      workgroups: grid1d(engine, n * c, WG),
    },
  ];
  if (n > 1) ds.push(sumAxisDispatch(engine, part, db, 1, n, c));
  return ds;
}

export async function conv2d(engine: Engine, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Promise<Tensor> {
  const op = 'conv2d';
  const g = conv2dGeom(x.shape, w.shape, opts, op);
  sameEngine(op, engine, x, w, ...(opts.bias ? [opts.bias] : []));
  if (opts.bias) expectShape(op, 'bias', opts.bias, [g.o]);
  const y = engine.empty(conv2dOutShape(g), op);
  await runWithScratch(engine, op, [y], conv2dScratch(engine, g, 'fwd'), (scratch) =>
    conv2dFwdDispatches(engine, g, x.buffer, w.buffer, y.buffer, scratch, { bias: opts.bias?.buffer, relu: opts.relu }),
  );
  return y;
}

export async function conv2dBackwardInput(engine: Engine, dy: Tensor, w: Tensor, xShape: Shape, attrs: Conv2dAttrs = {}): Promise<Tensor> {
  const op = 'conv2dBackwardInput';
  const g = conv2dGeom(xShape, w.shape, attrs, op);
  sameEngine(op, engine, dy, w);
  expectShape(op, 'dy', dy, conv2dOutShape(g));
  const dx = engine.empty(xShape, op);
  await runWithScratch(engine, op, [dx], conv2dScratch(engine, g, 'bwdInput'), (scratch) => conv2dBwdInputDispatches(engine, g, dy.buffer, w.buffer, dx.buffer, scratch));
  return dx;
}

export async function conv2dBackwardFilter(engine: Engine, x: Tensor, dy: Tensor, wShape: Shape, attrs: Conv2dAttrs = {}): Promise<Tensor> {
  const op = 'conv2dBackwardFilter';
  const g = conv2dGeom(x.shape, wShape, attrs, op);
  sameEngine(op, engine, x, dy);
  expectShape(op, 'dy', dy, conv2dOutShape(g));
  const dw = engine.empty(wShape, op);
  await runWithScratch(engine, op, [dw], conv2dScratch(engine, g, 'bwdFilter'), (scratch) => conv2dBwdFilterDispatches(engine, g, x.buffer, dy.buffer, dw.buffer, scratch));
  return dw;
}

export async function conv2dBackwardBias(engine: Engine, dy: Tensor): Promise<Tensor> {
  const op = 'conv2dBackwardBias';
  checkRank(op, 'dy', dy.shape, 4, 'NCHW');
  sameEngine(op, engine, dy);
  const [n, c, h, w] = dy.shape as [number, number, number, number];
  const db = engine.empty([c], op);
  await runWithScratch(engine, op, [db], conv2dBwdBiasScratch(engine, n, c), (scratch) => conv2dBwdBiasDispatches(engine, n, c, h * w, dy.buffer, db.buffer, scratch));
  return db;
}
