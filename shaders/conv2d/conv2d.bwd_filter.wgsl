// conv2d gradient with respect to the filter, as a GEMM whose K is the batch and the
// output pixels: dw[o, (c, kh, kw)] = Σ_{n, oh, ow} dy[n, o, oh, ow] · xp[n, c, oh·s + kh·d, ow·s + kw·d],
// over the zero-padded input xp (conv2d.pad.wgsl), so there are no bounds checks.
// Tiling: each invocation owns 4 output channels × 4 filter taps (c, kh, kw); a workgroup
// of WG_X × WG_Y covers (4·WG_X) taps × (4·WG_Y) channels. K is long (N·OH·OW) while the
// output is small, so K is split over the batch: dispatch z = group · splits + split, and
// each split writes its partial sums to its own slice of `part` (summed by sum.wgsl).

override WG_X: u32 = 16;
override WG_Y: u32 = 4;

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
  let plane = p.hp * p.wp;
  let ohw = p.oh * p.ow;

  // Offset of each tap (c, kh, kw) from a window origin, at channel g·cg.
  var koff = vec4<u32>();
  for (var j = 0u; j < 4u; j++) {
    let col = min(col0 + j, ncols - 1u);
    let r = col % ksz;
    koff[j] = (g * p.cg + col / ksz) * plane + (r / p.kw) * p.dilH * p.wp + (r % p.kw) * p.dilW;
  }
  let ocs = (min(vec4<u32>(oc0, oc0 + 1u, oc0 + 2u, oc0 + 3u), vec4<u32>(p.og - 1u)) + vec4<u32>(g * p.og)) * ohw;

  var acc0 = vec4<f32>(0.0); // tap j = 0, over 4 channels
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var n = nBegin; n < nEnd; n++) {
    let xn = n * p.c * plane;
    var d = n * p.o * ohw;
    for (var oh = 0u; oh < p.oh; oh++) {
      var xo = xn + oh * p.strideH * p.wp;
      for (var ow = 0u; ow < p.ow; ow++) {
        let dv = vec4<f32>(dy[d + ocs.x], dy[d + ocs.y], dy[d + ocs.z], dy[d + ocs.w]);
        acc0 += x[xo + koff.x] * dv;
        acc1 += x[xo + koff.y] * dv;
        acc2 += x[xo + koff.z] * dv;
        acc3 += x[xo + koff.w] * dv;
        d += 1u;
        xo += p.strideW;
      }
    }
  }

  // part is [splits, O, cg·KH·KW]
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let sbase = split * p.o * ncols;
  for (var i = 0u; i < 4u; i++) {
    if (oc0 + i >= p.og) { break; }
    let row = sbase + (g * p.og + oc0 + i) * ncols;
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < ncols) { part[row + col0 + j] = accs[j][i]; }
    }
  }
}
