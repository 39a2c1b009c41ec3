// conv2d gradient with respect to the filter, as a GEMM whose K is the batch and the
// output pixels: dw[o, (c, kh, kw)] = Σ_{n, oh, ow} dy[n, o, oh, ow] · x[n, c, ih, iw].
// Tiling: each invocation owns 4 output channels × 4 filter taps (c, kh, kw); a workgroup
// of WG_X × WG_Y covers (4·WG_X) taps × (4·WG_Y) channels. K is long (N·OH·OW) while the
// output is small, so K is split: dispatch z = group · splits + split, and each split
// writes its partial sums to its own slice of `part` (summed afterwards by sum.wgsl).

override WG_X: u32 = 16;
override WG_Y: u32 = 4;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32, dilH: u32,
  dilW: u32, splits: u32, nPerSplit: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ksz = p.kh * p.kw;
  let ncols = p.cg * ksz;
  let col0 = gid.x * 4u;
  let oc0 = gid.y * 4u;
  if (col0 >= ncols || oc0 >= p.og) { return; }
  let g = gid.z / p.splits;
  let split = gid.z % p.splits;
  let nBegin = split * p.nPerSplit;
  let nEnd = min(nBegin + p.nPerSplit, p.n);
  let hw = p.h * p.w;
  let ohw = p.oh * p.ow;

  // Per tap column: channel offset within the image and the kernel offset.
  var coff: array<u32, 4>;
  var dh: array<i32, 4>;
  var dw: array<i32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let col = min(col0 + j, ncols - 1u);
    let c = col / ksz;
    let r = col % ksz;
    coff[j] = (g * p.cg + c) * hw;
    dh[j] = i32((r / p.kw) * p.dilH) - i32(p.padTop);
    dw[j] = i32((r % p.kw) * p.dilW) - i32(p.padLeft);
  }
  let ocs = min(vec4<u32>(oc0, oc0 + 1u, oc0 + 2u, oc0 + 3u), vec4<u32>(p.og - 1u)) + vec4<u32>(g * p.og);

  var acc: array<vec4<f32>, 4>; // acc[j][i]: tap j, channel i
  for (var n = nBegin; n < nEnd; n++) {
    let xn = n * p.c * hw;
    let dyn = n * p.o * ohw;
    for (var oh = 0u; oh < p.oh; oh++) {
      for (var ow = 0u; ow < p.ow; ow++) {
        let d = dyn + oh * p.ow + ow;
        let dv = vec4<f32>(dy[d + ocs.x * ohw], dy[d + ocs.y * ohw], dy[d + ocs.z * ohw], dy[d + ocs.w * ohw]);
        let ihb = i32(oh * p.strideH);
        let iwb = i32(ow * p.strideW);
        for (var j = 0u; j < 4u; j++) {
          let ih = ihb + dh[j];
          let iw = iwb + dw[j];
          if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
            acc[j] += x[xn + coff[j] + u32(ih) * p.w + u32(iw)] * dv;
          }
        }
      }
    }
  }

  // part is [splits, O, cg·KH·KW]
  let sbase = split * p.o * ncols;
  for (var i = 0u; i < 4u; i++) {
    if (oc0 + i >= p.og) { break; }
    let row = sbase + (g * p.og + oc0 + i) * ncols;
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < ncols) { part[row + col0 + j] = acc[j][i]; }
    }
  }
}
