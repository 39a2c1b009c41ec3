// conv2d input gradient at stride 1 for CPU-emulated adapters, with no wasted multiply:
// dx[n, c, h, w] = Σ_{kh, kw, o} W[o, c, kh, kw] · dy[n, o, h + padTop − kh·DH, w + padLeft − kw·DW]
// over the taps that land inside dy. An implicit GEMM whose columns are the images at ONE
// input pixel (h, w): every column of a workgroup then reads the same taps, so the K loop
// runs over exactly the valid (kh, kw) range of that pixel, × O. (Pixel-major columns, as
// in the forward kernel, would mix pixels with different valid taps: the upsampled-dy
// route multiplies the padding's zeros, the col2im route writes KH·KW copies of dx.)
// Tiling as conv2d.fwd.subgroup.wgsl: one subgroup of SG lanes per workgroup; lane l owns
// TN images; per tap it loads their TN dy values and the weight of channel r·SG + l
// (r < R), and subgroupBroadcast hands every lane all SG·R weights. A workgroup covers
// (SG·R) input channels × (SG·TN) images at one pixel: dispatch (image tiles, channel
// blocks, H·W). Edge tiles clamp their loads and mask their stores.
// Layouts: dy NCHW [N, O, OH, OW], w OIHW [O, C, KH, KW], dx NCHW [N, C, H, W]; ungrouped.
// Chosen on SwiftShader (tuning.convBwdInputDirect): lavapipe ran this loop, whose bounds
// vary per workgroup, 2× slower than the forward kernel's for the same multiplies.
enable subgroups;

override SG: u32 = 8;  // lanes per subgroup = invocations per workgroup: 4 or 8
override R: u32 = 2;   // channel blocks per lane; SG·R ≤ 16
override TN: u32 = 8;  // images per lane: 4 or 8

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, dilH: u32, dilW: u32, padTop: u32,
  padLeft: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// One row of the lane's tile: (c0, c1) += s · (x0, x1). 32 named vec4s, not an array:
// SwiftShader keeps a function-scope array in memory (5× slower).
fn rank1(c0: ptr<function, vec4<f32>>, c1: ptr<function, vec4<f32>>, s: f32, x0: vec4<f32>, x1: vec4<f32>) {
  let sv = vec4<f32>(s);
  *c0 = fma(sv, x0, *c0);
  if (TN == 8u) { *c1 = fma(sv, x1, *c1); }
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
  let nkh = select(0u, rh.y - rh.x, rh.y > rh.x);
  let nkw = select(0u, rw.y - rw.x, rw.y > rw.x);
  let c0 = wid.y * SG * R;
  let img0 = (wid.x * SG + lane) * TN;
  let ohw = p.oh * p.ow;
  let imgStride = p.o * ohw;

  // Offset of dy[n, 0, oh, ow] at the first valid tap, for each of the lane's images.
  let first = (th - rh.x * p.dilH) * p.ow + (tw - rw.x * p.dilW);
  var base0: vec4<u32>;
  var base1: vec4<u32>;
  for (var j = 0u; j < TN; j++) {
    let v = min(img0 + j, p.n - 1u) * imgStride + first;
    if (j < 4u) { base0[j] = v; } else { base1[j - 4u] = v; }
  }
  // This lane's weight W[0, c, kh0, kw0] in each channel block, clamped.
  let ksz = p.kh * p.kw;
  var wrow: vec4<u32>;
  for (var r = 0u; r < R; r++) {
    wrow[r] = min(c0 + r * SG + lane, p.c - 1u) * ksz + rh.x * p.kw + rw.x;
  }

  var c0_0: vec4<f32>; var c0_1: vec4<f32>; var c1_0: vec4<f32>; var c1_1: vec4<f32>; var c2_0: vec4<f32>; var c2_1: vec4<f32>; var c3_0: vec4<f32>; var c3_1: vec4<f32>;
  var c4_0: vec4<f32>; var c4_1: vec4<f32>; var c5_0: vec4<f32>; var c5_1: vec4<f32>; var c6_0: vec4<f32>; var c6_1: vec4<f32>; var c7_0: vec4<f32>; var c7_1: vec4<f32>;
  var c8_0: vec4<f32>; var c8_1: vec4<f32>; var c9_0: vec4<f32>; var c9_1: vec4<f32>; var c10_0: vec4<f32>; var c10_1: vec4<f32>; var c11_0: vec4<f32>; var c11_1: vec4<f32>;
  var c12_0: vec4<f32>; var c12_1: vec4<f32>; var c13_0: vec4<f32>; var c13_1: vec4<f32>; var c14_0: vec4<f32>; var c14_1: vec4<f32>; var c15_0: vec4<f32>; var c15_1: vec4<f32>;
  // One flat loop over (o, kh, kw), kw fastest, offsets stepped by counters (see the
  // forward kernel); kw fastest keeps consecutive loads of a lane in one cache line. The
  // next kw moves dy DW columns left and W one right; the next kh, DH rows up and one W
  // row down; the next o, one dy plane and one filter on.
  let ntaps = p.o * nkh * nkw;
  // u32 arithmetic wraps, so the negative steps still land right.
  let dyKw = 0u - p.dilW;
  let dyKh = nkw * p.dilW - p.dilH * p.ow;
  let wKh = p.kw - nkw;
  let dyO = nkh * p.dilH * p.ow + ohw;
  let wO = p.c * ksz - nkh * p.kw;
  var off = 0u;  // into dy
  var woff = 0u; // into wt
  var kw = 0u;
  var kh = 0u;
  for (var kidx = 0u; kidx < ntaps; kidx++) {
    let x0 = vec4<f32>(dy[base0.x + off], dy[base0.y + off], dy[base0.z + off], dy[base0.w + off]);
    var x1 = vec4<f32>(0.0);
    if (TN == 8u) { x1 = vec4<f32>(dy[base1.x + off], dy[base1.y + off], dy[base1.z + off], dy[base1.w + off]); }
    // Row q of the tile comes from lane q % SG of block q / SG.
    let av0 = wt[wrow[0] + woff];
    var av1 = 0.0;
    var av2 = 0.0;
    var av3 = 0.0;
    if (R > 1u) { av1 = wt[wrow[1] + woff]; }
    if (R > 2u) { av2 = wt[wrow[2] + woff]; }
    if (R > 3u) { av3 = wt[wrow[3] + woff]; }
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
    off += dyKw;
    woff++;
    kw++;
    if (kw == nkw) {
      kw = 0u;
      off += dyKh;
      woff += wKh;
      kh++;
      if (kh == nkh) {
        kh = 0u;
        off += dyO;
        woff += wO;
      }
    }
  }

  if (img0 >= p.n) { return; }
  // A plain loop over a copy (see gemm.subgroup.wgsl): keeps acc in registers above and the JIT short.
  let tile = array<vec4<f32>, 32>(c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1,
    c8_0, c8_1, c9_0, c9_1, c10_0, c10_1, c11_0, c11_1, c12_0, c12_1, c13_0, c13_1, c14_0, c14_1, c15_0, c15_1);
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
