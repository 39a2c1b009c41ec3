// Zero padding, with optional zero insertion, as a gather: out[p, i, j] = in[p, (i − padTop) / SH,
// (j − padLeft) / SW] when that divides exactly and lands inside the input, else 0. With
// SH = SW = 1 this pads x for conv2d.fwd and conv2d.bwd_filter, so their inner loops need
// no bounds checks; with the stride it builds the upsampled, padded dy that turns the input
// gradient into a forward conv.
// GPUs: one invocation per output element (coalesced stores). CPU emulators (ROWWISE): one
// invocation per output row, as they pay each invocation's index arithmetic lane by lane
// (3.5× faster on lavapipe, 2× on SwiftShader). The strides are override constants: the
// emulators divide by a runtime value lane by lane, by a constant with a multiply.

override WG: u32 = 256;
override SH: u32 = 1;
override SW: u32 = 1;
override ROWWISE: bool = false;

struct Params { total: u32, h: u32, w: u32, hp: u32, wp: u32, padTop: i32, padLeft: i32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// The source row of output row i (of hp) in its plane, or -1 for a row of zeros.
fn srcRow(plane: u32, i: u32) -> i32 {
  let ti = i32(i) - p.padTop;
  let si = u32(ti) / SH;
  return select(-1, i32(plane * p.h + si), ti >= 0 && si * SH == u32(ti) && si < p.h);
}

fn value(row: i32, j: u32) -> f32 {
  let tj = i32(j) - p.padLeft;
  let sj = u32(tj) / SW;
  if (row >= 0 && tj >= 0 && sj * SW == u32(tj) && sj < p.w) { return src[u32(row) * p.w + sj]; }
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG; // an output row (ROWWISE) or element
  if (idx >= p.total) { return; }
  if (ROWWISE) {
    let plane = idx / p.hp;
    let row = srcRow(plane, idx - plane * p.hp);
    for (var j = 0u; j < p.wp; j++) { dst[idx * p.wp + j] = value(row, j); }
  } else {
    let r = idx / p.wp; // plane·hp + i
    let plane = r / p.hp;
    dst[idx] = value(srcRow(plane, r - plane * p.hp), idx - r * p.wp);
  }
}
