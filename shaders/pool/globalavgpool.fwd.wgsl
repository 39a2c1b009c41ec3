// Global average pooling: y[n, c] = mean over h, w. One invocation per (n, c) plane.

override WG: u32 = 64;

struct Params { planes: u32, hw: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.planes) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.hw; i++) { s += x[idx * p.hw + i]; }
  y[idx] = s / f32(p.hw);
}
