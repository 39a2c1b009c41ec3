// conv2d forward for CPU-emulated adapters: the implicit GEMM of conv2d.fwd.wgsl with the
// subgroup-broadcast tiling of gemm.subgroup.wgsl. Rows are the output channels of one
// group, columns the output pixels (n, oh, ow) flattened, K runs over (c, kh, kw).
// The workgroup is one subgroup of SG lanes. Lane l owns TN consecutive pixels; for each
// tap it loads their TN inputs and the weight of channel r·SG + l (r < R), and
// subgroupBroadcast gives every lane all SG·R weights: R + TN loads per (SG·R)·TN FMAs.
// A workgroup covers (SG·R) channels × (SG·TN) pixels; dispatch z is the group.
// Input zero-padded beforehand (conv2d.pad.wgsl), so the tap loop has no bounds checks;
// edge tiles clamp their loads and mask their stores, and no lane returns before the loop.
// Also an input gradient: this kernel on the upsampled, padded dy with flipped weights
// (grouped and "same" convolutions; others use a GEMM and conv2d.col2im.wgsl).
// Layouts: x NCHW (padded to hp × wp), w OIHW (I = C / groups), y NCHW.
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // channel blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // output pixels per lane: 4 or 8
override HAS_BIAS: bool = false;
override RELU: bool = false;
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being FOLD_Z groups (ops/dispatch.ts foldX)

struct Params {
  n: u32, c: u32, hp: u32, wp: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
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
  if (FOLD_Z > 0u && bx * SG * TN >= npix) { return; } // past the end of a folded grid: the whole workgroup
  let oc0 = wid.y * SG * R; // channel within the group
  let pix0 = (bx * SG + lane) * TN;

  // Offset of each pixel's window origin in the padded input, at channel g·cg.
  var base0: vec4<u32>; // pixels 0-3
  var base1: vec4<u32>; // pixels 4-7
  for (var j = 0u; j < TN; j++) {
    let pix = min(pix0 + j, npix - 1u);
    let ow = pix % p.ow;
    let t = pix / p.ow;
    let n = t / p.oh;
    let v = (n * p.c + g * p.cg) * plane + (t % p.oh) * p.strideH * p.wp + ow * p.strideW;
    if (j < 4u) { base0[j] = v; } else { base1[j - 4u] = v; }
  }
  // This lane's weight row in each channel block, clamped.
  let ksz = p.kh * p.kw;
  var wrow: vec4<u32>;
  for (var r = 0u; r < R; r++) {
    wrow[r] = (g * p.og + min(oc0 + r * SG + lane, p.og - 1u)) * p.cg * ksz;
  }

  // One flat loop over the taps (c, kh, kw), with the offset stepped by counters: nested
  // loops of 3–5 trips cost their loop overhead per tap on the CPU emulators.
  let ntaps = p.cg * ksz;
  let rowStep = p.dilH * p.wp - p.kw * p.dilW; // from the end of a kernel row to the next row
  let chanStep = plane - p.kh * p.dilH * p.wp; // from the end of a channel's window to the next
  // (u32 arithmetic wraps, so a step that is negative with dilation still lands right)
  var off = 0u;
  var kw = 0u;
  var kh = 0u;
  for (var kidx = 0u; kidx < ntaps; kidx++) {
    let x0 = vec4<f32>(x[base0.x + off], x[base0.y + off], x[base0.z + off], x[base0.w + off]);
    var x1 = vec4<f32>(0.0);
    if (TN == 8u) { x1 = vec4<f32>(x[base1.x + off], x[base1.y + off], x[base1.z + off], x[base1.w + off]); }
    // Row q of the tile comes from lane q % SG of block q / SG.
    let av0 = wt[wrow[0] + kidx];
    var av1 = 0.0;
    var av2 = 0.0;
    var av3 = 0.0;
    if (R > 1u) { av1 = wt[wrow[1] + kidx]; }
    if (R > 2u) { av2 = wt[wrow[2] + kidx]; }
    if (R > 3u) { av3 = wt[wrow[3] + kidx]; }
    accumulate(av0, av1, av2, av3, x0, x1);
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

  if (pix0 >= npix) { return; }
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
  let nch = min(SG * R, p.og - oc0);
  let npx = min(TN, npix - pix0);
  for (var i = 0u; i < nch; i++) {
    let oc = g * p.og + oc0 + i;
    var bv = 0.0;
    if (HAS_BIAS) { bv = bias[oc]; }
    for (var j = 0u; j < npx; j++) {
      let pix = pix0 + j;
      var v = tile[i * 2u + j / 4u][j % 4u] + bv;
      if (RELU) { v = max(v, 0.0); }
      y[((pix / ohw) * p.o + oc) * ohw + pix % ohw] = v;
    }
  }
}
