// conv2d forward as an implicit GEMM over a zero-padded input (conv2d.pad.wgsl), so the
// inner loop has no bounds checks: rows are output pixels (n, oh, ow) flattened, columns
// the output channels of one group, K runs over (c, kh, kw) of that group.
// Tiling: each invocation owns TP consecutive output pixels (TP = 4 or 8) × 4 output
// channels (vec4 accumulators over channels); a workgroup of WG_X × WG_Y invocations covers
// (TP·WG_X) pixels × (4·WG_Y) channels; dispatch z is the group. The pixels 4–7 sit behind
// `if (TP == 8u)`, folded away at pipeline creation when TP = 4. No workgroup memory
// (see gemm.wgsl). Edge tiles clamp their loads and mask their stores.
// Also an input gradient: the same kernel on the upsampled, padded dy with flipped weights
// (grouped and "same" convolutions; others use a GEMM and conv2d.col2im.wgsl).
// Layouts: x NCHW (padded to hp × wp), w OIHW (I = C / groups), y NCHW.

override WG_X: u32 = 16;
override WG_Y: u32 = 4;
override HAS_BIAS: bool = false;
override RELU: bool = false;
override TP: u32 = 4; // output pixels per invocation: 4 or 8
override FOLD_Z: u32 = 0u; // > 0: x blocks folded onto z past the dispatch limit, z being FOLD_Z groups (ops/dispatch.ts foldX)

struct Params {
  n: u32, c: u32, hp: u32, wp: u32,
  o: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, cg: u32, og: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let npix = p.n * p.oh * p.ow;
  let nz = max(FOLD_Z, 1u);
  let bx = select(wid.x, wid.x + (wid.z / nz) * nwg.x, FOLD_Z > 0u);
  let pix0 = (bx * WG_X + lid.x) * TP;
  let oc0 = gid.y * 4u; // channel within the group
  if (pix0 >= npix || oc0 >= p.og) { return; }
  let g = select(wid.z, wid.z % nz, FOLD_Z > 0u);
  let plane = p.hp * p.wp;

  // Offset of each pixel's window origin in the padded input, at channel g·cg.
  var base = vec4<u32>();
  var base2 = vec4<u32>();
  for (var i = 0u; i < TP; i++) {
    let pix = min(pix0 + i, npix - 1u);
    let ow = pix % p.ow;
    let t = pix / p.ow;
    let oh = t % p.oh;
    let n = t / p.oh;
    let b = (n * p.c + g * p.cg) * plane + oh * p.strideH * p.wp + ow * p.strideW;
    if (i < 4u) { base[i] = b; } else { base2[i - 4u] = b; }
  }
  let ocs = min(vec4<u32>(oc0, oc0 + 1u, oc0 + 2u, oc0 + 3u), vec4<u32>(p.og - 1u)) + vec4<u32>(g * p.og);
  let ksz = p.kh * p.kw;
  var wrow = ocs * (p.cg * ksz);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  var coff = 0u;
  for (var c = 0u; c < p.cg; c++) {
    var roff = coff;
    for (var kh = 0u; kh < p.kh; kh++) {
      var off = roff;
      for (var kw = 0u; kw < p.kw; kw++) {
        let wv = vec4<f32>(wt[wrow.x], wt[wrow.y], wt[wrow.z], wt[wrow.w]);
        wrow += vec4<u32>(1u);
        acc0 += x[base.x + off] * wv;
        acc1 += x[base.y + off] * wv;
        acc2 += x[base.z + off] * wv;
        acc3 += x[base.w + off] * wv;
        if (TP == 8u) {
          acc4 += x[base2.x + off] * wv;
          acc5 += x[base2.y + off] * wv;
          acc6 += x[base2.z + off] * wv;
          acc7 += x[base2.w + off] * wv;
        }
        off += p.dilW;
      }
      roff += p.dilH * p.wp;
    }
    coff += plane;
  }

  var bv = vec4<f32>(0.0);
  if (HAS_BIAS) { bv = vec4<f32>(bias[ocs.x], bias[ocs.y], bias[ocs.z], bias[ocs.w]); }
  let accs = array<vec4<f32>, 8>(acc0 + bv, acc1 + bv, acc2 + bv, acc3 + bv, acc4 + bv, acc5 + bv, acc6 + bv, acc7 + bv);
  let ohw = p.oh * p.ow;
  for (var i = 0u; i < TP; i++) {
    let pix = pix0 + i;
    if (pix >= npix) { break; }
    let n = pix / ohw;
    let r = pix % ohw;
    var v = accs[i];
    if (RELU) { v = max(v, vec4<f32>(0.0)); }
    for (var j = 0u; j < 4u; j++) {
      if (oc0 + j < p.og) { y[(n * p.o + g * p.og + oc0 + j) * ohw + r] = v[j]; }
    }
  }
}
