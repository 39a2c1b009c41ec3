// Max pooling backward for 2×2 windows at stride 2 that tile the input (no padding, H even,
// W a multiple of 4), the layout of maxpool2d.fwd_2x2.wgsl: each invocation takes two
// horizontally adjacent windows (and with ROWS = 2 the two below them), one vec4 load per
// input row and one vec2 of dy per window pair, and writes each dx row as one vec4: dy at
// the window's argmax (the forward's tie rule: the first maximum in row-major order), 0
// elsewhere. The CPU emulators issue loads and stores lane by lane, so their count, not
// bytes, sets the time (maxpool2d.bwd_windows.wgsl: 9 per window; here 2.5). With RELU_MASK
// it is also the backward of the ReLU before it (dx = 0 where the input is not positive).
// Straight-line code: SwiftShader does not unroll loops.

override WG: u32 = 256;
override ROWS: u32 = 2; // output rows per invocation: 1 or 2
override RELU_MASK: bool = false;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; // rows of w / 4
@group(0) @binding(1) var<storage, read> dy: array<vec2<f32>>; // rows of ow / 2
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

// dy's g spread over one window [a b; c d]: to its first maximum, as 4 flags of (a, b, c, d).
fn route(a: f32, b: f32, c: f32, d: f32, g: f32) -> vec4<f32> {
  var best = a;
  var at = 0u;
  if (b > best) { best = b; at = 1u; }
  if (c > best) { best = c; at = 2u; }
  if (d > best) { best = d; at = 3u; }
  var v = g;
  if (RELU_MASK && !(best > 0.0)) { v = 0.0; }
  return select(vec4<f32>(0.0), vec4<f32>(v), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(at));
}

// Two windows: input rows at, at + w4 (vec4 index), dy pair at o.
fn windows(at: u32, w4: u32, o: u32) {
  let r0 = x[at];
  let r1 = x[at + w4];
  let g = dy[o];
  let left = route(r0.x, r0.y, r1.x, r1.y, g.x);
  let right = route(r0.z, r0.w, r1.z, r1.w, g.y);
  dx[at] = vec4<f32>(left.x, left.y, right.x, right.y);
  dx[at + w4] = vec4<f32>(left.z, left.w, right.z, right.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let w4 = p.w / 4u;
  let perRow = p.ow / 2u; // = w4
  // Output row r (over all planes) reads input rows 2r and 2r + 1, as H = 2·OH.
  let band = idx / perRow; // ROWS output rows
  let j = idx - band * perRow;
  let at = band * ROWS * 2u * w4 + j;
  let o = band * ROWS * perRow + j;
  windows(at, w4, o);
  if (ROWS == 2u) { windows(at + 2u * w4, w4, o + perRow); }
}
