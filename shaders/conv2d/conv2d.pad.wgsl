// Zero padding, with optional zero insertion, as a gather: one invocation per OUTPUT
// element. out[p, i, j] = in[p, (i − padTop) / s, (j − padLeft) / s] when that divides
// exactly and lands inside the input, else 0 (s = sh, sw per axis). With s = 1 this pads x for conv2d.fwd and
// conv2d.bwd_filter, so their inner loops need no bounds checks; with s = stride it
// builds the upsampled, padded dy that turns the input gradient into a forward conv.

override WG: u32 = 256;

struct Params { total: u32, h: u32, w: u32, hp: u32, wp: u32, padTop: i32, padLeft: i32, sh: u32, sw: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let j = i32(idx % p.wp);
  let i = i32((idx / p.wp) % p.hp);
  let plane = idx / (p.wp * p.hp);
  let ti = i - p.padTop;
  let tj = j - p.padLeft;
  var v = 0.0;
  if (ti >= 0 && tj >= 0) {
    let si = u32(ti) / p.sh;
    let sj = u32(tj) / p.sw;
    if (si * p.sh == u32(ti) && sj * p.sw == u32(tj) && si < p.h && sj < p.w) {
      v = src[(plane * p.h + si) * p.w + sj];
    }
  }
  dst[idx] = v;
}
