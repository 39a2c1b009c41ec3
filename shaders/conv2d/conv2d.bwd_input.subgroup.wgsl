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

// One row of the lane's tile: c[j] += s · x[j], in named f32s as in gemm.subgroup.wgsl.
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
        if (SG == 8u) {
          row(subgroupBroadcast(av0, 0u), x0, x1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
          row(subgroupBroadcast(av0, 1u), x0, x1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
          row(subgroupBroadcast(av0, 2u), x0, x1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
          row(subgroupBroadcast(av0, 3u), x0, x1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
          row(subgroupBroadcast(av0, 4u), x0, x1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
          row(subgroupBroadcast(av0, 5u), x0, x1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
          row(subgroupBroadcast(av0, 6u), x0, x1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
          row(subgroupBroadcast(av0, 7u), x0, x1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
          if (R > 1u) {
            row(subgroupBroadcast(av1, 0u), x0, x1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
            row(subgroupBroadcast(av1, 1u), x0, x1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
            row(subgroupBroadcast(av1, 2u), x0, x1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
            row(subgroupBroadcast(av1, 3u), x0, x1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
            row(subgroupBroadcast(av1, 4u), x0, x1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
            row(subgroupBroadcast(av1, 5u), x0, x1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
            row(subgroupBroadcast(av1, 6u), x0, x1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
            row(subgroupBroadcast(av1, 7u), x0, x1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
          }
        } else {
          row(subgroupBroadcast(av0, 0u), x0, x1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
          row(subgroupBroadcast(av0, 1u), x0, x1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
          row(subgroupBroadcast(av0, 2u), x0, x1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
          row(subgroupBroadcast(av0, 3u), x0, x1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
          if (R > 1u) {
            row(subgroupBroadcast(av1, 0u), x0, x1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
            row(subgroupBroadcast(av1, 1u), x0, x1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
            row(subgroupBroadcast(av1, 2u), x0, x1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
            row(subgroupBroadcast(av1, 3u), x0, x1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
          }
          if (R > 2u) {
            row(subgroupBroadcast(av2, 0u), x0, x1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
            row(subgroupBroadcast(av2, 1u), x0, x1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
            row(subgroupBroadcast(av2, 2u), x0, x1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
            row(subgroupBroadcast(av2, 3u), x0, x1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
          }
          if (R > 3u) {
            row(subgroupBroadcast(av3, 0u), x0, x1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
            row(subgroupBroadcast(av3, 1u), x0, x1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
            row(subgroupBroadcast(av3, 2u), x0, x1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
            row(subgroupBroadcast(av3, 3u), x0, x1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
          }
        }
        off += ohw * PV;
        woff += PW;
      }
    }
  }

  if (img0 >= p.n) { return; }
  // A plain loop over a copy (see gemm.subgroup.wgsl): keeps acc in registers above and the JIT short.
  let tile = array<vec4<f32>, 32>(vec4<f32>(c0_0, c0_1, c0_2, c0_3), vec4<f32>(c0_4, c0_5, c0_6, c0_7), vec4<f32>(c1_0, c1_1, c1_2, c1_3), vec4<f32>(c1_4, c1_5, c1_6, c1_7), vec4<f32>(c2_0, c2_1, c2_2, c2_3), vec4<f32>(c2_4, c2_5, c2_6, c2_7), vec4<f32>(c3_0, c3_1, c3_2, c3_3), vec4<f32>(c3_4, c3_5, c3_6, c3_7), vec4<f32>(c4_0, c4_1, c4_2, c4_3), vec4<f32>(c4_4, c4_5, c4_6, c4_7), vec4<f32>(c5_0, c5_1, c5_2, c5_3), vec4<f32>(c5_4, c5_5, c5_6, c5_7), vec4<f32>(c6_0, c6_1, c6_2, c6_3), vec4<f32>(c6_4, c6_5, c6_6, c6_7), vec4<f32>(c7_0, c7_1, c7_2, c7_3), vec4<f32>(c7_4, c7_5, c7_6, c7_7), vec4<f32>(c8_0, c8_1, c8_2, c8_3), vec4<f32>(c8_4, c8_5, c8_6, c8_7), vec4<f32>(c9_0, c9_1, c9_2, c9_3), vec4<f32>(c9_4, c9_5, c9_6, c9_7), vec4<f32>(c10_0, c10_1, c10_2, c10_3), vec4<f32>(c10_4, c10_5, c10_6, c10_7), vec4<f32>(c11_0, c11_1, c11_2, c11_3), vec4<f32>(c11_4, c11_5, c11_6, c11_7), vec4<f32>(c12_0, c12_1, c12_2, c12_3), vec4<f32>(c12_4, c12_5, c12_6, c12_7), vec4<f32>(c13_0, c13_1, c13_2, c13_3), vec4<f32>(c13_4, c13_5, c13_6, c13_7), vec4<f32>(c14_0, c14_1, c14_2, c14_3), vec4<f32>(c14_4, c14_5, c14_6, c14_7), vec4<f32>(c15_0, c15_1, c15_2, c15_3), vec4<f32>(c15_4, c15_5, c15_6, c15_7));
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
