// conv2d bias gradient: db[c] = Σ_{n, s} dy[n, c, s] over an [N, C, S] view (GPUs; the CPU
// emulators take conv2d.bwd_bias.planes.wgsl). One workgroup per channel, the channels laid
// over x then y where they outnumber a dimension's workgroups: WG invocations stride over each image's S values (no
// per-element division: the CPU emulators run those lane by lane), then a tree reduction in
// workgroup memory (log2(WG) barriers, one per halving).

override WG: u32 = 64;

struct Params { n: u32, c: u32, s: u32 }

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ch = wid.x + wid.y * nwg.x;
  if (ch >= p.c) { return; } // the whole workgroup: barriers stay in uniform control flow
  var sum = 0.0;
  for (var n = 0u; n < p.n; n++) {
    let base = (n * p.c + ch) * p.s;
    for (var i = lid; i < p.s; i += WG) { sum += dy[base + i]; }
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { db[ch] = partial[0]; }
}
