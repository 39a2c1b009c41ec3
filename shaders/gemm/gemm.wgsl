// GEMM: C[b] = op(A[b]) · op(B[b]) (+ bias[col]) (then ReLU), f32, row-major.
// Tiling: each invocation owns a TM×4 register tile of C (TM = 4 or 8) held as vec4
// accumulators; a workgroup of WG_X × WG_Y invocations covers a (TM·WG_Y) × (4·WG_X) block
// of C, and dispatch z walks the batch. TM = 8 halves the B loads per FMA, which pays on
// lavapipe; SwiftShader spills with it (see ops/tuning.ts). The TM = 8 rows sit behind
// `if (TM == 8u)`, which pipeline creation folds away, so TM = 4 costs nothing extra. There is no workgroup memory: on the CPU emulators
// (SwiftShader, lavapipe) a barrier costs more than the re-reads it saves, and on GPUs
// neighbouring invocations share those reads through L1.
// Edge tiles clamp their load indices and mask their stores, so any M, N, K work.
// K is unrolled by 4 so that each pass issues 16 A and 16 B loads for 64 FMAs.

override WG_X: u32 = 8;
override WG_Y: u32 = 8;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;
override TM: u32 = 4; // rows per invocation: 4 or 8
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being a batch of FOLD_Z (ops/dispatch.ts foldX)

struct Params {
  m: u32,
  n: u32,
  k: u32,
  strideA: u32, // elements between batches of A
  strideB: u32, // 0 when B is shared by the whole batch
  strideC: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn loadA(base: u32, row: u32, kk: u32) -> f32 {
  if (TRANS_A) { return a[base + kk * p.m + row]; }
  return a[base + row * p.k + kk];
}

fn loadB(base: u32, kk: u32, cols: vec4<u32>) -> vec4<f32> {
  if (TRANS_B) {
    return vec4<f32>(b[base + cols.x * p.k + kk], b[base + cols.y * p.k + kk],
                     b[base + cols.z * p.k + kk], b[base + cols.w * p.k + kk]);
  }
  let r = base + kk * p.n;
  return vec4<f32>(b[r + cols.x], b[r + cols.y], b[r + cols.z], b[r + cols.w]);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let nz = max(FOLD_Z, 1u);
  let bz = select(wid.z, wid.z % nz, FOLD_Z > 0u);
  let bx = select(wid.x, wid.x + (wid.z / nz) * nwg.x, FOLD_Z > 0u);
  let row0 = gid.y * TM;
  let col0 = (bx * WG_X + lid.x) * 4u;
  if (row0 >= p.m || col0 >= p.n) { return; }
  let baseA = bz * p.strideA;
  let baseB = bz * p.strideB;
  let last = vec2<u32>(p.m - 1u, p.n - 1u);
  let rows = min(vec4<u32>(row0, row0 + 1u, row0 + 2u, row0 + 3u), vec4<u32>(last.x));
  let rows2 = min(vec4<u32>(row0 + 4u, row0 + 5u, row0 + 6u, row0 + 7u), vec4<u32>(last.x));
  let cols = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(last.y));

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  let k4 = p.k & ~3u;
  var kk = 0u;
  for (; kk < k4; kk += 4u) {
    for (var u = 0u; u < 4u; u++) {
      let bv = loadB(baseB, kk + u, cols);
      acc0 += loadA(baseA, rows.x, kk + u) * bv;
      acc1 += loadA(baseA, rows.y, kk + u) * bv;
      acc2 += loadA(baseA, rows.z, kk + u) * bv;
      acc3 += loadA(baseA, rows.w, kk + u) * bv;
      if (TM == 8u) {
        acc4 += loadA(baseA, rows2.x, kk + u) * bv;
        acc5 += loadA(baseA, rows2.y, kk + u) * bv;
        acc6 += loadA(baseA, rows2.z, kk + u) * bv;
        acc7 += loadA(baseA, rows2.w, kk + u) * bv;
      }
    }
  }
  for (; kk < p.k; kk++) {
    let bv = loadB(baseB, kk, cols);
    acc0 += loadA(baseA, rows.x, kk) * bv;
    acc1 += loadA(baseA, rows.y, kk) * bv;
    acc2 += loadA(baseA, rows.z, kk) * bv;
    acc3 += loadA(baseA, rows.w, kk) * bv;
    if (TM == 8u) {
      acc4 += loadA(baseA, rows2.x, kk) * bv;
      acc5 += loadA(baseA, rows2.y, kk) * bv;
      acc6 += loadA(baseA, rows2.z, kk) * bv;
      acc7 += loadA(baseA, rows2.w, kk) * bv;
    }
  }

  var bv = vec4<f32>(0.0);
  if (HAS_BIAS) { bv = vec4<f32>(bias[cols.x], bias[cols.y], bias[cols.z], bias[cols.w]); }
  let accs = array<vec4<f32>, 8>(acc0 + bv, acc1 + bv, acc2 + bv, acc3 + bv, acc4 + bv, acc5 + bv, acc6 + bv, acc7 + bv);
  let baseC = bz * p.strideC;
  for (var i = 0u; i < TM; i++) {
    let row = row0 + i;
    if (row >= p.m) { break; }
    var v = accs[i];
    if (RELU) { v = max(v, vec4<f32>(0.0)); }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.n) { c[baseC + row * p.n + col0 + j] = v[j]; }
    }
  }
}
