// GEMM for CPU-emulated adapters (lavapipe, SwiftShader): C[b] = op(A[b]) · op(B[b]) (+ bias) (ReLU).
// There, each load instruction costs far more than an FMA (it runs lane by lane, and
// uniform loads are no cheaper), and workgroup barriers cost more still. So the kernel
// trades loads for subgroup broadcasts: the workgroup is one subgroup of SG lanes; for each
// k, lane l loads one element of A (row r·SG + l of the block, for r < R) and TN elements of
// its own B columns, then subgroupBroadcast hands every lane all SG·R A values. Each lane
// accumulates an (SG·R) × TN tile of C from R + TN loads per k (gemm.wgsl: TM + 4 loads for
// a TM × 4 tile). A workgroup covers (SG·R) rows × (SG·TN) columns; dispatch z walks the
// batch. SG must be the adapter's fixed subgroup size (the engine sets it from the adapter).
// Edge tiles clamp their load indices and mask their stores; no lane returns early, so the
// broadcasts stay in uniform control flow.
// PACKED_A / PACKED_B: that operand comes packed by gemm.pack.wgsl into k-major panels (SG·R
// rows of A, SG·TN columns of B, zero past the edges), so a lane group's loads for one k are
// adjacent floats stepping one panel row per k. In place, A's rows a multiple of 4 KiB apart
// (1024³) share cache sets and thrash, and B's columns load as scalars unless contiguous
// (VEC_B below); gemm.ts packedTile decides.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // row blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // columns per lane: 4 or 8
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;
// Columns run over (image, pixel), p.colP pixels per image, and B and C hold one plane per
// image: the input gradient's dcol = Wᵀ·dy over a whole batch in one GEMM, so no column tile
// is cut short at an image's edge (conv2d.ts).
override COL_IMAGES: bool = false;
override PACKED_A: bool = false;
override PACKED_B: bool = false;
// The lane's TN columns of B as TN / 4 aligned vec4s of b4 (a view of B's buffer), not TN
// scalar loads: packed panels, or in place where B's rows (COL_IMAGES: each image's plane) hold
// whole vec4s, so no vec4 straddles two images (ops/gemm.ts). Each
// load runs lane by lane on the emulators: lavapipe 1024³ / 512³ ran ×1.2 / ×1.4 faster
// (medians of 11 paired rounds).
override VEC_B: bool = false;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  strideA: u32, // elements between batches of A (0: shared; PACKED_A: of A's panels)
  strideB: u32, // elements between batches of B (0: shared; PACKED_B: of B's panels)
  strideC: u32,
  colP: u32, // COL_IMAGES: pixels per image
  imgB: u32, // COL_IMAGES: elements between images' planes in B
  imgC: u32, // COL_IMAGES: elements between images' planes in C
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>; // b again where VEC_B, else a dummy
@group(0) @binding(5) var<uniform> p: Params;

// One row of the lane's tile: c[j] += s · b[j]. The tile lives in 128 named f32s: SwiftShader
// keeps a function-scope array in memory (5× slower), and 32 named vec4s ran 1.04–1.27× slower
// than scalars on lavapipe and 1.03–1.22× on SwiftShader (512³, 1024³, LeNet's dcol GEMM).
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

// Offset of column col in B (at k = 0), and in a row of C.
fn bCol(col: u32) -> u32 {
  if (COL_IMAGES) { return (col / p.colP) * p.imgB + col % p.colP; }
  if (TRANS_B) { return col * p.k; }
  return col;
}
fn cCol(col: u32) -> u32 {
  if (COL_IMAGES) { return (col / p.colP) * p.imgC + col % p.colP; }
  return col;
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
  // Each lane's B offsets (its TN columns) and A offsets (its row in each block) at k = 0, and
  // their steps along k: in a packed panel, or in place with the edges clamped.
  var bc0: vec4<u32>;
  var bc1: vec4<u32>;
  var bStep: u32;
  if (PACKED_B) {
    bc0 = vec4<u32>(baseB + wid.x * p.k * SG * TN + lane * TN) + vec4<u32>(0u, 1u, 2u, 3u);
    bc1 = bc0 + vec4<u32>(4u);
    bStep = SG * TN;
  } else {
    bc0 = vec4<u32>(bCol(cols0.x), bCol(cols0.y), bCol(cols0.z), bCol(cols0.w)) + vec4<u32>(baseB);
    bc1 = vec4<u32>(bCol(cols1.x), bCol(cols1.y), bCol(cols1.z), bCol(cols1.w)) + vec4<u32>(baseB);
    bStep = p.n;
    if (TRANS_B) { bStep = 1u; }
    if (COL_IMAGES) { bStep = p.colP; }
  }
  var aRow: vec4<u32>;
  var aStep: u32;
  if (PACKED_A) {
    aRow = vec4<u32>(baseA + wid.y * p.k * SG * R + lane) + vec4<u32>(0u, 1u, 2u, 3u) * SG;
    aStep = SG * R;
  } else {
    for (var r = 0u; r < R; r++) {
      let row = min(row0 + r * SG + lane, p.m - 1u);
      aRow[r] = select(baseA + row * p.k, baseA + row, TRANS_A);
    }
    aStep = select(1u, p.m, TRANS_A);
  }

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
    let bk = kk * bStep;
    var b0: vec4<f32>;
    var b1 = vec4<f32>(0.0);
    if (VEC_B) { // a lane past the edge reads a clamped column's vec4; its columns are never stored
      b0 = b4[(bc0.x + bk) / 4u];
      if (TN == 8u) { b1 = b4[(bc1.x + bk) / 4u]; }
    } else {
      b0 = vec4<f32>(b[bc0.x + bk], b[bc0.y + bk], b[bc0.z + bk], b[bc0.w + bk]);
      if (TN == 8u) { b1 = vec4<f32>(b[bc1.x + bk], b[bc1.y + bk], b[bc1.z + bk], b[bc1.w + bk]); }
    }
    // Row q of the tile comes from lane q % SG of block q / SG.
    let av0 = a[aRow[0] + kk * aStep];
    var av1 = 0.0;
    var av2 = 0.0;
    var av3 = 0.0;
    if (R > 1u) { av1 = a[aRow[1] + kk * aStep]; }
    if (R > 2u) { av2 = a[aRow[2] + kk * aStep]; }
    if (R > 3u) { av3 = a[aRow[3] + kk * aStep]; }
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
  }

  if (col0 >= p.n) { return; }
  // A plain loop over an array copy: unrolling the SG·R × TN stores multiplies the JIT time on lavapipe.
  let tile = array<vec4<f32>, 32>(vec4<f32>(c0_0, c0_1, c0_2, c0_3), vec4<f32>(c0_4, c0_5, c0_6, c0_7), vec4<f32>(c1_0, c1_1, c1_2, c1_3), vec4<f32>(c1_4, c1_5, c1_6, c1_7), vec4<f32>(c2_0, c2_1, c2_2, c2_3), vec4<f32>(c2_4, c2_5, c2_6, c2_7), vec4<f32>(c3_0, c3_1, c3_2, c3_3), vec4<f32>(c3_4, c3_5, c3_6, c3_7), vec4<f32>(c4_0, c4_1, c4_2, c4_3), vec4<f32>(c4_4, c4_5, c4_6, c4_7), vec4<f32>(c5_0, c5_1, c5_2, c5_3), vec4<f32>(c5_4, c5_5, c5_6, c5_7), vec4<f32>(c6_0, c6_1, c6_2, c6_3), vec4<f32>(c6_4, c6_5, c6_6, c6_7), vec4<f32>(c7_0, c7_1, c7_2, c7_3), vec4<f32>(c7_4, c7_5, c7_6, c7_7), vec4<f32>(c8_0, c8_1, c8_2, c8_3), vec4<f32>(c8_4, c8_5, c8_6, c8_7), vec4<f32>(c9_0, c9_1, c9_2, c9_3), vec4<f32>(c9_4, c9_5, c9_6, c9_7), vec4<f32>(c10_0, c10_1, c10_2, c10_3), vec4<f32>(c10_4, c10_5, c10_6, c10_7), vec4<f32>(c11_0, c11_1, c11_2, c11_3), vec4<f32>(c11_4, c11_5, c11_6, c11_7), vec4<f32>(c12_0, c12_1, c12_2, c12_3), vec4<f32>(c12_4, c12_5, c12_6, c12_7), vec4<f32>(c13_0, c13_1, c13_2, c13_3), vec4<f32>(c13_4, c13_5, c13_6, c13_7), vec4<f32>(c14_0, c14_1, c14_2, c14_3), vec4<f32>(c14_4, c14_5, c14_6, c14_7), vec4<f32>(c15_0, c15_1, c15_2, c15_3), vec4<f32>(c15_4, c15_5, c15_6, c15_7));
  let baseC = wid.z * p.strideC;
  let nrows = min(SG * R, p.m - row0);
  let ncols = min(TN, p.n - col0);
  let rowStride = select(p.n, p.colP, COL_IMAGES);
  // The lane's column offsets in C, once (cCol divides, lane by lane on the emulators).
  let cc = array<u32, 8>(cCol(cols0.x), cCol(cols0.y), cCol(cols0.z), cCol(cols0.w), cCol(cols1.x), cCol(cols1.y), cCol(cols1.z), cCol(cols1.w));
  for (var i = 0u; i < nrows; i++) {
    let o = baseC + (row0 + i) * rowStride;
    for (var j = 0u; j < ncols; j++) {
      var v = tile[i * 2u + j / 4u][j % 4u];
      if (HAS_BIAS) { v += bias[col0 + j]; }
      if (RELU) { v = max(v, 0.0); }
      c[o + cc[j]] = v;
    }
  }
}
