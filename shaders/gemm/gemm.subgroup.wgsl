// GEMM for CPU-emulated adapters (lavapipe, SwiftShader): C[b] = op(A[b]) · op(B[b]) (+ bias) (ReLU).
// There, each load instruction costs far more than an FMA (it runs lane by lane, and
// uniform loads are no cheaper), and workgroup barriers cost more still. So the kernel
// trades loads for subgroup broadcasts: the workgroup is one subgroup of SG lanes; for each
// k, lane l loads one element of A (row r·SG + l of the block, for r < R) and TN elements of
// its own B columns, then subgroupBroadcast hands every lane all SG·R A values. Each lane
// accumulates an (SG·R) × TN tile of C from R + TN loads per k, against 2·R + 2 loads per
// TN·4 FMAs in gemm.wgsl. A workgroup covers (SG·R) rows × (SG·TN) columns; dispatch z walks
// the batch. SG must equal the adapter's fixed subgroup size (ops/tuning.ts checks).
// Edge tiles clamp their load indices and mask their stores; no lane returns early, so the
// broadcasts stay in uniform control flow.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // row blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // columns per lane: 4 or 8
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;

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

// Adds s · (b0, b1) to row `row` of the tile: acc[row · 2 + j] holds the j-th vec4 of the lane's TN columns.
fn rank1(acc: ptr<function, array<vec4<f32>, 32>>, row: u32, s: f32, b0: vec4<f32>, b1: vec4<f32>) {
  let sv = vec4<f32>(s);
  (*acc)[row * 2u] = fma(sv, b0, (*acc)[row * 2u]);
  if (TN == 8u) { (*acc)[row * 2u + 1u] = fma(sv, b1, (*acc)[row * 2u + 1u]); }
}

fn loadB(base: u32, kk: u32, col: u32) -> f32 {
  if (TRANS_B) { return b[base + col * p.k + kk]; }
  return b[base + kk * p.n + col];
}

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.y * SG * R;
  let col0 = (wid.x * SG + lane) * TN;
  let baseA = wid.z * p.strideA;
  let baseB = wid.z * p.strideB;
  let lastCol = p.n - 1u;
  let cols0 = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(lastCol));
  let cols1 = min(vec4<u32>(col0 + 4u, col0 + 5u, col0 + 6u, col0 + 7u), vec4<u32>(lastCol));
  // This lane's A row in each block, clamped; its offset and step along k.
  var aRow: array<u32, 4>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r * SG + lane, p.m - 1u);
    aRow[r] = select(baseA + row * p.k, baseA + row, TRANS_A);
  }
  let aStep = select(1u, p.m, TRANS_A);
  var acc: array<vec4<f32>, 32>;

  for (var kk = 0u; kk < p.k; kk++) {
    let b0 = vec4<f32>(loadB(baseB, kk, cols0.x), loadB(baseB, kk, cols0.y), loadB(baseB, kk, cols0.z), loadB(baseB, kk, cols0.w));
    var b1 = vec4<f32>(0.0);
    if (TN == 8u) { b1 = vec4<f32>(loadB(baseB, kk, cols1.x), loadB(baseB, kk, cols1.y), loadB(baseB, kk, cols1.z), loadB(baseB, kk, cols1.w)); }
    for (var r = 0u; r < R; r++) {
      let av = a[aRow[r] + kk * aStep];
      let rb = r * SG;
      rank1(&acc, rb, subgroupBroadcast(av, 0u), b0, b1);
      rank1(&acc, rb + 1u, subgroupBroadcast(av, 1u), b0, b1);
      rank1(&acc, rb + 2u, subgroupBroadcast(av, 2u), b0, b1);
      rank1(&acc, rb + 3u, subgroupBroadcast(av, 3u), b0, b1);
      if (SG == 8u) {
        rank1(&acc, rb + 4u, subgroupBroadcast(av, 4u), b0, b1);
        rank1(&acc, rb + 5u, subgroupBroadcast(av, 5u), b0, b1);
        rank1(&acc, rb + 6u, subgroupBroadcast(av, 6u), b0, b1);
        rank1(&acc, rb + 7u, subgroupBroadcast(av, 7u), b0, b1);
      }
    }
  }

  if (col0 >= p.n) { return; }
  // A plain loop over a copy: indexing `acc` at run time would keep it out of registers,
  // and unrolling the SG·R × TN stores multiplies the JIT time on lavapipe.
  let tile = acc;
  let baseC = wid.z * p.strideC;
  let nrows = min(SG * R, p.m - row0);
  let ncols = min(TN, p.n - col0);
  for (var i = 0u; i < nrows; i++) {
    let o = baseC + (row0 + i) * p.n + col0;
    for (var j = 0u; j < ncols; j++) {
      var v = tile[i * 2u + j / 4u][j % 4u];
      if (HAS_BIAS) { v += bias[col0 + j]; }
      if (RELU) { v = max(v, 0.0); }
      c[o + j] = v;
    }
  }
}
