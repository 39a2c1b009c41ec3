// Softmax cross-entropy, forward, fused and stable: for each row,
// loss = log Σ exp(z − max) − (z[label] − max); the output is the mean over rows.
// One workgroup: WG invocations stride over the rows, then a tree reduction in
// workgroup memory. Labels are class indices stored as f32.

override WG: u32 = 64;

struct Params { rows: u32, classes: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var r = lid; r < p.rows; r += WG) {
    let base = r * p.classes;
    var m = logits[base];
    for (var j = 1u; j < p.classes; j++) { m = max(m, logits[base + j]); }
    var s = 0.0;
    for (var j = 0u; j < p.classes; j++) { s += exp(logits[base + j] - m); }
    let label = min(u32(labels[r]), p.classes - 1u);
    sum += log(s) - (logits[base + label] - m);
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = partial[0] / f32(p.rows); }
}
