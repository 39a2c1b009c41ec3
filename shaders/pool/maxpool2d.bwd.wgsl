// Max pooling backward, as a gather: one invocation per INPUT element sums dy over the
// windows that contain it and chose it as their maximum (recomputed with the forward's
// tie rule). No atomics, and no argmax buffer to keep alive between passes.

override WG: u32 = 256;
// The input is a ReLU's output and that ReLU's backward is folded in here (nn/model.ts):
// dx = 0 where the input is not positive.
override RELU_MASK: bool = false;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Flat index (within the plane) of the window's first maximum.
fn argmax(base: u32, oh: u32, ow: u32) -> u32 {
  let ih0 = i32(oh * p.strideH) - i32(p.padTop);
  let iw0 = i32(ow * p.strideW) - i32(p.padLeft);
  var best = 0.0; // replaced by the first in-bounds value
  var at = 0xffffffffu;
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = ih0 + i32(kh);
    if (ih < 0 || ih >= i32(p.h)) { continue; }
    for (var kw = 0u; kw < p.kw; kw++) {
      let iw = iw0 + i32(kw);
      if (iw < 0 || iw >= i32(p.w)) { continue; }
      let i = u32(ih) * p.w + u32(iw);
      let v = x[base + i];
      if (at == 0xffffffffu || v > best) { best = v; at = i; }
    }
  }
  return at;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let hw = p.h * p.w;
  let plane = idx / hw;
  let here = idx % hw;
  let ih = i32(here / p.w);
  let iw = i32(here % p.w);
  // Windows with oh·s − pad ≤ ih ≤ oh·s − pad + kh − 1.
  let th = ih + i32(p.padTop);
  let tw = iw + i32(p.padLeft);
  let ohLo = u32(max(th - i32(p.kh) + i32(p.strideH), 0)) / p.strideH;
  let ohHi = min(u32(th) / p.strideH, p.oh - 1u);
  let owLo = u32(max(tw - i32(p.kw) + i32(p.strideW), 0)) / p.strideW;
  let owHi = min(u32(tw) / p.strideW, p.ow - 1u);
  var g = 0.0;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    for (var ow = owLo; ow <= owHi; ow++) {
      if (argmax(plane * hw, oh, ow) == here) { g += dy[(plane * p.oh + oh) * p.ow + ow]; }
    }
  }
  if (RELU_MASK && !(x[idx] > 0.0)) { g = 0.0; }
  dx[idx] = g;
}
