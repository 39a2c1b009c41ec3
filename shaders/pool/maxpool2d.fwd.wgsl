// Max pooling forward. Memory bound, so no tiling: one invocation per output element,
// dispatched as a 2-D grid (x wraps at 65535 workgroups) so that any size fits.
// Padding never wins; ties go to the first maximum in (kh, kw) order. Without padding
// every window lies inside the input (PADDED = false): no bounds checks, which the CPU
// emulators run lane by lane.

override WG: u32 = 256;
override PADDED: bool = true;
// The window, as constants for the unpadded path, so its loops unroll (set from TypeScript).
override KH: u32 = 2;
override KW: u32 = 2;

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
  let plane = idx / (p.ow * p.oh); // n·C + c
  let base = plane * p.h * p.w;
  if (!PADDED) {
    let origin = base + oh * p.strideH * p.w + ow * p.strideW;
    var m = x[origin];
    for (var kh = 0u; kh < KH; kh++) {
      for (var kw = 0u; kw < KW; kw++) { m = max(m, x[origin + kh * p.w + kw]); }
    }
    y[idx] = m;
    return;
  }
  let ih0 = i32(oh * p.strideH) - i32(p.padTop);
  let iw0 = i32(ow * p.strideW) - i32(p.padLeft);
  var best = 0.0; // replaced by the first in-bounds value
  var found = false;
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = ih0 + i32(kh);
    if (ih < 0 || ih >= i32(p.h)) { continue; }
    for (var kw = 0u; kw < p.kw; kw++) {
      let iw = iw0 + i32(kw);
      if (iw < 0 || iw >= i32(p.w)) { continue; }
      let v = x[base + u32(ih) * p.w + u32(iw)];
      if (!found || v > best) { best = v; found = true; }
    }
  }
  y[idx] = best;
}
