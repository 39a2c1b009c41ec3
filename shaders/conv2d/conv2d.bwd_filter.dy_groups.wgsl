// dy for the GPU filter gradient (conv2d.ts, im2col route): dy [N, O, OH·OW] → dyg
// [S, O, chunk, OH·OW], the images from `first` in S groups of chunk (zeros past the last
// image; S groups a pass where the scratch does not hold them all: im2colFilterPlan), so each
// group's dy is one [O, chunk·OH·OW] matrix: the A of the GEMM dW_s = dyg[s] · col[s]ᵀ, whose
// K runs over all the group's pixels (col: read from x in place by gemm.shared.wgsl IM2COL_B,
// or in passes written by conv2d.im2col.wgsl, with the same chunk). Per image a
// copy of contiguous OH·OW runs. One invocation per element of dyg, consecutive invocations
// along the pixels: coalesced stores, and loads coalesced within each run.

override WG: u32 = 256;

struct Params { total: u32, o: u32, chunk: u32, pixels: u32, n: u32, first: u32 } // first: the pass's first image (conv2d.ts im2colFilterPlan)

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dyg: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let pix = idx % p.pixels;
  var r = idx / p.pixels; // (s·O + o)·chunk + i
  let i = r % p.chunk;
  r = r / p.chunk;
  let o = r % p.o;
  let s = r / p.o;
  let image = p.first + s * p.chunk + i;
  var v = 0.0;
  if (image < p.n) { v = dy[(image * p.o + o) * p.pixels + pix]; }
  dyg[idx] = v;
}
