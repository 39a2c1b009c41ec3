// conv2d filter gradient for CPU-emulated adapters (chosen on lavapipe: tuning.convChannelCols),
// the operands of conv2d.bwd_filter.subgroup.wgsl swapped: rows are the filter taps (c, kh, kw),
// columns the output channels of one group, K the pixels (split over the batch).
// dw[o, (c, kh, kw)] = Σ_{n, oh, ow} dy[n, o, oh, ow] · xp[n, c, oh·s + kh·d, ow·s + kw·d].
// dy comes packed by gemm.pack.wgsl into panels of SG·TN channels per image and group,
// pixel-major (zero past the edge), so a lane's TN channels at one pixel are TN / 4 aligned
// vec4 loads; each lane also loads the input under tap r·SG + l (r < R), and subgroupBroadcast
// gives every lane all SG·R of them: R + TN / 4 loads per (SG·R)·TN FMAs, where tap columns
// take R + TN. A workgroup covers (SG·R) taps × (SG·TN) channels: dispatch (tap blocks,
// channel panels, group · splits + split); each split writes its own slice of `part`.
// Layouts: xp NCHW (padded to hp × wp), packed dy [n][group][panel][pixel][SG·TN], part
// [splits, O, cg·KH·KW]. Edge tiles clamp their loads and mask their stores.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // tap blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // output channels per lane: 4 or 8

struct Params {
  n: u32, c: u32, hp: u32, wp: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32, splits: u32,
  nPerSplit: u32, groups: u32, panels: u32, // channel panels per group
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dyp4: array<vec4<f32>>; // packed dy
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// One row of the lane's tile: c[j] += s · dy[j], in named f32s as in gemm.subgroup.wgsl.
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

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let ksz = p.kh * p.kw;
  let ntaps = p.cg * ksz;
  let row0 = wid.x * SG * R;
  let col0 = (wid.y * SG + lane) * TN;
  let g = wid.z / p.splits;
  let split = wid.z % p.splits;
  let nBegin = split * p.nPerSplit;
  let nEnd = min(nBegin + p.nPerSplit, p.n);
  let plane = p.hp * p.wp;
  let ohw = p.oh * p.ow;
  let PV = SG * TN / 4u; // vec4s per pixel in a panel

  // Offset of this lane's tap (c, kh, kw) in each block from a window origin, at channel g·cg; clamped.
  var koff: vec4<u32>;
  for (var r = 0u; r < R; r++) {
    let tap = min(row0 + r * SG + lane, ntaps - 1u);
    let t = tap % ksz;
    koff[r] = (g * p.cg + tap / ksz) * plane + (t / p.kw) * p.dilH * p.wp + (t % p.kw) * p.dilW;
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

  for (var n = nBegin; n < nEnd; n++) {
    let xn = n * p.c * plane;
    var d = ((n * p.groups + g) * p.panels + wid.y) * ohw * PV + lane * (TN / 4u);
    // One loop over the image's pixels, the row step by a counter: lavapipe ran nested
    // (oh, ow) loops, OW iterations each, ×1.10–1.14 slower.
    var xo = xn;
    var ow = 0u;
    for (var pix = 0u; pix < ohw; pix++) {
      let w0 = dyp4[d];
      var w1 = vec4<f32>(0.0);
      if (TN == 8u) { w1 = dyp4[d + 1u]; }
      let av0 = x[xo + koff[0]];
      var av1 = 0.0;
      var av2 = 0.0;
      var av3 = 0.0;
      if (R > 1u) { av1 = x[xo + koff[1]]; }
      if (R > 2u) { av2 = x[xo + koff[2]]; }
      if (R > 3u) { av3 = x[xo + koff[3]]; }
      // Row q of the tile (a tap) comes from lane q % SG of block q / SG.
      if (SG == 8u) {
        row(subgroupBroadcast(av0, 0u), w0, w1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
        row(subgroupBroadcast(av0, 1u), w0, w1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
        row(subgroupBroadcast(av0, 2u), w0, w1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
        row(subgroupBroadcast(av0, 3u), w0, w1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
        row(subgroupBroadcast(av0, 4u), w0, w1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
        row(subgroupBroadcast(av0, 5u), w0, w1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
        row(subgroupBroadcast(av0, 6u), w0, w1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
        row(subgroupBroadcast(av0, 7u), w0, w1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
        if (R > 1u) {
          row(subgroupBroadcast(av1, 0u), w0, w1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
          row(subgroupBroadcast(av1, 1u), w0, w1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
          row(subgroupBroadcast(av1, 2u), w0, w1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
          row(subgroupBroadcast(av1, 3u), w0, w1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
          row(subgroupBroadcast(av1, 4u), w0, w1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
          row(subgroupBroadcast(av1, 5u), w0, w1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
          row(subgroupBroadcast(av1, 6u), w0, w1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
          row(subgroupBroadcast(av1, 7u), w0, w1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
        }
      } else {
        row(subgroupBroadcast(av0, 0u), w0, w1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
        row(subgroupBroadcast(av0, 1u), w0, w1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
        row(subgroupBroadcast(av0, 2u), w0, w1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
        row(subgroupBroadcast(av0, 3u), w0, w1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
        if (R > 1u) {
          row(subgroupBroadcast(av1, 0u), w0, w1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
          row(subgroupBroadcast(av1, 1u), w0, w1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
          row(subgroupBroadcast(av1, 2u), w0, w1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
          row(subgroupBroadcast(av1, 3u), w0, w1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
        }
        if (R > 2u) {
          row(subgroupBroadcast(av2, 0u), w0, w1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
          row(subgroupBroadcast(av2, 1u), w0, w1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
          row(subgroupBroadcast(av2, 2u), w0, w1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
          row(subgroupBroadcast(av2, 3u), w0, w1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
        }
        if (R > 3u) {
          row(subgroupBroadcast(av3, 0u), w0, w1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
          row(subgroupBroadcast(av3, 1u), w0, w1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
          row(subgroupBroadcast(av3, 2u), w0, w1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
          row(subgroupBroadcast(av3, 3u), w0, w1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
        }
      }
      d += PV;
      xo += p.strideW;
      ow++;
      if (ow == p.ow) {
        ow = 0u;
        xo += p.strideH * p.wp - p.ow * p.strideW;
      }
    }
  }

  if (col0 >= p.og) { return; }
  // A plain loop over a copy (see gemm.subgroup.wgsl).
  let tile = array<vec4<f32>, 32>(vec4<f32>(c0_0, c0_1, c0_2, c0_3), vec4<f32>(c0_4, c0_5, c0_6, c0_7), vec4<f32>(c1_0, c1_1, c1_2, c1_3), vec4<f32>(c1_4, c1_5, c1_6, c1_7), vec4<f32>(c2_0, c2_1, c2_2, c2_3), vec4<f32>(c2_4, c2_5, c2_6, c2_7), vec4<f32>(c3_0, c3_1, c3_2, c3_3), vec4<f32>(c3_4, c3_5, c3_6, c3_7), vec4<f32>(c4_0, c4_1, c4_2, c4_3), vec4<f32>(c4_4, c4_5, c4_6, c4_7), vec4<f32>(c5_0, c5_1, c5_2, c5_3), vec4<f32>(c5_4, c5_5, c5_6, c5_7), vec4<f32>(c6_0, c6_1, c6_2, c6_3), vec4<f32>(c6_4, c6_5, c6_6, c6_7), vec4<f32>(c7_0, c7_1, c7_2, c7_3), vec4<f32>(c7_4, c7_5, c7_6, c7_7), vec4<f32>(c8_0, c8_1, c8_2, c8_3), vec4<f32>(c8_4, c8_5, c8_6, c8_7), vec4<f32>(c9_0, c9_1, c9_2, c9_3), vec4<f32>(c9_4, c9_5, c9_6, c9_7), vec4<f32>(c10_0, c10_1, c10_2, c10_3), vec4<f32>(c10_4, c10_5, c10_6, c10_7), vec4<f32>(c11_0, c11_1, c11_2, c11_3), vec4<f32>(c11_4, c11_5, c11_6, c11_7), vec4<f32>(c12_0, c12_1, c12_2, c12_3), vec4<f32>(c12_4, c12_5, c12_6, c12_7), vec4<f32>(c13_0, c13_1, c13_2, c13_3), vec4<f32>(c13_4, c13_5, c13_6, c13_7), vec4<f32>(c14_0, c14_1, c14_2, c14_3), vec4<f32>(c14_4, c14_5, c14_6, c14_7), vec4<f32>(c15_0, c15_1, c15_2, c15_3), vec4<f32>(c15_4, c15_5, c15_6, c15_7));
  let nrows = min(SG * R, ntaps - row0);
  let ncols = min(TN, p.og - col0);
  let base = (split * p.o + g * p.og + col0) * ntaps + row0;
  for (var i = 0u; i < nrows; i++) {
    for (var j = 0u; j < ncols; j++) {
      part[base + j * ntaps + i] = tile[i * 2u + j / 4u][j % 4u];
    }
  }
}
