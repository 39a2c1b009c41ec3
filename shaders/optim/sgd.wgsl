// SGD with momentum and weight decay (PyTorch semantics), in place, one kernel over a
// flat range of parameters: g = grad + wd·param; v = momentum·v + g; param −= lr·v.
// Over V = f32, or vec4<f32> (4 elements an invocation) where the count and offsets allow
// (ops/dispatch.ts pointwiseDispatch swaps the alias line; every expression holds for both).

override WG: u32 = 256;
alias V = f32;

struct Params { total: u32, lr: f32, momentum: f32, weightDecay: f32 }

@group(0) @binding(0) var<storage, read> grad: array<V>;
@group(0) @binding(1) var<storage, read_write> param: array<V>;
@group(0) @binding(2) var<storage, read_write> velocity: array<V>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let g = grad[i] + p.weightDecay * param[i];
  let v = p.momentum * velocity[i] + g;
  velocity[i] = v;
  param[i] -= p.lr * v;
}
