// Softmax cross-entropy, backward: dz = scale · (softmax(z) − onehot(label)) / rows,
// where scale is dL/dloss (1 for a plain loss). One invocation per row.
//
// An invalid label (NaN, fractional, negative, or ≥ classes) makes its whole row of dz NaN,
// as softmax_xent.fwd.wgsl makes the loss NaN: the labels live on the GPU, so the op cannot
// refuse them without a readback, and a visibly broken result beats training on a wrong class.
// The other rows are unaffected. dz is bound as u32 so that the NaN is stored as a bit pattern
// (WGSL lets an implementation assume arithmetic never makes a NaN).

override WG: u32 = 64;

struct Params { rows: u32, classes: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

// A quiet NaN's bits.
const NAN_BITS = 0x7fc00000u;

/** Whether v is a class index: an integer in [0, classes). False for NaN and ±Infinity. */
fn is_label(v: f32, classes: u32) -> bool {
  // NOTE: by the bits first: WGSL lets a compiler assume no NaN, so comparisons cannot be trusted to reject one.
  let finite = (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
  return finite && v >= 0.0 && v < f32(classes) && v == floor(v);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let v = labels[r];
  if (!is_label(v, p.classes)) {
    for (var j = 0u; j < p.classes; j++) { dz[base + j] = NAN_BITS; }
    return;
  }
  var m = logits[base];
  for (var j = 1u; j < p.classes; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.classes; j++) { s += exp(logits[base + j] - m); }
  let label = u32(v);
  let k = p.scale / f32(p.rows);
  for (var j = 0u; j < p.classes; j++) {
    let prob = exp(logits[base + j] - m) / s;
    dz[base + j] = bitcast<u32>(k * (prob - select(0.0, 1.0, j == label)));
  }
}
