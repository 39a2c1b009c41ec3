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
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
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
      accumulate(av0, av1, av2, av3, w0, w1);
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
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
  let nrows = min(SG * R, ntaps - row0);
  let ncols = min(TN, p.og - col0);
  let base = (split * p.o + g * p.og + col0) * ntaps + row0;
  for (var i = 0u; i < nrows; i++) {
    for (var j = 0u; j < ncols; j++) {
      part[base + j * ntaps + i] = tile[i * 2u + j / 4u][j % 4u];
    }
  }
}
