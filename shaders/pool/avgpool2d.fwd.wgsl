// Average pooling forward: one invocation per output element (memory bound, no tiling).
// The divisor counts only the window's non-padding elements (count_include_pad = false).

override WG: u32 = 256;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let ow = idx % p.ow;
  let oh = (idx / p.ow) % p.oh;
  let base = idx / (p.ow * p.oh) * p.h * p.w;
  let ih0 = i32(oh * p.strideH) - i32(p.padTop);
  let iw0 = i32(ow * p.strideW) - i32(p.padLeft);
  let h0 = u32(max(ih0, 0));
  let h1 = u32(min(ih0 + i32(p.kh), i32(p.h)));
  let w0 = u32(max(iw0, 0));
  let w1 = u32(min(iw0 + i32(p.kw), i32(p.w)));
  var s = 0.0;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) { s += x[base + ih * p.w + iw]; }
  }
  y[idx] = s / f32((h1 - h0) * (w1 - w0));
}
