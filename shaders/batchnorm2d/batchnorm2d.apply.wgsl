// BatchNorm2d normalisation: y = (x − mean[c]) / sqrt(var[c] + eps) · gamma[c] + beta[c], with
// stats = [mean[C], var[C]] (the batch's in training, the running ones in inference).
// One invocation per element on a 2-D grid.
// Over V = f32, or vec4<f32> where S is a multiple of 4 (ops/dispatch.ts pointwiseDispatch
// swaps the alias line; then total and s count vec4s; the per-channel arrays stay f32).

override WG: u32 = 256;
alias V = f32;

struct Params { total: u32, c: u32, s: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let ch = (i / p.s) % p.c;
  y[i] = (x[i] - stats[ch]) * inverseSqrt(stats[p.c + ch] + p.eps) * gamma[ch] + beta[ch];
}
