// Average pooling backward, as a gather: one invocation per input element sums
// dy / count over the windows that contain it (count = that window's non-padding size).

override WG: u32 = 256;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn span(o: u32, stride: u32, pad: u32, k: u32, size: u32) -> u32 {
  let lo = i32(o * stride) - i32(pad);
  return u32(min(lo + i32(k), i32(size)) - max(lo, 0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let hw = p.h * p.w;
  let plane = idx / hw;
  let here = idx % hw;
  let th = i32(here / p.w + p.padTop);
  let tw = i32(here % p.w + p.padLeft);
  let ohLo = u32(max(th - i32(p.kh) + i32(p.strideH), 0)) / p.strideH;
  let ohHi = min(u32(th) / p.strideH, p.oh - 1u);
  let owLo = u32(max(tw - i32(p.kw) + i32(p.strideW), 0)) / p.strideW;
  let owHi = min(u32(tw) / p.strideW, p.ow - 1u);
  var g = 0.0;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    let ch = span(oh, p.strideH, p.padTop, p.kh, p.h);
    for (var ow = owLo; ow <= owHi; ow++) {
      let cw = span(ow, p.strideW, p.padLeft, p.kw, p.w);
      g += dy[(plane * p.oh + oh) * p.ow + ow] / f32(ch * cw);
    }
  }
  dx[idx] = g;
}
