// Softmax cross-entropy, backward: dz = scale · (softmax(z) − onehot(label)) / rows,
// where scale is dL/dloss (1 for a plain loss). One invocation per row.

override WG: u32 = 64;

struct Params { rows: u32, classes: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  var m = logits[base];
  for (var j = 1u; j < p.classes; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.classes; j++) { s += exp(logits[base + j] - m); }
  let label = u32(labels[r]);
  let k = p.scale / f32(p.rows);
  for (var j = 0u; j < p.classes; j++) {
    let prob = exp(logits[base + j] - m) / s;
    dz[base + j] = k * (prob - select(0.0, 1.0, j == label));
  }
}
