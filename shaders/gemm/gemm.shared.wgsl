// GEMM for GPUs: C[b] = op(A[b]) · op(B[b]) (+ bias[col]) (then ReLU), f32, row-major.
// Tiling: a workgroup of WG_X × WG_Y invocations computes a (4·WG_Y) × (4·WG_X) block of C,
// each invocation a 4×4 register tile. K is walked in steps of TILE_K: the workgroup first
// stages the A and B slices it needs in workgroup memory (A transposed, so both inner-loop
// reads are contiguous), then every invocation reads them TILE_K times. Out-of-range
// elements are staged as 0, so any M, N, K work. Chosen on GPUs; the CPU emulators,
// where barriers are slow, use gemm.wgsl (see ops/tuning.ts).

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override TILE_K: u32 = 16;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;

const TM = 4u; // register tile edge
const TN = 4u;

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
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> As: array<f32, TILE_K * WG_Y * 4u>; // [TILE_K][4·WG_Y]
var<workgroup> Bs: array<f32, TILE_K * WG_X * 4u>; // [TILE_K][4·WG_X]

fn loadA(base: u32, row: u32, kk: u32) -> f32 {
  if (row >= p.m || kk >= p.k) { return 0.0; }
  if (TRANS_A) { return a[base + kk * p.m + row]; }
  return a[base + row * p.k + kk];
}

fn loadB(base: u32, kk: u32, col: u32) -> f32 {
  if (kk >= p.k || col >= p.n) { return 0.0; }
  if (TRANS_B) { return b[base + col * p.k + kk]; }
  return b[base + kk * p.n + col];
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let bm = 4u * WG_Y; // block rows
  let bn = 4u * WG_X; // block cols
  let row0 = wid.y * bm;
  let col0 = wid.x * bn;
  let baseA = wid.z * p.strideA;
  let baseB = wid.z * p.strideB;
  let threads = WG_X * WG_Y;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
    // Stage A[row0.., k0..] as As[kk][r] and B[k0.., col0..] as Bs[kk][c].
    for (var i = li; i < TILE_K * bm; i += threads) {
      let r = i % bm;
      let kk = i / bm;
      As[i] = loadA(baseA, row0 + r, k0 + kk);
    }
    for (var i = li; i < TILE_K * bn; i += threads) {
      let cc = i % bn;
      let kk = i / bn;
      Bs[i] = loadB(baseB, k0 + kk, col0 + cc);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let ar = kk * bm + lid.y * TM;
      let bc = kk * bn + lid.x * TN;
      let bv = vec4<f32>(Bs[bc], Bs[bc + 1u], Bs[bc + 2u], Bs[bc + 3u]);
      acc[0] += As[ar] * bv;
      acc[1] += As[ar + 1u] * bv;
      acc[2] += As[ar + 2u] * bv;
      acc[3] += As[ar + 3u] * bv;
    }
    workgroupBarrier();
  }

  let cr = row0 + lid.y * TM;
  let cc = col0 + lid.x * TN;
  var bv = vec4<f32>(0.0);
  if (HAS_BIAS) {
    for (var j = 0u; j < 4u; j++) { if (cc + j < p.n) { bv[j] = bias[cc + j]; } }
  }
  let baseC = wid.z * p.strideC;
  for (var i = 0u; i < TM; i++) {
    let row = cr + i;
    if (row >= p.m) { break; }
    var v = acc[i] + bv;
    if (RELU) { v = max(v, vec4<f32>(0.0)); }
    for (var j = 0u; j < TN; j++) {
      if (cc + j < p.n) { c[baseC + row * p.n + cc + j] = v[j]; }
    }
  }
}
