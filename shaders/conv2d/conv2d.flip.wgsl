// Weights for the input gradient: w [O, cg, KH, KW] → wf [C, og, KH, KW] with
// wf[g·cg + c, o, kh, kw] = w[g·og + o, c, KH−1−kh, KW−1−kw] (channels swapped within each
// group, kernel rotated 180°), so that dx is conv2d.fwd of the padded dy with wf.
// One invocation per filter (c, o): rotating a KH×KW filter by 180° reverses its KH·KW
// contiguous values, so the index arithmetic (divisions, which the CPU emulators run lane by
// lane) is paid once per filter, not per weight: 64×64×3×3 and 64×32×5×5 ran ×2.7–3.3 faster
// on lavapipe and SwiftShader (0.52 → 0.20 ms, 0.85 → 0.26 ms on lavapipe), bit-identical.

override WG: u32 = 256;

struct Params { total: u32, og: u32, cg: u32, kk: u32 } // total: filters, C·og; kk: KH·KW

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wf: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG; // cc·og + o, cc = g·cg + c
  if (idx >= p.total) { return; }
  let o = idx % p.og;
  let cc = idx / p.og;
  let g = cc / p.cg;
  let src = ((g * p.og + o) * p.cg + cc % p.cg) * p.kk + p.kk - 1u;
  let dst = idx * p.kk;
  for (var t = 0u; t < p.kk; t++) {
    wf[dst + t] = w[src - t];
  }
}
