// Adam (with optional L2 weight decay added to the gradient), in place, one kernel over a
// flat range of parameters. The bias corrections 1 − β^t are computed on the host in f64.
// Over V = f32, or vec4<f32> (4 elements an invocation) where the count and offsets allow
// (ops/dispatch.ts pointwiseDispatch swaps the alias line; every expression holds for both).

override WG: u32 = 256;
alias V = f32;

struct Params {
  total: u32, lr: f32, beta1: f32, beta2: f32,
  eps: f32, weightDecay: f32, correction1: f32, correction2: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<V>;
@group(0) @binding(1) var<storage, read_write> param: array<V>;
@group(0) @binding(2) var<storage, read_write> m: array<V>;
@group(0) @binding(3) var<storage, read_write> v: array<V>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let g = grad[i] + p.weightDecay * param[i];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] -= p.lr * (mi / p.correction1) / (sqrt(vi / p.correction2) + p.eps);
}
