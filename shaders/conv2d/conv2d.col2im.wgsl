// The input gradient's second half: after the GEMM dcol = Wᵀ · dy (one column per output
// pixel, one row per filter tap (c, kh, kw)), each input pixel sums the taps that read it:
// dx[n, c, h, w] = Σ_{kh, kw} dcol[n, (c, kh, kw), oh, ow] where h + padTop − kh·dilH = oh·strideH
// and w + padLeft − kw·dilW = ow·strideW land inside the output. A gather, one invocation
// per dx element: no atomics, and only the taps that exist are summed (the upsampled-dy
// route multiplies zeros for the padding and the stride's holes).

override WG: u32 = 256;

struct Params {
  total: u32, c: u32, h: u32, w: u32,
  oh: u32, ow: u32, kh: u32, kw: u32,
  strideH: u32, strideW: u32, dilH: u32, dilW: u32,
  padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let w = idx % p.w;
  let h = (idx / p.w) % p.h;
  let nc = idx / (p.w * p.h); // n·C + c
  let ohw = p.oh * p.ow;
  // Row (c, 0, 0) of image n's dcol: rows are n·C·KH·KW + (c·KH + kh)·KW + kw.
  let rowBase = nc * p.kh * p.kw;
  // Loop over the output rows and columns that can reach (h, w), not over the taps: the
  // bounds come out of the arithmetic, so the body has no branch when the dilation is 1.
  let th = h + p.padTop;
  let tw = w + p.padLeft;
  let ohLo = (u32(max(i32(th) - i32((p.kh - 1u) * p.dilH), 0)) + p.strideH - 1u) / p.strideH;
  let ohHi = min(th / p.strideH + 1u, p.oh);
  let owLo = (u32(max(i32(tw) - i32((p.kw - 1u) * p.dilW), 0)) + p.strideW - 1u) / p.strideW;
  let owHi = min(tw / p.strideW + 1u, p.ow);
  var sum = 0.0;
  for (var oh = ohLo; oh < ohHi; oh++) {
    let dh = th - oh * p.strideH; // = kh·dilH
    let kh = dh / p.dilH;
    if (kh * p.dilH != dh) { continue; }
    for (var ow = owLo; ow < owHi; ow++) {
      let dw = tw - ow * p.strideW;
      let kw = dw / p.dilW;
      if (kw * p.dilW != dw) { continue; }
      sum += dcol[(rowBase + kh * p.kw + kw) * ohw + oh * p.ow + ow];
    }
  }
  dx[idx] = sum;
}
