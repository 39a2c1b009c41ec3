// conv2d forward as an implicit GEMM: rows are output pixels (n, oh, ow) flattened,
// columns are the output channels of one group, and K runs over (c, kh, kw) of that group.
// No im2col buffer is built; each load computes its input coordinate on the fly.
// Tiling: each invocation owns 4 consecutive output pixels × 4 output channels (vec4
// accumulators over channels); a workgroup of WG_X × WG_Y invocations covers
// (4·WG_X) pixels × (4·WG_Y) channels; dispatch z is the group. No workgroup memory,
// for the same reason as gemm.wgsl. Optional fused bias and ReLU.
// Layouts: x NCHW, w OIHW (I = C / groups), y NCHW.

override WG_X: u32 = 16;
override WG_Y: u32 = 4;
override HAS_BIAS: bool = false;
override RELU: bool = false;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32, dilH: u32,
  dilW: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let npix = p.n * p.oh * p.ow;
  let pix0 = gid.x * 4u;
  let oc0 = gid.y * 4u; // channel within the group
  if (pix0 >= npix || oc0 >= p.og) { return; }
  let g = gid.z;
  let hw = p.h * p.w;
  let ksz = p.kh * p.kw;

  // Per pixel: base of its image's first channel in this group, and its window origin.
  var xbase: array<u32, 4>;
  var ih0: array<i32, 4>;
  var iw0: array<i32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let pix = min(pix0 + i, npix - 1u);
    let ow = pix % p.ow;
    let t = pix / p.ow;
    let oh = t % p.oh;
    let n = t / p.oh;
    xbase[i] = (n * p.c + g * p.cg) * hw;
    ih0[i] = i32(oh * p.strideH) - i32(p.padTop);
    iw0[i] = i32(ow * p.strideW) - i32(p.padLeft);
  }
  let ocs = min(vec4<u32>(oc0, oc0 + 1u, oc0 + 2u, oc0 + 3u), vec4<u32>(p.og - 1u)) + vec4<u32>(g * p.og);
  let wrow = ocs * (p.cg * ksz);

  var acc: array<vec4<f32>, 4>;
  for (var c = 0u; c < p.cg; c++) {
    for (var kh = 0u; kh < p.kh; kh++) {
      for (var kw = 0u; kw < p.kw; kw++) {
        let kidx = c * ksz + kh * p.kw + kw;
        let wv = vec4<f32>(wt[wrow.x + kidx], wt[wrow.y + kidx], wt[wrow.z + kidx], wt[wrow.w + kidx]);
        let dh = i32(kh * p.dilH);
        let dw = i32(kw * p.dilW);
        for (var i = 0u; i < 4u; i++) {
          let ih = ih0[i] + dh;
          let iw = iw0[i] + dw;
          if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
            acc[i] += x[xbase[i] + c * hw + u32(ih) * p.w + u32(iw)] * wv;
          }
        }
      }
    }
  }

  var bv = vec4<f32>(0.0);
  if (HAS_BIAS) { bv = vec4<f32>(bias[ocs.x], bias[ocs.y], bias[ocs.z], bias[ocs.w]); }
  let ohw = p.oh * p.ow;
  for (var i = 0u; i < 4u; i++) {
    let pix = pix0 + i;
    if (pix >= npix) { break; }
    let n = pix / ohw;
    let r = pix % ohw;
    var v = acc[i] + bv;
    if (RELU) { v = max(v, vec4<f32>(0.0)); }
    for (var j = 0u; j < 4u; j++) {
      if (oc0 + j < p.og) { y[(n * p.o + g * p.og + oc0 + j) * ohw + r] = v[j]; }
    }
  }
}
