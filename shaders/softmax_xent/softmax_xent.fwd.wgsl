// Softmax cross-entropy, forward, fused and stable: for each row,
// loss = log Σ exp(z − max) − (z[label] − max); the output is the mean over rows.
// One workgroup: WG invocations stride over the rows, then a tree reduction in
// workgroup memory. Labels are class indices stored as f32.
//
// An invalid label (NaN, fractional, negative, or ≥ classes) makes its row's loss NaN, and
// so the mean NaN, as softmax_xent.bwd.wgsl makes that row's gradient NaN: the labels live on
// the GPU, so the op cannot refuse them without a readback, and a visibly broken result beats
// training on a wrong class. NOTE: the NaN is written as a bit pattern through a flag, not
// carried through the sum, because WGSL lets an implementation assume arithmetic never makes
// or keeps a NaN.

override WG: u32 = 64;

struct Params { rows: u32, classes: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

// A quiet NaN's bits; loss is bound as u32 so that no f32 NaN value is ever formed in the shader.
const NAN_BITS = 0x7fc00000u;

var<workgroup> partial: array<f32, WG>;
var<workgroup> invalid: atomic<u32>;

/** Whether v is a class index: an integer in [0, classes). False for NaN and ±Infinity. */
fn is_label(v: f32, classes: u32) -> bool {
  // NOTE: by the bits first: WGSL lets a compiler assume no NaN, so comparisons cannot be trusted to reject one.
  let finite = (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
  return finite && v >= 0.0 && v < f32(classes) && v == floor(v);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var r = lid; r < p.rows; r += WG) {
    let v = labels[r];
    if (!is_label(v, p.classes)) {
      atomicStore(&invalid, 1u);
      continue;
    }
    let base = r * p.classes;
    var m = logits[base];
    for (var j = 1u; j < p.classes; j++) { m = max(m, logits[base + j]); }
    var s = 0.0;
    for (var j = 0u; j < p.classes; j++) { s += exp(logits[base + j] - m); }
    sum += log(s) - (logits[base + u32(v)] - m);
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let mean = bitcast<u32>(partial[0] / f32(p.rows));
    loss[0] = select(mean, NAN_BITS, atomicLoad(&invalid) != 0u);
  }
}
