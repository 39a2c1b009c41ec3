// Packs one GEMM operand into panels for gemm.subgroup.wgsl (PACKED_A / PACKED_B): panel q of
// batch z holds P rows of op(A) (or P columns of op(B)), k-major:
// out[z][q][k][i] = X[z][q·P + i][k], zero past the edge. The GEMM then reads each k's slice as
// P adjacent floats and walks a panel front to back, where in place rows a multiple of 4 KiB
// apart would share cache sets. Each invocation writes 4 adjacent floats of a panel (one vec4
// store: on the CPU emulators every store and its index arithmetic run lane by lane; one float
// per invocation packed 2.4× slower). Workgroups: x over a panel's k·P / 4 vec4s, y = panel,
// z = batch.
override WG: u32 = 64;
override P: u32 = 16; // panel width: 8, 16, 32 or 64

struct Params {
  rows: u32, // rows of op(X) to pack (m for A, n for B)
  k: u32,
  rowStride: u32, // elements between rows of op(X)
  kStride: u32, // elements between k steps
  batchIn: u32, // elements between batches of X (0: one X for every batch)
  panels: u32, // ceil(rows / P)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

fn at(base: u32, row: u32) -> f32 {
  if (row >= p.rows) { return 0.0; }
  return x[base + row * p.rowStride];
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let v = gid.x; // vec4 within the panel
  if (v >= p.k * P / 4u) { return; }
  let e = v * 4u;
  let kk = e / P;
  let row = wid.y * P + e % P;
  let base = wid.z * p.batchIn + kk * p.kStride;
  out[(wid.z * p.panels + wid.y) * p.k * P / 4u + v] = vec4<f32>(at(base, row), at(base, row + 1u), at(base, row + 2u), at(base, row + 3u));
}
