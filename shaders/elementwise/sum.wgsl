// Sum over one axis of x viewed as [outer, len, inner] → [outer, inner].
// One invocation per output element, looping over the axis; consecutive invocations
// read consecutive `inner` elements, so the loads coalesce when inner > 1.

override WG: u32 = 256;

struct Params { outer: u32, len: u32, inner: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.outer * p.inner) { return; }
  let o = idx / p.inner;
  let i = idx % p.inner;
  var s = 0.0;
  for (var j = 0u; j < p.len; j++) { s += x[(o * p.len + j) * p.inner + i]; }
  y[idx] = s;
}
