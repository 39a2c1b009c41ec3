// BatchNorm2d backward, per channel: dbeta = Σ dy and dgamma = Σ dy · x̂ over N·H·W, with
// x̂ = (x − mean) / sqrt(var + eps) from stats = [mean[C], var[C]] (the batch statistics,
// recomputed by batchnorm2d.stats.wgsl). One workgroup per channel, tree reductions.

override WG: u32 = 64;

struct Params { n: u32, c: u32, s: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> partial: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ch = wid.x;
  let mean = stats[ch];
  let inv = inverseSqrt(stats[p.c + ch] + p.eps);
  var acc = vec2<f32>(0.0);
  for (var i = lid; i < p.n * p.s; i += WG) {
    let j = ((i / p.s) * p.c + ch) * p.s + i % p.s;
    acc += vec2<f32>(dy[j], dy[j] * (x[j] - mean) * inv);
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    dbeta[ch] = partial[0].x;
    dgamma[ch] = partial[0].y;
  }
}
