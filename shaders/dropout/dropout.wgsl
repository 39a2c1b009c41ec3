// Inverted dropout, forward and backward in one kernel: out = t · keep(i) / (1 − p),
// where t is x (forward) or dy (backward). keep(i) comes from a counter-based hash of
// (seed, i), so the backward pass recomputes the forward's mask instead of storing it.
// One invocation per element on a 2-D grid.

override WG: u32 = 256;

struct Params { total: u32, seed: u32, p: f32 }

@group(0) @binding(0) var<storage, read> t: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// lowbias32 (Chris Wellons): a well-mixed 32-bit integer hash.
fn hash(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u; x *= 0x7feb352du;
  x ^= x >> 15u; x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.total) { return; }
  let u = f32(hash(i ^ hash(params.seed)) >> 8u) / 16777216.0;
  out[i] = select(0.0, t[i] / (1.0 - params.p), u >= params.p);
}
