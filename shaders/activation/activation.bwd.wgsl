// Pointwise activations, backward. `t` is the forward INPUT x for ReLU and leaky ReLU,
// and the forward OUTPUT y for sigmoid and tanh (their derivatives are cheapest in y).
// OP: 0 ReLU, 1 leaky ReLU, 2 sigmoid, 3 tanh.
// Over V = f32, or vec4<f32> (4 elements an invocation) where the count and offsets allow
// (ops/dispatch.ts pointwiseDispatch swaps the alias line; every expression holds for both).

override WG: u32 = 256;
override OP: u32 = 0;
alias V = f32;

struct Params { total: u32, alpha: f32 }

@group(0) @binding(0) var<storage, read> t: array<V>;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read_write> dx: array<V>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let v = t[idx];
  let g = dy[idx];
  switch OP {
    // NOTE: the gradient at exactly x = 0 is 0, matching max(x, 0) taken as "x > 0 passes".
    case 0u: { dx[idx] = select(V(0.0), g, v > V(0.0)); }
    case 1u: { dx[idx] = select(p.alpha * g, g, v > V(0.0)); }
    case 2u: { dx[idx] = g * v * (1.0 - v); }
    default: { dx[idx] = g * (1.0 - v * v); }
  }
}
