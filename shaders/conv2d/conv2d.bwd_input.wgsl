// conv2d gradient with respect to the input (a transposed convolution), as an implicit
// GEMM: rows are input pixels (n, ih, iw) flattened, columns the input channels of one
// group, K runs over (o, kh, kw) of that group. A tap contributes where
// ih + padTop - kh·dilH is a multiple of strideH landing inside the output (same for w).
// Tiling: each invocation owns 4 input pixels × 4 input channels; a workgroup of
// WG_X × WG_Y covers (4·WG_X) pixels × (4·WG_Y) channels; dispatch z is the group.

override WG_X: u32 = 16;
override WG_Y: u32 = 4;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32, dilH: u32,
  dilW: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let npix = p.n * p.h * p.w;
  let pix0 = gid.x * 4u;
  let ic0 = gid.y * 4u;
  if (pix0 >= npix || ic0 >= p.cg) { return; }
  let g = gid.z;
  let ohw = p.oh * p.ow;
  let ksz = p.kh * p.kw;

  var dybase: array<u32, 4>;
  var th0: array<i32, 4>; // ih + padTop
  var tw0: array<i32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let pix = min(pix0 + i, npix - 1u);
    let iw = pix % p.w;
    let t = pix / p.w;
    let ih = t % p.h;
    let n = t / p.h;
    dybase[i] = (n * p.o + g * p.og) * ohw;
    th0[i] = i32(ih + p.padTop);
    tw0[i] = i32(iw + p.padLeft);
  }
  let ics = min(vec4<u32>(ic0, ic0 + 1u, ic0 + 2u, ic0 + 3u), vec4<u32>(p.cg - 1u));
  let wcol = ics * ksz;

  var acc: array<vec4<f32>, 4>;
  for (var oc = 0u; oc < p.og; oc++) {
    let wrow = (g * p.og + oc) * p.cg * ksz;
    for (var kh = 0u; kh < p.kh; kh++) {
      for (var kw = 0u; kw < p.kw; kw++) {
        let kidx = wrow + kh * p.kw + kw;
        let wv = vec4<f32>(wt[kidx + wcol.x], wt[kidx + wcol.y], wt[kidx + wcol.z], wt[kidx + wcol.w]);
        let dh = i32(kh * p.dilH);
        let dw = i32(kw * p.dilW);
        for (var i = 0u; i < 4u; i++) {
          let th = th0[i] - dh;
          let tw = tw0[i] - dw;
          if (th >= 0 && tw >= 0) {
            let oh = u32(th) / p.strideH;
            let ow = u32(tw) / p.strideW;
            if (oh * p.strideH == u32(th) && ow * p.strideW == u32(tw) && oh < p.oh && ow < p.ow) {
              acc[i] += dy[dybase[i] + oc * ohw + oh * p.ow + ow] * wv;
            }
          }
        }
      }
    }
  }

  let hw = p.h * p.w;
  for (var i = 0u; i < 4u; i++) {
    let pix = pix0 + i;
    if (pix >= npix) { break; }
    let n = pix / hw;
    let r = pix % hw;
    for (var j = 0u; j < 4u; j++) {
      if (ic0 + j < p.cg) { dx[(n * p.c + g * p.cg + ic0 + j) * hw + r] = acc[i][j]; }
    }
  }
}
