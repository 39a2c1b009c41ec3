// GEMM on packed operands (gemm.pack.wgsl) for CPU-emulated adapters: C[b] = A[b]·B[b] (+ bias) (ReLU).
// The scheme of gemm.subgroup.wgsl: the workgroup is one subgroup of SG lanes; per k, lane l
// loads R values of A's panel (rows r·SG + l) and TN values of B's (its own TN columns), and
// subgroupBroadcast hands every lane all SG·R A values, so each lane accumulates an SG·R × TN
// tile of C from R + TN loads. Packing makes those loads adjacent floats that advance by one
// panel row per k, and zero-fills the panels' edges, so the k loop needs no clamps.
// The tile is 128 named f32s: vec4 accumulators measured ~10% slower on lavapipe (llvmpipe
// masks each register write inside the loop, and spilled vec4s cost more of it).
// Workgroup (x, y, z) = (B panel, A panel, batch); SG is the adapter's fixed subgroup size.
enable subgroups;

override SG: u32 = 8; // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2; // A values per lane per k; A panels hold SG·R ≤ 16 rows
override TN: u32 = 8; // columns per lane: 4 or 8; B panels hold SG·TN columns
override HAS_BIAS: bool = false;
override RELU: bool = false;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  strideA: u32, // elements between batches of packed A (0: shared)
  strideB: u32, // elements between batches of packed B (0: shared)
  strideC: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// One row of the lane's tile: c[j] += s · b[j].
fn row(s: f32, b0: vec4<f32>, b1: vec4<f32>, c0: ptr<function, f32>, c1: ptr<function, f32>, c2: ptr<function, f32>, c3: ptr<function, f32>,
       c4: ptr<function, f32>, c5: ptr<function, f32>, c6: ptr<function, f32>, c7: ptr<function, f32>) {
  *c0 = fma(s, b0.x, *c0);
  *c1 = fma(s, b0.y, *c1);
  *c2 = fma(s, b0.z, *c2);
  *c3 = fma(s, b0.w, *c3);
  if (TN == 8u) {
    *c4 = fma(s, b1.x, *c4);
    *c5 = fma(s, b1.y, *c5);
    *c6 = fma(s, b1.z, *c6);
    *c7 = fma(s, b1.w, *c7);
  }
}

var<private> row0: u32;
var<private> col0: u32;
var<private> baseC: u32;

// Stores row q of the lane's tile, inside C.
fn put(q: u32, v0: f32, v1: f32, v2: f32, v3: f32, v4: f32, v5: f32, v6: f32, v7: f32) {
  if (q >= SG * R || row0 + q >= p.m) { return; }
  let v = array<f32, 8>(v0, v1, v2, v3, v4, v5, v6, v7);
  let o = baseC + (row0 + q) * p.n;
  for (var j = 0u; j < min(TN, p.n - min(col0, p.n)); j++) {
    var x = v[j];
    if (HAS_BIAS) { x += bias[col0 + j]; }
    if (RELU) { x = max(x, 0.0); }
    c[o + col0 + j] = x;
  }
}

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  row0 = wid.y * SG * R;
  col0 = (wid.x * SG + lane) * TN;
  baseC = wid.z * p.strideC;
  var ai = wid.z * p.strideA + wid.y * p.k * SG * R + lane;
  var bi = wid.z * p.strideB + wid.x * p.k * SG * TN + lane * TN;
  var c0_0 = 0.0; var c0_1 = 0.0; var c0_2 = 0.0; var c0_3 = 0.0; var c0_4 = 0.0; var c0_5 = 0.0; var c0_6 = 0.0; var c0_7 = 0.0;
  var c1_0 = 0.0; var c1_1 = 0.0; var c1_2 = 0.0; var c1_3 = 0.0; var c1_4 = 0.0; var c1_5 = 0.0; var c1_6 = 0.0; var c1_7 = 0.0;
  var c2_0 = 0.0; var c2_1 = 0.0; var c2_2 = 0.0; var c2_3 = 0.0; var c2_4 = 0.0; var c2_5 = 0.0; var c2_6 = 0.0; var c2_7 = 0.0;
  var c3_0 = 0.0; var c3_1 = 0.0; var c3_2 = 0.0; var c3_3 = 0.0; var c3_4 = 0.0; var c3_5 = 0.0; var c3_6 = 0.0; var c3_7 = 0.0;
  var c4_0 = 0.0; var c4_1 = 0.0; var c4_2 = 0.0; var c4_3 = 0.0; var c4_4 = 0.0; var c4_5 = 0.0; var c4_6 = 0.0; var c4_7 = 0.0;
  var c5_0 = 0.0; var c5_1 = 0.0; var c5_2 = 0.0; var c5_3 = 0.0; var c5_4 = 0.0; var c5_5 = 0.0; var c5_6 = 0.0; var c5_7 = 0.0;
  var c6_0 = 0.0; var c6_1 = 0.0; var c6_2 = 0.0; var c6_3 = 0.0; var c6_4 = 0.0; var c6_5 = 0.0; var c6_6 = 0.0; var c6_7 = 0.0;
  var c7_0 = 0.0; var c7_1 = 0.0; var c7_2 = 0.0; var c7_3 = 0.0; var c7_4 = 0.0; var c7_5 = 0.0; var c7_6 = 0.0; var c7_7 = 0.0;
  var c8_0 = 0.0; var c8_1 = 0.0; var c8_2 = 0.0; var c8_3 = 0.0; var c8_4 = 0.0; var c8_5 = 0.0; var c8_6 = 0.0; var c8_7 = 0.0;
  var c9_0 = 0.0; var c9_1 = 0.0; var c9_2 = 0.0; var c9_3 = 0.0; var c9_4 = 0.0; var c9_5 = 0.0; var c9_6 = 0.0; var c9_7 = 0.0;
  var c10_0 = 0.0; var c10_1 = 0.0; var c10_2 = 0.0; var c10_3 = 0.0; var c10_4 = 0.0; var c10_5 = 0.0; var c10_6 = 0.0; var c10_7 = 0.0;
  var c11_0 = 0.0; var c11_1 = 0.0; var c11_2 = 0.0; var c11_3 = 0.0; var c11_4 = 0.0; var c11_5 = 0.0; var c11_6 = 0.0; var c11_7 = 0.0;
  var c12_0 = 0.0; var c12_1 = 0.0; var c12_2 = 0.0; var c12_3 = 0.0; var c12_4 = 0.0; var c12_5 = 0.0; var c12_6 = 0.0; var c12_7 = 0.0;
  var c13_0 = 0.0; var c13_1 = 0.0; var c13_2 = 0.0; var c13_3 = 0.0; var c13_4 = 0.0; var c13_5 = 0.0; var c13_6 = 0.0; var c13_7 = 0.0;
  var c14_0 = 0.0; var c14_1 = 0.0; var c14_2 = 0.0; var c14_3 = 0.0; var c14_4 = 0.0; var c14_5 = 0.0; var c14_6 = 0.0; var c14_7 = 0.0;
  var c15_0 = 0.0; var c15_1 = 0.0; var c15_2 = 0.0; var c15_3 = 0.0; var c15_4 = 0.0; var c15_5 = 0.0; var c15_6 = 0.0; var c15_7 = 0.0;

  for (var kk = 0u; kk < p.k; kk++) {
    let b0 = vec4<f32>(b[bi], b[bi + 1u], b[bi + 2u], b[bi + 3u]);
    var b1 = vec4<f32>(0.0);
    if (TN == 8u) { b1 = vec4<f32>(b[bi + 4u], b[bi + 5u], b[bi + 6u], b[bi + 7u]); }
    let av0 = a[ai];
    var av1 = 0.0;
    var av2 = 0.0;
    var av3 = 0.0;
    if (R > 1u) { av1 = a[ai + SG]; }
    if (R > 2u) { av2 = a[ai + 2u * SG]; }
    if (R > 3u) { av3 = a[ai + 3u * SG]; }
    // Row q of the tile comes from lane q % SG of av[q / SG].
    if (SG == 8u) {
      row(subgroupBroadcast(av0, 0u), b0, b1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
      row(subgroupBroadcast(av0, 1u), b0, b1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
      row(subgroupBroadcast(av0, 2u), b0, b1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
      row(subgroupBroadcast(av0, 3u), b0, b1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
      row(subgroupBroadcast(av0, 4u), b0, b1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
      row(subgroupBroadcast(av0, 5u), b0, b1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
      row(subgroupBroadcast(av0, 6u), b0, b1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
      row(subgroupBroadcast(av0, 7u), b0, b1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
      if (R > 1u) {
      row(subgroupBroadcast(av1, 0u), b0, b1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
      row(subgroupBroadcast(av1, 1u), b0, b1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
      row(subgroupBroadcast(av1, 2u), b0, b1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
      row(subgroupBroadcast(av1, 3u), b0, b1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
      row(subgroupBroadcast(av1, 4u), b0, b1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
      row(subgroupBroadcast(av1, 5u), b0, b1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
      row(subgroupBroadcast(av1, 6u), b0, b1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
      row(subgroupBroadcast(av1, 7u), b0, b1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
      }
    } else {
      row(subgroupBroadcast(av0, 0u), b0, b1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
      row(subgroupBroadcast(av0, 1u), b0, b1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
      row(subgroupBroadcast(av0, 2u), b0, b1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
      row(subgroupBroadcast(av0, 3u), b0, b1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
      if (R > 1u) {
      row(subgroupBroadcast(av1, 0u), b0, b1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
      row(subgroupBroadcast(av1, 1u), b0, b1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
      row(subgroupBroadcast(av1, 2u), b0, b1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
      row(subgroupBroadcast(av1, 3u), b0, b1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
      }
      if (R > 2u) {
      row(subgroupBroadcast(av2, 0u), b0, b1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
      row(subgroupBroadcast(av2, 1u), b0, b1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
      row(subgroupBroadcast(av2, 2u), b0, b1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
      row(subgroupBroadcast(av2, 3u), b0, b1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
      }
      if (R > 3u) {
      row(subgroupBroadcast(av3, 0u), b0, b1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
      row(subgroupBroadcast(av3, 1u), b0, b1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
      row(subgroupBroadcast(av3, 2u), b0, b1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
      row(subgroupBroadcast(av3, 3u), b0, b1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
      }
    }
    ai += SG * R;
    bi += SG * TN;
  }

  put(0u, c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7);
  put(1u, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7);
  put(2u, c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7);
  put(3u, c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7);
  put(4u, c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7);
  put(5u, c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7);
  put(6u, c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7);
  put(7u, c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7);
  put(8u, c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7);
  put(9u, c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7);
  put(10u, c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7);
  put(11u, c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7);
  put(12u, c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7);
  put(13u, c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7);
  put(14u, c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7);
  put(15u, c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7);
}
