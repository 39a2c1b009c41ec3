// im2col for the GPU route of conv2d's filter gradient where it runs in passes (conv2d.ts
// im2colFilterPlan: the regrouped dy and partial sums do not fit one; in one pass its GEMM
// reads the same matrix from x, gemm.shared.wgsl IM2COL_B): for each group s of `chunk` images,
// the matrix
//   col[s][(c, kh, kw)][(img, oh, ow)] = x[first + s·chunk + img][c][oh·SH − padTop + kh·DH][ow·SW − padLeft + kw·DW],
// 0 where that falls in the padding or past the last image: the group's images' columns side
// by side, so the workgroup-memory GEMM dW = dy · colᵀ runs K over chunk·OH·OW, not one
// image's pixels (conv2d.ts im2colFilterGroups). (The forward reads its im2col from x in
// place too.)
// One invocation per element of col, consecutive invocations along (oh, ow): coalesced
// stores. GPUs only; the CPU emulators use the implicit-GEMM kernels, which read x in place
// (ops/tuning.ts: convIm2col).

override WG: u32 = 256;

struct Params {
  total: u32, c: u32, h: u32, w: u32,
  oh: u32, ow: u32, kh: u32, kw: u32,
  strideH: u32, strideW: u32, dilH: u32, dilW: u32,
  padTop: i32, padLeft: i32, chunk: u32, n: u32, // chunk: images per group; n: images in x
  first: u32, // the image the first group starts at (the forward's passes over a large batch)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> col: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let pixels = p.oh * p.ow;
  let pix = idx % pixels;
  var r = idx / pixels; // (((s·C + c)·KH + kh)·KW + kw)·chunk + img
  let img = r % p.chunk;
  r = r / p.chunk;
  let kw = r % p.kw;
  r = r / p.kw;
  let kh = r % p.kh;
  r = r / p.kh; // s·C + c
  let image = p.first + (r / p.c) * p.chunk + img;
  let plane = image * p.c + r % p.c;
  let i = i32((pix / p.ow) * p.strideH + kh * p.dilH) - p.padTop;
  let j = i32((pix % p.ow) * p.strideW + kw * p.dilW) - p.padLeft;
  var v = 0.0;
  if (image < p.n && i >= 0 && j >= 0 && u32(i) < p.h && u32(j) < p.w) { v = x[(plane * p.h + u32(i)) * p.w + u32(j)]; }
  col[idx] = v;
}
