// GEMM for GPUs: C[b] = op(A[b]) · op(B[b]) (+ bias[col], or bias[row]) (then ReLU), f32, row-major.
// Tiling: a workgroup of WG_X × WG_Y invocations computes a BM × BN block of C
// (BM = TM·WG_Y, BN = TN·WG_X), each invocation a TM × TN register tile (TM, TN ∈ {4, 8})
// held as vec4 rows. K is walked in steps of TILE_K: the workgroup stages the A and B slices
// in workgroup memory as [k][row] and [k][col] (A transposed), so the inner loop reads vec4s.
// An invocation's rows (columns) come in groups of 4 strided by 4·WG_Y (4·WG_X): neighbouring
// lanes read neighbouring vec4s, without bank conflicts. Staged rows are padded by one vec4,
// so the transposing stores do not conflict either. The next slice is fetched into registers
// while the current one is multiplied, hiding global-memory latency behind the FMAs; slices
// wholly inside A and B are fetched without bounds checks, as vec4s where the operand's rows
// are a multiple of 4 floats long (VEC_A / VEC_B: a4 and b4 view the same buffers). With
// STAGES = 2 the slices alternate between two buffers: one barrier per K step instead of two.
// Out-of-range elements are staged as 0, so any M, N, K work. Chosen on GPUs; the CPU
// emulators, where barriers are slow, use gemm.wgsl or gemm.subgroup.wgsl (ops/tuning.ts).
// With IM2COL_B, B is a batch of images x[C][H][W], and op(B)[(c, kh, kw)][(oh, ow)] is read
// as the im2col matrix would hold it, straight from x: conv2d's GPU forward, W · im2col(x) per
// image, and with TRANS_B its filter gradient, dy · colᵀ per group of images, keep no col in
// memory. The geometry is override constants, so the divisions that split k and the column
// are by constants.

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override TILE_K: u32 = 8;
override TM: u32 = 8;
override TN: u32 = 8;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override BIAS_ROWS: bool = false; // bias[row] instead of bias[col] (conv2d's channels are rows)
override RELU: bool = false;
// Full slices fetched as vec4s along the operand's rows (ops/gemm.ts sets them where rows and
// batches are multiples of 4 floats, and TILE_K is, where the rows run along K).
override VEC_A: bool = false;
override VEC_B: bool = false;
override STAGES: u32 = 2; // workgroup-memory buffers: 1 or 2
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being a batch of FOLD_Z (ops/dispatch.ts foldX)
// IM2COL_B: B is im2col(x) of an image's H × W planes, for a KH × KW window (stride S, dilation
// D, padding PAD_T/PAD_L) and OH × OW outputs. Its batch stride (Params.strideB) is C·H·W, or
// with TRANS_B (the filter gradient's colᵀ, K over a group of images' pixels) a group's C·H·W·
// images; X_FLOATS bounds x, so a group's images past the last one read zeros instead of past
// x's end (their regrouped dy is zero, so only the read's bounds are at stake).
override IM2COL_B: bool = false;
override X_FLOATS: u32 = 0u;
override C: u32 = 1u;
override OH: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override KH: u32 = 1u;
override KW: u32 = 1u;
override OW: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override PAD_T: i32 = 0;
override PAD_L: i32 = 0;

// Staged elements per invocation, ceil(BM·TILE_K / threads) and ceil(BN·TILE_K / threads), and
// vec4s where fetched so; ops/gemm.ts keeps the elements ≤ MAX_LOADS.
override LOADS_A: u32 = (TILE_K * TM * WG_Y + WG_X * WG_Y - 1u) / (WG_X * WG_Y);
override LOADS_B: u32 = (TILE_K * TN * WG_X + WG_X * WG_Y - 1u) / (WG_X * WG_Y);
override LOADS4_A: u32 = (TILE_K * TM * WG_Y / 4u + WG_X * WG_Y - 1u) / (WG_X * WG_Y);
override LOADS4_B: u32 = (TILE_K * TN * WG_X / 4u + WG_X * WG_Y - 1u) / (WG_X * WG_Y);
const MAX_LOADS = 16u;
override KQ: u32 = max(TILE_K / 4u, 1u); // vec4s per staged row along K (VEC_* need TILE_K % 4 = 0)

struct Params {
  m: u32,
  n: u32,
  k: u32,
  strideA: u32, // elements between batches of A (0: shared)
  strideB: u32, // 0 when B is shared by the whole batch
  strideC: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> a4: array<vec4<f32>>; // a again where VEC_A, else a dummy
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: Params;

// STAGES × [TILE_K][BM/4 + 1] and [TILE_K][BN/4 + 1] vec4s: one vec4 of padding per k.
var<workgroup> As: array<vec4<f32>, STAGES * TILE_K * (TM * WG_Y / 4u + 1u)>;
var<workgroup> Bs: array<vec4<f32>, STAGES * TILE_K * (TN * WG_X / 4u + 1u)>;

var<private> ra: array<f32, MAX_LOADS>;
var<private> rb: array<f32, MAX_LOADS>;
var<private> ra4: array<vec4<f32>, MAX_LOADS / 4u>;
var<private> rb4: array<vec4<f32>, MAX_LOADS / 4u>;

// Element e of a staged slice as (k, row): k fastest where A is row-major (coalesced reads along K).
fn aCoord(e: u32) -> vec2<u32> {
  if (TRANS_A) { return vec2<u32>(e / (TM * WG_Y), e % (TM * WG_Y)); }
  return vec2<u32>(e % TILE_K, e / TILE_K);
}

fn bCoord(e: u32) -> vec2<u32> {
  if (TRANS_B) { return vec2<u32>(e % TILE_K, e / TILE_K); }
  return vec2<u32>(e / (TN * WG_X), e % (TN * WG_X));
}

// vec4 q of a staged slice as (k, row) of its first element; the vec4 runs along the operand's rows.
fn aCoord4(q: u32) -> vec2<u32> {
  if (TRANS_A) { return vec2<u32>(q / (TM * WG_Y / 4u), q % (TM * WG_Y / 4u) * 4u); }
  return vec2<u32>(q % KQ * 4u, q / KQ);
}

fn bCoord4(q: u32) -> vec2<u32> {
  if (TRANS_B) { return vec2<u32>(q % KQ * 4u, q / KQ); }
  return vec2<u32>(q / (TN * WG_X / 4u), q % (TN * WG_X / 4u) * 4u);
}

// Offsets of op(A)[row][kk] and op(B)[kk][col] in their buffers.
fn aAt(baseA: u32, kk: u32, row: u32) -> u32 { return select(baseA + row * p.k + kk, baseA + kk * p.m + row, TRANS_A); }
fn bAt(baseB: u32, kk: u32, col: u32) -> u32 { return select(baseB + kk * p.n + col, baseB + col * p.k + kk, TRANS_B); }

// op(B)[kk][col] of batch baseB: B's element, or with IM2COL_B the pixel under tap (c, kh, kw)
// of output pixel (oh, ow) (0 in the padding): the tap is kk and the pixel col, or with TRANS_B
// the tap is col and kk runs over (image of the group, oh, ow).
fn bAtOrPixel(baseB: u32, kk: u32, col: u32) -> f32 {
  if (!IM2COL_B) { return b[bAt(baseB, kk, col)]; }
  let tapIndex = select(kk, col, TRANS_B);
  var pixel = select(col, kk, TRANS_B);
  var image = baseB;
  if (TRANS_B) {
    image += (pixel / (OH * OW)) * C * H * W;
    pixel %= OH * OW;
    if (image >= X_FLOATS) { return 0.0; }
  }
  let tap = tapIndex % (KH * KW);
  let i = i32((pixel / OW) * SH + (tap / KW) * DH) - PAD_T;
  let j = i32((pixel % OW) * SW + (tap % KW) * DW) - PAD_L;
  if (i < 0 || j < 0 || u32(i) >= H || u32(j) >= W) { return 0.0; }
  return b[image + ((tapIndex / (KH * KW)) * H + u32(i)) * W + u32(j)];
}

// Global slice at k0 → registers. `full`: the slice lies inside A and B (no bounds checks).
fn fetch(li: u32, k0: u32, row0: u32, col0: u32, baseA: u32, baseB: u32, full: bool) {
  let threads = WG_X * WG_Y;
  let ragged = (TILE_K * TM * WG_Y) % threads != 0u || (TILE_K * TN * WG_X) % threads != 0u;
  if (full) {
    if (VEC_A) {
      for (var t = 0u; t < LOADS4_A; t++) {
        let q = li + t * threads;
        if (q >= TILE_K * TM * WG_Y / 4u) { break; }
        let kr = aCoord4(q);
        ra4[t] = a4[aAt(baseA, k0 + kr.x, row0 + kr.y) / 4u];
      }
    } else {
      for (var t = 0u; t < LOADS_A; t++) {
        let e = li + t * threads;
        if (ragged && e >= TILE_K * TM * WG_Y) { break; }
        let kr = aCoord(e);
        ra[t] = a[aAt(baseA, k0 + kr.x, row0 + kr.y)];
      }
    }
    if (VEC_B) {
      for (var t = 0u; t < LOADS4_B; t++) {
        let q = li + t * threads;
        if (q >= TILE_K * TN * WG_X / 4u) { break; }
        let kc = bCoord4(q);
        rb4[t] = b4[bAt(baseB, k0 + kc.x, col0 + kc.y) / 4u];
      }
    } else {
      for (var t = 0u; t < LOADS_B; t++) {
        let e = li + t * threads;
        if (ragged && e >= TILE_K * TN * WG_X) { break; }
        let kc = bCoord(e);
        rb[t] = bAtOrPixel(baseB, k0 + kc.x, col0 + kc.y);
      }
    }
    return;
  }
  for (var t = 0u; t < LOADS_A; t++) {
    let e = li + t * threads;
    if (e >= TILE_K * TM * WG_Y) { break; }
    let kr = aCoord(e);
    let kk = k0 + kr.x;
    let row = row0 + kr.y;
    var v = 0.0;
    if (row < p.m && kk < p.k) {
      v = a[aAt(baseA, kk, row)];
    }
    ra[t] = v;
  }
  for (var t = 0u; t < LOADS_B; t++) {
    let e = li + t * threads;
    if (e >= TILE_K * TN * WG_X) { break; }
    let kc = bCoord(e);
    let kk = k0 + kc.x;
    let col = col0 + kc.y;
    var v = 0.0;
    if (col < p.n && kk < p.k) {
      v = bAtOrPixel(baseB, kk, col);
    }
    rb[t] = v;
  }
}

// Registers → workgroup buffer `s`. `vec`: the slice was fetched as vec4s (a full slice with VEC_A / VEC_B).
fn stage(li: u32, s: u32, vec: bool) {
  let threads = WG_X * WG_Y;
  let sa = TM * WG_Y / 4u + 1u;
  let sb = TN * WG_X / 4u + 1u;
  let offA = s * TILE_K * sa;
  let offB = s * TILE_K * sb;
  if (vec && VEC_A) {
    for (var t = 0u; t < LOADS4_A; t++) {
      let q = li + t * threads;
      if (q >= TILE_K * TM * WG_Y / 4u) { break; }
      let kr = aCoord4(q);
      if (TRANS_A) {
        As[offA + kr.x * sa + kr.y / 4u] = ra4[t];
      } else { // 4 k of one row: a column of the staged [k][row] slice
        let v = ra4[t];
        let at = offA + kr.x * sa + kr.y / 4u;
        As[at][kr.y % 4u] = v.x; As[at + sa][kr.y % 4u] = v.y; As[at + 2u * sa][kr.y % 4u] = v.z; As[at + 3u * sa][kr.y % 4u] = v.w;
      }
    }
  } else {
    for (var t = 0u; t < LOADS_A; t++) {
      let e = li + t * threads;
      if (e >= TILE_K * TM * WG_Y) { break; }
      let kr = aCoord(e);
      As[offA + kr.x * sa + kr.y / 4u][kr.y % 4u] = ra[t];
    }
  }
  if (vec && VEC_B) {
    for (var t = 0u; t < LOADS4_B; t++) {
      let q = li + t * threads;
      if (q >= TILE_K * TN * WG_X / 4u) { break; }
      let kc = bCoord4(q);
      if (TRANS_B) {
        let v = rb4[t];
        let at = offB + kc.x * sb + kc.y / 4u;
        Bs[at][kc.y % 4u] = v.x; Bs[at + sb][kc.y % 4u] = v.y; Bs[at + 2u * sb][kc.y % 4u] = v.z; Bs[at + 3u * sb][kc.y % 4u] = v.w;
      } else {
        Bs[offB + kc.x * sb + kc.y / 4u] = rb4[t];
      }
    }
  } else {
    for (var t = 0u; t < LOADS_B; t++) {
      let e = li + t * threads;
      if (e >= TILE_K * TN * WG_X) { break; }
      let kc = bCoord(e);
      Bs[offB + kc.x * sb + kc.y / 4u][kc.y % 4u] = rb[t];
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let nz = max(FOLD_Z, 1u);
  let bz = select(wid.z, wid.z % nz, FOLD_Z > 0u);
  let bx = select(wid.x, wid.x + (wid.z / nz) * nwg.x, FOLD_Z > 0u);
  if (FOLD_Z > 0u && bx * TN * WG_X >= p.n) { return; } // past the end of a folded grid: the whole workgroup
  let row0 = wid.y * TM * WG_Y;
  let col0 = bx * TN * WG_X;
  let baseA = bz * p.strideA;
  let baseB = bz * p.strideB;
  let sa = TM * WG_Y / 4u + 1u;
  let sb = TN * WG_X / 4u + 1u;

  // acc[g·8 + r]: row r of the tile, column group g. Every index below is a constant, so
  // acc stays in registers even where bounds checks are on (WebGPU's robustness): a dynamic
  // index anywhere, clamped, puts the whole array in local memory (4× slower on an H100).
  var acc: array<vec4<f32>, 16>;
  let inside = row0 + TM * WG_Y <= p.m && col0 + TN * WG_X <= p.n;
  var full = inside && TILE_K <= p.k;
  fetch(li, 0u, row0, col0, baseA, baseB, full);
  stage(li, 0u, full);
  workgroupBarrier();
  var s = 0u; // the buffer holding this step's slices
  for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
    let more = k0 + TILE_K < p.k;
    if (more) {
      full = inside && k0 + 2u * TILE_K <= p.k;
      fetch(li, k0 + TILE_K, row0, col0, baseA, baseB, full);
    }
    let oa = s * TILE_K * sa;
    let ob = s * TILE_K * sb;
    for (var kk = 0u; kk < TILE_K; kk++) {
      let a0 = As[oa + kk * sa + lid.y];
      let b0 = Bs[ob + kk * sb + lid.x];
      acc[0] += a0.x * b0; acc[1] += a0.y * b0; acc[2] += a0.z * b0; acc[3] += a0.w * b0;
      if (TM == 8u) {
        let a1 = As[oa + kk * sa + WG_Y + lid.y];
        acc[4] += a1.x * b0; acc[5] += a1.y * b0; acc[6] += a1.z * b0; acc[7] += a1.w * b0;
        if (TN == 8u) {
          let b1 = Bs[ob + kk * sb + WG_X + lid.x];
          acc[8] += a0.x * b1; acc[9] += a0.y * b1; acc[10] += a0.z * b1; acc[11] += a0.w * b1;
          acc[12] += a1.x * b1; acc[13] += a1.y * b1; acc[14] += a1.z * b1; acc[15] += a1.w * b1;
        }
      } else if (TN == 8u) {
        let b1 = Bs[ob + kk * sb + WG_X + lid.x];
        acc[8] += a0.x * b1; acc[9] += a0.y * b1; acc[10] += a0.z * b1; acc[11] += a0.w * b1;
      }
    }
    if (STAGES == 2u) {
      // The other buffer was last read in the step before, which the previous barrier closed.
      if (more) { stage(li, 1u - s, full); }
      workgroupBarrier();
      s = 1u - s;
    } else {
      workgroupBarrier();
      if (more) {
        stage(li, 0u, full);
        workgroupBarrier();
      }
    }
  }

  let r0 = row0 + lid.y * 4u;
  let c0 = col0 + lid.x * 4u;
  let c1 = c0 + 4u * WG_X;
  let r1 = r0 + 4u * WG_Y;
  put(bz, r0, c0, acc[0]); put(bz, r0 + 1u, c0, acc[1]); put(bz, r0 + 2u, c0, acc[2]); put(bz, r0 + 3u, c0, acc[3]);
  if (TM == 8u) {
    put(bz, r1, c0, acc[4]); put(bz, r1 + 1u, c0, acc[5]); put(bz, r1 + 2u, c0, acc[6]); put(bz, r1 + 3u, c0, acc[7]);
  }
  if (TN == 8u) {
    put(bz, r0, c1, acc[8]); put(bz, r0 + 1u, c1, acc[9]); put(bz, r0 + 2u, c1, acc[10]); put(bz, r0 + 3u, c1, acc[11]);
    if (TM == 8u) {
      put(bz, r1, c1, acc[12]); put(bz, r1 + 1u, c1, acc[13]); put(bz, r1 + 2u, c1, acc[14]); put(bz, r1 + 3u, c1, acc[15]);
    }
  }
}

// One row of 4 columns of C (bias, ReLU, bounds).
fn put(batch: u32, row: u32, col: u32, v0: vec4<f32>) {
  if (row >= p.m) { return; }
  var v = v0;
  let base = batch * p.strideC + row * p.n;
  for (var j = 0u; j < 4u; j++) {
    if (col + j < p.n) {
      var x = v[j];
      if (HAS_BIAS) {
        if (BIAS_ROWS) { x += bias[row]; } else { x += bias[col + j]; }
      }
      if (RELU) { x = max(x, 0.0); }
      c[base + col + j] = x;
    }
  }
}
