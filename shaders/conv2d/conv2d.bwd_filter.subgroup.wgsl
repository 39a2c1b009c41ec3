// conv2d filter gradient for CPU-emulated adapters: the split-K GEMM of
// conv2d.bwd_filter.wgsl with the subgroup-broadcast tiling of gemm.subgroup.wgsl.
// dw[o, (c, kh, kw)] = Σ_{n, oh, ow} dy[n, o, oh, ow] · xp[n, c, oh·s + kh·d, ow·s + kw·d].
// Rows are the output channels of one group, columns the filter taps (c, kh, kw), K the
// pixels. The workgroup is one subgroup of SG lanes. Lane l owns TN taps; for each pixel it
// loads their TN inputs and dy of channel r·SG + l (r < R), and subgroupBroadcast gives every
// lane all SG·R dy values: R + TN loads per (SG·R)·TN FMAs. A workgroup covers (SG·R)
// channels × (SG·TN) taps. K is long and the output small, so K is split over the batch:
// dispatch z = group · splits + split; each split writes its own slice of `part`.
// Input zero-padded beforehand (conv2d.pad.wgsl); edge tiles clamp loads and mask stores.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // channel blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // filter taps per lane: 4 or 8

struct Params {
  n: u32, c: u32, hp: u32, wp: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32, splits: u32,
  nPerSplit: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// One row of the lane's tile: (c0, c1) += s · (x0, x1). The tile lives in 32 named vec4s,
// not an array: SwiftShader keeps a function-scope array in memory (5× slower).
fn rank1(c0: ptr<function, vec4<f32>>, c1: ptr<function, vec4<f32>>, s: f32, x0: vec4<f32>, x1: vec4<f32>) {
  let sv = vec4<f32>(s);
  *c0 = fma(sv, x0, *c0);
  if (TN == 8u) { *c1 = fma(sv, x1, *c1); }
}

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let ksz = p.kh * p.kw;
  let ncols = p.cg * ksz;
  let col0 = (wid.x * SG + lane) * TN;
  let oc0 = wid.y * SG * R;
  let g = wid.z / p.splits;
  let split = wid.z % p.splits;
  let nBegin = split * p.nPerSplit;
  let nEnd = min(nBegin + p.nPerSplit, p.n);
  let plane = p.hp * p.wp;
  let ohw = p.oh * p.ow;

  // Offset of each tap (c, kh, kw) from a window origin, at channel g·cg.
  var koff0: vec4<u32>; // taps 0-3
  var koff1: vec4<u32>; // taps 4-7
  for (var j = 0u; j < TN; j++) {
    let col = min(col0 + j, ncols - 1u);
    let r = col % ksz;
    let v = (g * p.cg + col / ksz) * plane + (r / p.kw) * p.dilH * p.wp + (r % p.kw) * p.dilW;
    if (j < 4u) { koff0[j] = v; } else { koff1[j - 4u] = v; }
  }
  // This lane's dy channel plane in each block, clamped.
  var dch: vec4<u32>;
  for (var r = 0u; r < R; r++) {
    dch[r] = (g * p.og + min(oc0 + r * SG + lane, p.og - 1u)) * ohw;
  }

  var c0_0: vec4<f32>; var c0_1: vec4<f32>; var c1_0: vec4<f32>; var c1_1: vec4<f32>; var c2_0: vec4<f32>; var c2_1: vec4<f32>; var c3_0: vec4<f32>; var c3_1: vec4<f32>;
  var c4_0: vec4<f32>; var c4_1: vec4<f32>; var c5_0: vec4<f32>; var c5_1: vec4<f32>; var c6_0: vec4<f32>; var c6_1: vec4<f32>; var c7_0: vec4<f32>; var c7_1: vec4<f32>;
  var c8_0: vec4<f32>; var c8_1: vec4<f32>; var c9_0: vec4<f32>; var c9_1: vec4<f32>; var c10_0: vec4<f32>; var c10_1: vec4<f32>; var c11_0: vec4<f32>; var c11_1: vec4<f32>;
  var c12_0: vec4<f32>; var c12_1: vec4<f32>; var c13_0: vec4<f32>; var c13_1: vec4<f32>; var c14_0: vec4<f32>; var c14_1: vec4<f32>; var c15_0: vec4<f32>; var c15_1: vec4<f32>;
  for (var n = nBegin; n < nEnd; n++) {
    let xn = n * p.c * plane;
    var d = n * p.o * ohw;
    // One loop over the image's pixels, the row step by a counter (as in
    // conv2d.bwd_filter.channel_cols.wgsl).
    var xo = xn;
    var ow = 0u;
    for (var pix = 0u; pix < ohw; pix++) {
      let x0 = vec4<f32>(x[xo + koff0.x], x[xo + koff0.y], x[xo + koff0.z], x[xo + koff0.w]);
      var x1 = vec4<f32>(0.0);
      if (TN == 8u) { x1 = vec4<f32>(x[xo + koff1.x], x[xo + koff1.y], x[xo + koff1.z], x[xo + koff1.w]); }
      // Row q of the tile comes from lane q % SG of block q / SG.
      let av0 = dy[d + dch[0]];
      var av1 = 0.0;
      var av2 = 0.0;
      var av3 = 0.0;
      if (R > 1u) { av1 = dy[d + dch[1]]; }
      if (R > 2u) { av2 = dy[d + dch[2]]; }
      if (R > 3u) { av3 = dy[d + dch[3]]; }
      if (SG == 8u) {
        rank1(&c0_0, &c0_1, subgroupBroadcast(av0, 0u), x0, x1);
        rank1(&c1_0, &c1_1, subgroupBroadcast(av0, 1u), x0, x1);
        rank1(&c2_0, &c2_1, subgroupBroadcast(av0, 2u), x0, x1);
        rank1(&c3_0, &c3_1, subgroupBroadcast(av0, 3u), x0, x1);
        rank1(&c4_0, &c4_1, subgroupBroadcast(av0, 4u), x0, x1);
        rank1(&c5_0, &c5_1, subgroupBroadcast(av0, 5u), x0, x1);
        rank1(&c6_0, &c6_1, subgroupBroadcast(av0, 6u), x0, x1);
        rank1(&c7_0, &c7_1, subgroupBroadcast(av0, 7u), x0, x1);
        if (R > 1u) {
          rank1(&c8_0, &c8_1, subgroupBroadcast(av1, 0u), x0, x1);
          rank1(&c9_0, &c9_1, subgroupBroadcast(av1, 1u), x0, x1);
          rank1(&c10_0, &c10_1, subgroupBroadcast(av1, 2u), x0, x1);
          rank1(&c11_0, &c11_1, subgroupBroadcast(av1, 3u), x0, x1);
          rank1(&c12_0, &c12_1, subgroupBroadcast(av1, 4u), x0, x1);
          rank1(&c13_0, &c13_1, subgroupBroadcast(av1, 5u), x0, x1);
          rank1(&c14_0, &c14_1, subgroupBroadcast(av1, 6u), x0, x1);
          rank1(&c15_0, &c15_1, subgroupBroadcast(av1, 7u), x0, x1);
        }
      } else {
        rank1(&c0_0, &c0_1, subgroupBroadcast(av0, 0u), x0, x1);
        rank1(&c1_0, &c1_1, subgroupBroadcast(av0, 1u), x0, x1);
        rank1(&c2_0, &c2_1, subgroupBroadcast(av0, 2u), x0, x1);
        rank1(&c3_0, &c3_1, subgroupBroadcast(av0, 3u), x0, x1);
        if (R > 1u) {
          rank1(&c4_0, &c4_1, subgroupBroadcast(av1, 0u), x0, x1);
          rank1(&c5_0, &c5_1, subgroupBroadcast(av1, 1u), x0, x1);
          rank1(&c6_0, &c6_1, subgroupBroadcast(av1, 2u), x0, x1);
          rank1(&c7_0, &c7_1, subgroupBroadcast(av1, 3u), x0, x1);
        }
        if (R > 2u) {
          rank1(&c8_0, &c8_1, subgroupBroadcast(av2, 0u), x0, x1);
          rank1(&c9_0, &c9_1, subgroupBroadcast(av2, 1u), x0, x1);
          rank1(&c10_0, &c10_1, subgroupBroadcast(av2, 2u), x0, x1);
          rank1(&c11_0, &c11_1, subgroupBroadcast(av2, 3u), x0, x1);
        }
        if (R > 3u) {
          rank1(&c12_0, &c12_1, subgroupBroadcast(av3, 0u), x0, x1);
          rank1(&c13_0, &c13_1, subgroupBroadcast(av3, 1u), x0, x1);
          rank1(&c14_0, &c14_1, subgroupBroadcast(av3, 2u), x0, x1);
          rank1(&c15_0, &c15_1, subgroupBroadcast(av3, 3u), x0, x1);
        }
      }
      d += 1u;
      xo += p.strideW;
      ow++;
      if (ow == p.ow) {
        ow = 0u;
        xo += p.strideH * p.wp - p.ow * p.strideW;
      }
    }
  }

  if (col0 >= ncols) { return; }
  // part is [splits, O, cg·KH·KW]. A plain loop over a copy (see gemm.subgroup.wgsl).
  let tile = array<vec4<f32>, 32>(c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1,
    c8_0, c8_1, c9_0, c9_1, c10_0, c10_1, c11_0, c11_1, c12_0, c12_1, c13_0, c13_1, c14_0, c14_1, c15_0, c15_1);
  let nch = min(SG * R, p.og - oc0);
  let ntap = min(TN, ncols - col0);
  let sbase = split * p.o * ncols;
  for (var i = 0u; i < nch; i++) {
    let row = sbase + (g * p.og + oc0 + i) * ncols + col0;
    for (var j = 0u; j < ntap; j++) {
      part[row + j] = tile[i * 2u + j / 4u][j % 4u];
    }
  }
}
