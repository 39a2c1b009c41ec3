// Pointwise activations, forward: y = f(x). One invocation per element, 2-D grid.
// OP: 0 ReLU, 1 leaky ReLU (slope alpha below 0), 2 sigmoid, 3 tanh.
// Over V = f32, or vec4<f32> (4 elements an invocation) where the count and offsets allow
// (ops/dispatch.ts pointwiseDispatch swaps the alias line; every expression holds for both).

override WG: u32 = 256;
override OP: u32 = 0;
alias V = f32;

struct Params { total: u32, alpha: f32 }

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read_write> y: array<V>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let v = x[idx];
  switch OP {
    case 0u: { y[idx] = max(v, V(0.0)); }
    case 1u: { y[idx] = select(p.alpha * v, v, v > V(0.0)); }
    // NOTE: exp(-v) overflows to inf for v < -88, and 1 / (1 + inf) = 0 is the right limit.
    case 2u: { y[idx] = 1.0 / (1.0 + exp(-v)); }
    default: { y[idx] = tanh(clamp(v, V(-15.0), V(15.0))); } // tanh(±15) is ±1 in f32; clamping avoids inf/inf in some drivers
  }
}
