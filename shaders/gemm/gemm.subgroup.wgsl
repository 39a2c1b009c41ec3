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
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
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
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being a batch of FOLD_Z (ops/dispatch.ts foldX)

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
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let nz = max(FOLD_Z, 1u);
  let bz = select(wid.z, wid.z % nz, FOLD_Z > 0u);
  let bx = select(wid.x, wid.x + (wid.z / nz) * nwg.x, FOLD_Z > 0u);
  if (FOLD_Z > 0u && bx * SG * TN >= p.n) { return; } // past the end of a folded grid: the whole workgroup
  let row0 = wid.y * SG * R;
  let col0 = (bx * SG + lane) * TN;
  let baseA = bz * p.strideA;
  let baseB = bz * p.strideB;
  let lastCol = p.n - 1u;
  let cols0 = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(lastCol));
  let cols1 = min(vec4<u32>(col0 + 4u, col0 + 5u, col0 + 6u, col0 + 7u), vec4<u32>(lastCol));
  // Each lane's B offsets (its TN columns) and A offsets (its row in each block) at k = 0, and
  // their steps along k: in a packed panel, or in place with the edges clamped.
  var bc0: vec4<u32>;
  var bc1: vec4<u32>;
  var bStep: u32;
  if (PACKED_B) {
    bc0 = vec4<u32>(baseB + bx * p.k * SG * TN + lane * TN) + vec4<u32>(0u, 1u, 2u, 3u);
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
    accumulate(av0, av1, av2, av3, b0, b1);
  }

  if (col0 >= p.n) { return; }
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
  let baseC = bz * p.strideC;
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
