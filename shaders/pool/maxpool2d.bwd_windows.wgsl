// Max pooling backward where the windows tile the input exactly (stride = kernel, no
// padding, H = OH·KH, W = OW·KW: the usual 2×2/2): one invocation per window finds its
// argmax (the forward's tie rule) and writes the whole window of dx, dy at the maximum
// and 0 elsewhere. Every dx element is written once, with no gather over neighbouring
// windows: 4× fewer invocations and loads than maxpool2d.bwd.wgsl for 2×2, and no
// divergent loops, which CPU emulators pay for lane by lane. With RELU_MASK it is also the
// backward of the ReLU before it.

override WG: u32 = 256;
// The input is a ReLU's output and that ReLU's backward is folded in here (nn/model.ts):
// dx = 0 where the input is not positive.
override RELU_MASK: bool = false;
// The window, as constants so the loops unroll (set from TypeScript).
override KH: u32 = 2;
override KW: u32 = 2;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let ow = idx % p.ow;
  let oh = (idx / p.ow) % p.oh;
  let plane = idx / (p.ow * p.oh); // n·C + c
  let origin = plane * p.h * p.w + oh * KH * p.w + ow * KW;
  var best = x[origin];
  var at = origin;
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
      let i = origin + kh * p.w + kw;
      let v = x[i];
      if (v > best) { best = v; at = i; }
    }
  }
  var g = dy[idx];
  if (RELU_MASK && !(best > 0.0)) { g = 0.0; }
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
      let i = origin + kh * p.w + kw;
      dx[i] = select(0.0, g, i == at);
    }
  }
}
