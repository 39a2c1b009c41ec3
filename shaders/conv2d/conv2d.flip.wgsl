// Weights for the input gradient: w [O, cg, KH, KW] → wf [C, og, KH, KW] with
// wf[g·cg + c, o, kh, kw] = w[g·og + o, c, KH−1−kh, KW−1−kw] (channels swapped within each
// group, kernel rotated 180°), so that dx is conv2d.fwd of the padded dy with wf.
// One invocation per weight; tiny next to the convolutions.

override WG: u32 = 256;

struct Params { total: u32, og: u32, cg: u32, kh: u32, kw: u32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wf: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let kw = idx % p.kw;
  let kh = (idx / p.kw) % p.kh;
  let o = (idx / (p.kw * p.kh)) % p.og;
  let cc = idx / (p.kw * p.kh * p.og); // g·cg + c
  let g = cc / p.cg;
  let c = cc % p.cg;
  wf[idx] = w[(((g * p.og + o) * p.cg + c) * p.kh + (p.kh - 1u - kh)) * p.kw + (p.kw - 1u - kw)];
}
