// BatchNorm2d statistics: per channel, the mean and the biased variance over N·H·W, written
// to stats = [mean[C], var[C]]. With UPDATE_RUNNING (training forward) it also moves the
// running statistics running = [mean[C], var[C]] towards them (unbiased variance, PyTorch's
// rule). One workgroup per channel: strided sums, then a tree reduction in workgroup memory.
// Two passes over the data (mean, then squared deviations) keep the variance accurate.

override WG: u32 = 64;
override UPDATE_RUNNING: bool = false;

struct Params { n: u32, c: u32, s: u32, momentum: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> running: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

fn reduce(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ch = wid.x;
  let count = p.n * p.s;
  var sum = 0.0;
  for (var i = lid; i < count; i += WG) { sum += x[((i / p.s) * p.c + ch) * p.s + i % p.s]; }
  let mean = reduce(lid, sum) / f32(count);
  var sq = 0.0;
  for (var i = lid; i < count; i += WG) {
    let d = x[((i / p.s) * p.c + ch) * p.s + i % p.s] - mean;
    sq += d * d;
  }
  let variance = reduce(lid, sq) / f32(count);
  if (lid == 0u) {
    stats[ch] = mean;
    stats[p.c + ch] = variance;
    if (UPDATE_RUNNING) {
      let unbiased = variance * f32(count) / f32(max(count, 2u) - 1u);
      running[ch] = (1.0 - p.momentum) * running[ch] + p.momentum * mean;
      running[p.c + ch] = (1.0 - p.momentum) * running[p.c + ch] + p.momentum * unbiased;
    }
  }
}
