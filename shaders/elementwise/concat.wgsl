// Channel concatenation, one input at a time. MODE 0 (forward) writes x [N, C, S] into
// channels [c0, c0 + C) of y [N, Ctotal, S]; MODE 1 (backward) reads those channels of
// dy back out into dx [N, C, S]. One invocation per element of the part, on a 2-D grid.
// Over V = f32, or vec4<f32> where S is a multiple of 4 (ops/dispatch.ts pointwiseDispatch
// swaps the alias line; then total and s count vec4s).

override WG: u32 = 256;
override MODE: u32 = 0;
alias V = f32;

struct Params { total: u32, c: u32, s: u32, ctotal: u32, c0: u32 }

@group(0) @binding(0) var<storage, read> src: array<V>;
@group(0) @binding(1) var<storage, read_write> dst: array<V>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let s = i % p.s;
  let c = (i / p.s) % p.c;
  let n = i / (p.s * p.c);
  let j = (n * p.ctotal + p.c0 + c) * p.s + s;
  if (MODE == 0u) { dst[j] = src[i]; } else { dst[i] = src[j]; }
}
