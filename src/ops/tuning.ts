// Workgroup sizes per kernel family, chosen per adapter. CPU emulators (SwiftShader,
// lavapipe) run one invocation at a time per thread and gain nothing from large
// workgroups; GPUs want 64–256 invocations to hide latency. The values feed WGSL
// `override` constants. The CPU defaults won on both SwiftShader and lavapipe in
// ops/autotune.ts's timings; Engine.create({ autotune: true }) tunes for the adapter at hand.

import { AttributeError } from '../errors.js';

export interface Tuning {
  /**
   * GEMM variant: subgroup broadcasts (CPU emulators with a fixed subgroup size of 4 or 8),
   * register tiles only (other CPU emulators), or workgroup-memory staging (GPUs).
   */
  gemm: 'subgroup' | 'registers' | 'shared';
  /** Subgroup size the 'subgroup' kernels are compiled for; it must be the adapter's fixed size. */
  subgroupSize: number;
  /** 'subgroup' GEMM: row blocks per lane (rows per workgroup = subgroupSize · sgRows ≤ 16) and columns per lane. */
  sgRows: number;
  sgCols: 4 | 8;
  /**
   * 'subgroup' GEMM: which operands to pack into panels first (gemm.pack.wgsl; gemm.ts
   * packedTile): 'auto' by the rule there, or always A, B or both, or never.
   */
  gemmPack: 'auto' | 'never' | 'a' | 'b' | 'both';
  /** K step of the workgroup-memory GEMM (halved where the adapter's workgroup storage is too small). */
  gemmTileK: number;
  /**
   * Register tile edge of the workgroup-memory GEMM: 8 (8×8 per invocation, 128×128 blocks with
   * 16×16 workgroups) where the grid keeps at least `sharedMinGroups` workgroups, else 4. On an
   * H100 (bench/gemm-sweep.ts, clocks varying ±30% between runs) 8×8 ran 4096³ at 25–30
   * TFLOP/s against 13–26 for 4×4, and 2048³ at 29 against 24; at 1024³ (64 blocks of 128²,
   * fewer than its 132 SMs) 4×4 ran 1.6–1.7× faster. 32×8 or 16×8 workgroups reached 33 TFLOP/s
   * (49% of peak) at 4096³ in one run. On an H200 16×16 at K step 16 was the best of the sweep
   * at 2048³ and 4096³ (50.2% and 51.6% of peak, the same in two runs), so it is the default.
   */
  sharedTile: 4 | 8;
  /**
   * Workgroup-memory GEMM with edge-8 tiles: an edge of 4 on an axis whose rows (columns) fit
   * half a block (M ≤ 4·WG_Y: a conv's 32 or 64 channels, a first layer's 25 taps). The grid
   * is the same and none of its blocks half idle: half the multiplies, half the staging, and
   * a block that now lies inside the operand fetches unchecked. On an H200 the five bench conv
   * passes it changes ran ×1.41–1.85 (scripts/gpu-machine/convtile.ts, two runs). Off only to compare.
   */
  sharedTrim: boolean;
  /**
   * Workgroup-memory GEMM: edge-4 tiles wherever K ≤ this (0: never). A short reduction (a conv
   * input gradient's K is the output channels) gives each 8×8 tile too little work to cover its
   * staging and its 64 accumulators; on an H200 4×4 tiles ran the bench's three input gradients
   * ×1.1–1.2 (K = 32, 64, 64; scripts/gpu-machine/convtile.ts, two runs).
   */
  sharedShortK: number;
  /**
   * Workgroup-memory GEMM: full slices fetched as vec4s where the operands' rows allow (gemm.ts
   * sharedVec4), and 2 staging buffers (one barrier per K step instead of two, twice the
   * storage). Both are off by default: on an H200 neither helped (bench/gemm-sweep.ts: at best
   * 44% of the fp32 peak with vec4 fetches, 47.7% with two buffers, against 51.6% without);
   * autotune still tries them on other GPUs.
   */
  gemmVec4: boolean;
  gemmStages: 1 | 2;
  sharedMinGroups: number;
  /** Rows per invocation of the register-tiled GEMM: 4, or 8 where the compiler keeps 8 vec4 accumulators in registers. */
  gemmRows: 4 | 8;
  /** Output pixels per invocation of the conv2d forward (and input-gradient) kernel: 4 or 8. */
  convPixels: 4 | 8;
  /** gemm / conv2d register-tiled kernels: workgroup of x × y invocations. */
  tiled: { WG_X: number; WG_Y: number };
  /** conv2d kernels use pixels along x and channels along y. */
  conv: { WG_X: number; WG_Y: number };
  /** One-invocation-per-element kernels. */
  pointwise: number;
  /** Workgroup-reduction kernels (power of two). */
  reduce: number;
  /**
   * Copy-like kernels (conv2d.pad) take one row per invocation instead of one element: CPU
   * emulators pay each invocation's index arithmetic lane by lane; GPUs want coalesced stores.
   */
  rowwise: boolean;
  /**
   * conv2d input gradient at stride 1 by conv2d.bwd_input.subgroup.wgsl (conv2dBwdInputRoute)
   * where its tiles fill and the forward route would multiply at least this many times the
   * real work (padding's zeros); null: never. SwiftShader 1 (it beat the forward route even on
   * a 3×3 "same" convolution, ×1.19); lavapipe 1.1 (there ×0.81 on that one, ×1.23 on a 5×5
   * "same", and ×2.55 over GEMM + col2im on a 5×5 valid).
   */
  convBwdInputDirect: number | null;
  /**
   * conv2d.col2im.wgsl loops over only the taps whose dy index can lie inside dy, instead of
   * all KH·KW under a mask (CLIP). SwiftShader does not unroll loops and pays masked
   * iterations in full: paired rounds, col2im alone ×1.4–1.5 on 5×5 kernels, ×1.3 at stride
   * 2, ×1.05 on a 3×3 "same"; the whole input gradient (GEMM + col2im) ×1.05 on
   * 4×32×14×14→64 5×5, ×1.20–1.24 on stride-2 3×3 and 5×5. lavapipe unrolls the constant
   * bounds: col2im clipped ran ×0.7–1.0 there.
   */
  col2imClip: boolean;
  /** conv2d forward and filter gradient by im2col and the workgroup-memory GEMM (GPUs; conv2d.ts useIm2col). */
  convIm2col: boolean;
  /**
   * conv2d forward and filter gradient on the subgroup path with the output channels as
   * columns (conv2d.{fwd,bwd_filter}.channel_cols.wgsl; conv2d.ts channelColTile): 'auto' where the channels fill at
   * least 3/4 of the column panels, 'always' (tests), or 'never'. On lavapipe paired rounds ran
   * 64×14×14×32→64 5×5 valid ×1.30–1.38, 'same' ×1.04–1.48, 32×32×32×64→64 3×3 ×1.0–1.28; 32 output
   * channels in 64-wide panels ×0.66–0.83. SwiftShader (4-lane subgroups): ×1.01–1.14, and
   * 32 channels ×0.78, so it keeps pixel columns there.
   */
  convChannelCols: 'auto' | 'always' | 'never';
}

/**
 * Rows of the subgroup kernels' register tile (shaders/common/subgroup_tile.wgsl declares them one
 * by one, c0_* to c15_*): a workgroup covers SG·R ≤ this many rows. Kept equal to the WGSL by a
 * test in tests/ops.test.ts.
 */
export const SUBGROUP_TILE_ROWS = 16;

/**
 * The subgroup kernels hold 16 rows per lane group and are written for a fixed subgroup size of
 * 4 (SwiftShader) or 8 (lavapipe). Other sizes (GPUs' 32 or 64) take the other kernels, whatever
 * the tuning asks for.
 */
export const subgroupKernelsFit = (subgroupSize: number): boolean => subgroupSize === 4 || subgroupSize === 8;

/**
 * swiftshader: 8 GEMM rows or conv pixels per invocation measured 1.3–1.6× faster than 4;
 * lavapipe: level or slower. Where the adapter has a fixed subgroup size of 4 or 8 (lavapipe
 * 8, SwiftShader 4), the subgroup GEMM with 16 rows × 8 columns per lane measured 2× (SwiftShader)
 * to 8× (lavapipe) faster than the register-tiled one at 512³–1024³. GPUs: K step 16 over 8 on
 * an H200, one sweep: 8×8 tiles 2048³ / 4096³ ×1.04, 4×4 tiles 1024³ ×1.09 (bench/README.md).
 */
export function defaultTuning(isCpuAdapter: boolean, architecture = '', subgroupSize = 0): Tuning {
  const swiftshader = /swiftshader/i.test(architecture);
  const rows = swiftshader ? 8 : 4;
  const sg = subgroupKernelsFit(subgroupSize) ? subgroupSize : 0;
  return isCpuAdapter
    ? { gemm: sg ? 'subgroup' : 'registers', subgroupSize: sg, sgRows: sg ? SUBGROUP_TILE_ROWS / sg : 0, sgCols: 8, gemmPack: sg && !swiftshader ? 'auto' : 'never', gemmTileK: 16, sharedTile: 4, sharedTrim: true, sharedShortK: 64, gemmVec4: false, gemmStages: 1, sharedMinGroups: 0, gemmRows: rows, convPixels: rows, tiled: { WG_X: 16, WG_Y: 4 }, conv: { WG_X: 32, WG_Y: 2 }, pointwise: 64, reduce: 64, rowwise: true, convBwdInputDirect: sg ? (swiftshader ? 1 : 1.1) : null, col2imClip: swiftshader, convIm2col: false, convChannelCols: sg === 8 ? 'auto' : 'never' }
    : { gemm: 'shared', subgroupSize: 0, sgRows: 0, sgCols: 8, gemmPack: 'never', gemmTileK: 16, sharedTile: 8, sharedTrim: true, sharedShortK: 64, gemmVec4: false, gemmStages: 1, sharedMinGroups: 128, gemmRows: 4, convPixels: 4, tiled: { WG_X: 16, WG_Y: 16 }, conv: { WG_X: 32, WG_Y: 4 }, pointwise: 256, reduce: 256, rowwise: false, convBwdInputDirect: null, col2imClip: false, convIm2col: true, convChannelCols: 'never' };
}

/** The kernels a tuning selects and their tiling, in a line (the CLI's and the bench's --autotune report). */
export function describeTuning(t: Tuning): string {
  const wg = (s: { WG_X: number; WG_Y: number }): string => `${s.WG_X}×${s.WG_Y}`;
  if (t.gemm === 'subgroup') return `subgroup kernels (GEMM and convolutions), ${t.sgCols} columns per lane`;
  const gemm =
    t.gemm === 'shared'
      ? `workgroup-memory GEMM on ${wg(t.tiled)}, K step ${t.gemmTileK}, ${t.gemmVec4 ? 'vec4' : 'scalar'} fetches, ${t.gemmStages} staging buffer${t.gemmStages > 1 ? 's' : ''}`
      : `register-tiled GEMM on ${wg(t.tiled)}, ${t.gemmRows} rows per invocation`;
  return `${gemm}; conv workgroups ${wg(t.conv)}`;
}

/** What each field takes: a list of values, or a test and what it says. */
const FIELD_RULES: { [K in keyof Tuning]: readonly unknown[] | [(v: unknown) => boolean, string] } = {
  gemm: ['subgroup', 'registers', 'shared'],
  subgroupSize: [() => true, ''], // the adapter's, whatever is asked
  sgRows: [(v) => Number.isInteger(v) && (v as number) >= 0, 'an integer ≥ 0'], // clamped to what the subgroup size allows
  sgCols: [4, 8],
  gemmPack: ['auto', 'never', 'a', 'b', 'both'],
  gemmTileK: [4, 8, 16, 32, 64],
  sharedTile: [4, 8],
  sharedTrim: [true, false],
  sharedShortK: [(v) => Number.isInteger(v) && (v as number) >= 0, 'an integer ≥ 0'],
  gemmVec4: [true, false],
  gemmStages: [1, 2],
  sharedMinGroups: [(v) => Number.isInteger(v) && (v as number) >= 0, 'an integer ≥ 0'],
  gemmRows: [4, 8],
  convPixels: [4, 8],
  tiled: [(v) => isWorkgroup(v), '{ WG_X, WG_Y } of positive integers'],
  conv: [(v) => isWorkgroup(v), '{ WG_X, WG_Y } of positive integers'],
  pointwise: [(v) => Number.isInteger(v) && (v as number) >= 1, 'a positive integer'],
  reduce: [(v) => Number.isInteger(v) && (v as number) >= 1 && ((v as number) & ((v as number) - 1)) === 0, 'a power of two'],
  rowwise: [true, false],
  convBwdInputDirect: [(v) => v === null || (typeof v === 'number' && v >= 0 && Number.isFinite(v)), 'null or a number ≥ 0'],
  col2imClip: [true, false],
  convIm2col: [true, false],
  convChannelCols: ['auto', 'always', 'never'],
};

function isWorkgroup(v: unknown): boolean {
  const w = v as { WG_X?: unknown; WG_Y?: unknown } | null;
  return !!w && Number.isInteger(w.WG_X) && Number.isInteger(w.WG_Y) && (w.WG_X as number) >= 1 && (w.WG_Y as number) >= 1;
}

/**
 * Refuses a tuning (EngineOptions.tuning, the bench's --tuning) that names no field of Tuning,
 * gives one a value its kernels cannot take, or asks for workgroups over the device's limit.
 */
export function checkTuning(t: Partial<Tuning>, maxInvocations: number, op = 'Engine'): void {
  for (const [k, v] of Object.entries(t)) {
    const rule = FIELD_RULES[k as keyof Tuning];
    if (!rule) throw new AttributeError(`${op}: tuning has no field "${k}"; its fields are ${Object.keys(FIELD_RULES).join(', ')} (src/ops/tuning.ts).`);
    const ok = typeof rule[0] === 'function' ? (rule[0] as (v: unknown) => boolean)(v) : (rule as readonly unknown[]).includes(v);
    if (!ok) {
      const want = typeof rule[0] === 'function' ? (rule[1] as string) : `one of ${(rule as readonly unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
      throw new AttributeError(`${op}: tuning.${k} must be ${want}, got ${JSON.stringify(v)}.`);
    }
    const wg = k === 'tiled' || k === 'conv' ? (v as { WG_X: number; WG_Y: number }) : null;
    const n = wg ? wg.WG_X * wg.WG_Y : k === 'pointwise' || k === 'reduce' ? (v as number) : 0;
    if (n > maxInvocations) throw new AttributeError(`${op}: tuning.${k} asks for ${n} invocations per workgroup, over this device's limit of ${maxInvocations}.`);
  }
}
