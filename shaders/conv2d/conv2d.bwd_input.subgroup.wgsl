// conv2d input gradient at stride 1 for CPU-emulated adapters, with no wasted multiply:
// dx[n, c, h, w] = Σ_{kh, kw, o} W[o, c, kh, kw] · dy[n, o, h + padTop − kh·DH, w + padLeft − kw·DW]
// over the taps that land inside dy. An implicit GEMM whose columns are the images at ONE
// input pixel (h, w): every column of a workgroup then reads the same taps, so it loops
// over exactly the valid (kh, kw) of that pixel, and for each over all O channels. (Pixel
// columns, as in the forward kernel, would mix pixels with different valid taps: the
// upsampled-dy route multiplies the padding's zeros, the col2im route writes KH·KW copies
// of dx.) The innermost loop runs over O, whose bound is the same for every workgroup;
// one flat loop over (o, kh, kw) with per-pixel bounds ran lavapipe 1.9× slower.
// Both operands come packed by gemm.pack.wgsl (zero past the edge): dy into panels of
// SG·TN images, [panel][o][oh·ow][SG·TN], so a lane's TN images at one (o, pixel) are TN / 4
// aligned vec4 loads; W into panels of SG·R input channels, [kh·kw][block][o][SG·R], so the
// SG lanes' weights at one (tap, o) are adjacent. Lane l owns TN images and loads the
// weight of channel r·SG + l (r < R); subgroupBroadcast hands every lane all SG·R of them:
// R + TN / 4 loads per (SG·R)·TN FMAs. A workgroup covers SG·R input channels × SG·TN
// images at one pixel: dispatch (image panels, channel blocks, H·W). Edge tiles mask their
// stores. dx NCHW [N, C, H, W]; ungrouped.
// The register tile (accumulate, tileRows) is ../common/subgroup_tile.wgsl, appended by ops/dispatch.ts.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // channel blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // images per lane: 4 or 8

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, dilH: u32, dilW: u32, padTop: u32,
  padLeft: u32, blocks: u32, // channel blocks of SG·R
}

@group(0) @binding(0) var<storage, read> dyp4: array<vec4<f32>>; // packed dy
@group(0) @binding(1) var<storage, read> wp: array<f32>; // packed weights
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// The taps k of one axis whose output index t − k·d lies in [0, len): [lo, hi), hi ≤ lo when none.
fn tapRange(t: u32, d: u32, k: u32, len: u32) -> vec2<u32> {
  let lo = select(0u, (t - (len - 1u) + d - 1u) / d, t + 1u > len);
  let hi = min(t / d + 1u, k);
  return vec2<u32>(lo, hi);
}

@compute @workgroup_size(SG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let pixel = wid.z; // h·W + w, uniform over the workgroup
  let h = pixel / p.w;
  let w = pixel - h * p.w;
  let th = h + p.padTop;
  let tw = w + p.padLeft;
  let rh = tapRange(th, p.dilH, p.kh, p.oh);
  let rw = tapRange(tw, p.dilW, p.kw, p.ow);
  let c0 = wid.y * SG * R;
  let img0 = (wid.x * SG + lane) * TN;
  let ohw = p.oh * p.ow;
  let PV = SG * TN / 4u; // vec4s per (o, pixel) in a dy panel
  let PW = SG * R;       // floats per (tap, o) in a weight block
  // This lane's packed dy at o = 0, pixel (th, tw), and weight at o = 0, tap 0.
  let dyBase = (wid.x * p.o * ohw + th * p.ow + tw) * PV + lane * (TN / 4u);
  let wBase = wid.y * p.o * PW + lane;
  let wTap = p.blocks * p.o * PW;

  for (var kh = rh.x; kh < rh.y; kh++) {
    for (var kw = rw.x; kw < rw.y; kw++) {
      // dy[n, o, th − kh·DH, tw − kw·DW] (u32 arithmetic wraps back into range) and W[o, c, kh, kw].
      var off = dyBase - (kh * p.dilH * p.ow + kw * p.dilW) * PV;
      var woff = wBase + (kh * p.kw + kw) * wTap;
      for (var o = 0u; o < p.o; o++) {
        let x0 = dyp4[off];
        var x1 = vec4<f32>(0.0);
        if (TN == 8u) { x1 = dyp4[off + 1u]; }
        // Row q of the tile (a channel) comes from lane q % SG of block q / SG.
        let av0 = wp[woff];
        var av1 = 0.0;
        var av2 = 0.0;
        var av3 = 0.0;
        if (R > 1u) { av1 = wp[woff + SG]; }
        if (R > 2u) { av2 = wp[woff + 2u * SG]; }
        if (R > 3u) { av3 = wp[woff + 3u * SG]; }
        accumulate(av0, av1, av2, av3, x0, x1);
        off += ohw * PV;
        woff += PW;
      }
    }
  }

  if (img0 >= p.n) { return; }
  let tile = tileRows(); // stored by plain loops (subgroup_tile.wgsl)
  let nch = min(SG * R, p.c - c0);
  let nimg = min(TN, p.n - img0);
  let plane = p.h * p.w;
  for (var i = 0u; i < nch; i++) {
    let o0 = (c0 + i) * plane + pixel;
    for (var j = 0u; j < nimg; j++) {
      dx[(img0 + j) * p.c * plane + o0] = tile[i * 2u + j / 4u][j % 4u];
    }
  }
}
