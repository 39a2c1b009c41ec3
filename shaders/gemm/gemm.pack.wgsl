// Packs one GEMM operand into panels for gemm.subgroup.wgsl (PACKED_A / PACKED_B): panel q of
// batch z holds P rows of op(A) (or P columns of op(B)), k-major:
// out[z][q][k][i] = X[z][q·P + i][k], zero past the edge. The GEMM then reads each k's slice as
// P adjacent floats and walks a panel front to back, where in place rows a multiple of 4 KiB
// apart would share cache sets. Each invocation writes 4 adjacent floats of a panel (one vec4
// store: on the CPU emulators every store and its index arithmetic run lane by lane; one float
// per invocation packed 2.4× slower). Workgroups: x over a panel's k·P / 4 vec4s, y = panel,
// z = batch. VEC (rows contiguous along k, in whole aligned vec4s): each invocation instead
// reads a 4 × 4 block as 4 vec4s of x4 (the same buffer) and writes its transpose as 4 vec4s,
// 2 memory ops per 4 floats instead of 5, a quarter of the invocations; workgroups x then
// cover k·P / 16 blocks (paired: lavapipe ×1.08–1.37, SwiftShader ×1.4–1.65).
override WG: u32 = 64;
// Panel width: the callers pass SG·R (4, 8, 12 or 16: rows of A, conv2d's weights) or SG·TN
// (16, 32 or 64), but the kernel needs only P % 4 == 0, so that no vec4 (nor VEC's 4 × 4 block)
// straddles two k.
override P: u32 = 16;
override VEC: bool = false;

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
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>; // x again where VEC, else a dummy
@group(0) @binding(3) var<uniform> p: Params;

fn at(base: u32, row: u32) -> f32 {
  if (row >= p.rows) { return 0.0; }
  return x[base + row * p.rowStride];
}

// Row `row`'s 4 values from k (a multiple of 4) on, as one vec4; zero past the edge.
fn at4(base: u32, row: u32, k: u32) -> vec4<f32> {
  if (row >= p.rows) { return vec4<f32>(0.0); }
  return x4[(base + row * p.rowStride + k) / 4u];
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  if (VEC) {
    let blk = gid.x; // 4 k × 4 rows, row groups fastest
    if (blk >= p.k * P / 16u) { return; }
    let k0 = (blk / (P / 4u)) * 4u;
    let r0 = (blk % (P / 4u)) * 4u;
    let row = wid.y * P + r0;
    let base = wid.z * p.batchIn;
    let a = at4(base, row, k0);
    let b = at4(base, row + 1u, k0);
    let c = at4(base, row + 2u, k0);
    let d = at4(base, row + 3u, k0);
    let o = ((wid.z * p.panels + wid.y) * p.k * P + k0 * P + r0) / 4u;
    let s = P / 4u; // vec4s per k
    out[o] = vec4<f32>(a.x, b.x, c.x, d.x);
    out[o + s] = vec4<f32>(a.y, b.y, c.y, d.y);
    out[o + 2u * s] = vec4<f32>(a.z, b.z, c.z, d.z);
    out[o + 3u * s] = vec4<f32>(a.w, b.w, c.w, d.w);
    return;
  }
  let v = gid.x; // vec4 within the panel
  if (v >= p.k * P / 4u) { return; }
  let e = v * 4u;
  let kk = e / P;
  let row = wid.y * P + e % P;
  let base = wid.z * p.batchIn + kk * p.kStride;
  out[(wid.z * p.panels + wid.y) * p.k * P / 4u + v] = vec4<f32>(at(base, row), at(base, row + 1u), at(base, row + 2u), at(base, row + 3u));
}
