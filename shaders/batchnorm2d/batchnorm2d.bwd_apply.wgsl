// BatchNorm2d input gradient (training mode, batch statistics), per element:
// dx = gamma · inv / M · (M·dy − dbeta − x̂ · dgamma), M = N·H·W, with dbeta and dgamma from
// batchnorm2d.bwd_reduce.wgsl. One invocation per element on a 2-D grid.
// Over V = f32, or vec4<f32> where S is a multiple of 4 (ops/dispatch.ts pointwiseDispatch
// swaps the alias line; then total and s count vec4s; the per-channel arrays stay f32).

override WG: u32 = 256;
alias V = f32;

struct Params { total: u32, c: u32, s: u32, eps: f32, m: f32 }

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read> dbeta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<V>;
@group(0) @binding(7) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let ch = (i / p.s) % p.c;
  let inv = inverseSqrt(stats[p.c + ch] + p.eps);
  let xhat = (x[i] - stats[ch]) * inv;
  dx[i] = gamma[ch] * inv / p.m * (p.m * dy[i] - dbeta[ch] - xhat * dgamma[ch]);
}
