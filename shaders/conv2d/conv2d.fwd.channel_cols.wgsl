// conv2d forward for CPU-emulated adapters (chosen on lavapipe: tuning.convChannelCols), the
// operands of conv2d.fwd.subgroup.wgsl swapped: rows are output pixels (n, oh, ow) flattened, columns
// the output channels of one group, K the taps (c, kh, kw). The weights come packed by
// gemm.pack.wgsl into k-major panels of SG·TN channels (zero past the edge), so a lane's TN
// channels at one tap are TN / 4 aligned vec4 loads; each lane also loads the input of pixel
// r·SG + l (r < R), and subgroupBroadcast gives every lane all SG·R of them: R + TN / 4 loads
// per (SG·R)·TN FMAs, where pixel columns take R + TN (loads run lane by lane on the
// emulators). A workgroup covers (SG·R) pixels × (SG·TN) channels: dispatch (pixel blocks,
// channel panels, group). Input zero-padded beforehand (conv2d.pad.wgsl); edge tiles clamp
// their loads and mask their stores, and no lane returns before the loop.
// Layouts: x NCHW (padded to hp × wp), packed w [group][panel][tap][SG·TN], y NCHW.
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // pixel blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // output channels per lane: 4 or 8
override HAS_BIAS: bool = false;
override RELU: bool = false;
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being FOLD_Z groups (ops/dispatch.ts foldX)

struct Params {
  n: u32, c: u32, hp: u32, wp: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32, panels: u32, // channel panels per group
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wp4: array<vec4<f32>>; // packed weights
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let npix = p.n * p.oh * p.ow;
  let ohw = p.oh * p.ow;
  let plane = p.hp * p.wp;
  let nz = max(FOLD_Z, 1u);
  let g = select(wid.z, wid.z % nz, FOLD_Z > 0u);
  let bx = select(wid.x, wid.x + (wid.z / nz) * nwg.x, FOLD_Z > 0u);
  if (FOLD_Z > 0u && bx * SG * R >= npix) { return; } // past the end of a folded grid: the whole workgroup
  let pix0 = bx * SG * R;
  let col0 = (wid.y * SG + lane) * TN;
  // Offset of this lane's pixel's window origin in each block, at channel g·cg; clamped.
  var xb: vec4<u32>;
  for (var r = 0u; r < R; r++) {
    let pix = min(pix0 + r * SG + lane, npix - 1u);
    let ow = pix % p.ow;
    let t = pix / p.ow;
    let n = t / p.oh;
    xb[r] = (n * p.c + g * p.cg) * plane + (t % p.oh) * p.strideH * p.wp + ow * p.strideW;
  }
  let ksz = p.kh * p.kw;
  let ntaps = p.cg * ksz;
  let PV = SG * TN / 4u; // vec4s per tap in a panel
  let wBase = (g * p.panels + wid.y) * ntaps * PV + lane * (TN / 4u);

  // One flat loop over the taps with the offset stepped by counters, as conv2d.fwd.subgroup.wgsl.
  let rowStep = p.dilH * p.wp - p.kw * p.dilW;
  let chanStep = plane - p.kh * p.dilH * p.wp;
  var off = 0u;
  var kw = 0u;
  var kh = 0u;
  for (var kidx = 0u; kidx < ntaps; kidx++) {
    let w0 = wp4[wBase + kidx * PV];
    var w1 = vec4<f32>(0.0);
    if (TN == 8u) { w1 = wp4[wBase + kidx * PV + 1u]; }
    let av0 = x[xb[0] + off];
    var av1 = 0.0;
    var av2 = 0.0;
    var av3 = 0.0;
    if (R > 1u) { av1 = x[xb[1] + off]; }
    if (R > 2u) { av2 = x[xb[2] + off]; }
    if (R > 3u) { av3 = x[xb[3] + off]; }
    // Row q of the tile (a pixel) comes from lane q % SG of block q / SG.
    accumulate(av0, av1, av2, av3, w0, w1);
    off += p.dilW;
    kw++;
    if (kw == p.kw) {
      kw = 0u;
      off += rowStep;
      kh++;
      if (kh == p.kh) {
        kh = 0u;
        off += chanStep;
      }
    }
  }

  if (col0 >= p.og) { return; }
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
  let nrows = min(SG * R, npix - pix0);
  let ncols = min(TN, p.og - col0);
  // Row i's pixel as (image, offset in its plane), stepped: no division per row.
  var n = pix0 / ohw;
  var s = pix0 - n * ohw;
  for (var i = 0u; i < nrows; i++) {
    let o = (n * p.o + g * p.og + col0) * ohw + s;
    s++;
    if (s == ohw) { s = 0u; n++; }
    for (var j = 0u; j < ncols; j++) {
      var v = tile[i * 2u + j / 4u][j % 4u];
      if (HAS_BIAS) { v += bias[g * p.og + col0 + j]; }
      if (RELU) { v = max(v, 0.0); }
      y[o + j * ohw] = v;
    }
  }
}
