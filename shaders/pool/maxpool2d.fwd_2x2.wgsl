// Max pooling forward for 2×2 windows at stride 2 that tile the input (no padding, H even,
// W a multiple of 4): the most common pool, and memory bound. Each invocation takes two
// horizontally adjacent windows, one vec4 load per input row, and with ROWS = 2 (OH even)
// the two below them too: the CPU emulators issue loads lane by lane, so the number of
// loads per output, not bytes, sets the time. Straight-line code: SwiftShader does not
// unroll loops.

override WG: u32 = 256;
override ROWS: u32 = 2; // output rows per invocation: 1 or 2

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>; // rows of w / 4
@group(0) @binding(1) var<storage, read_write> y: array<vec2<f32>>; // rows of ow / 2
@group(0) @binding(2) var<uniform> p: Params;

// Two windows: input rows at, at + w4 (vec4 index), as the two maxima.
fn windows(at: u32, w4: u32) -> vec2<f32> {
  let m = max(x[at], x[at + w4]);
  return vec2(max(m.x, m.y), max(m.z, m.w));
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
  let out = band * ROWS * perRow + j;
  y[out] = windows(at, w4);
  if (ROWS == 2u) { y[out + perRow] = windows(at + 2u * w4, w4); }
}
