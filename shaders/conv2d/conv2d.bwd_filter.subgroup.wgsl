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
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
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
      accumulate(av0, av1, av2, av3, x0, x1);
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
  // part is [splits, O, cg·KH·KW].
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
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
