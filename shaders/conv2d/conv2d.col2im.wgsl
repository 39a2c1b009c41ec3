// The input gradient's second half: after the GEMM dcol = Wᵀ · dy (one column per output
// pixel, one row per filter tap (c, kh, kw)), each input pixel sums the taps that read it:
// dx[n, c, h, w] = Σ_{kh, kw} dcol[n, (c, kh, kw), oh, ow] where h + padTop − kh·DH = oh·SH
// and w + padLeft − kw·DW = ow·SW land inside the output. A gather, one invocation per dx
// element: no atomics, and only the taps that exist are summed (the upsampled-dy route
// multiplies zeros for the padding and the stride's holes). Window, stride and dilation
// are override constants: integer division by a runtime value is scalarized, lane by lane,
// on the CPU emulators, and by a constant it is a multiply, or nothing.
// Two loop forms (CLIP): all KH·KW taps under a mask, with constant bounds that lavapipe
// unrolls; or only the taps whose dy index can lie inside dy, for SwiftShader, which does not
// unroll and pays a masked iteration in full (tuning.col2imClip).

override WG: u32 = 256;
override KH: u32 = 1;
override KW: u32 = 1;
override SH: u32 = 1; // stride
override SW: u32 = 1;
override DH: u32 = 1; // dilation
override DW: u32 = 1;
override CLIP: bool = false;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// Every tap, masked. th, tw: the pixel's padded coordinates; rowBase: row (c, 0, 0) of dcol.
fn allTaps(th: i32, tw: i32, rowBase: u32, ohw: u32) -> f32 {
  var sum = 0.0;
  for (var kh = 0u; kh < KH; kh++) {
    let dh = th - i32(kh * DH); // = oh·SH when tap kh reads this pixel
    let oh = dh / i32(SH);
    let inH = dh >= 0 && oh * i32(SH) == dh && oh < i32(p.oh);
    for (var kw = 0u; kw < KW; kw++) {
      let dw = tw - i32(kw * DW);
      let ow = dw / i32(SW);
      if (inH && dw >= 0 && ow * i32(SW) == dw && ow < i32(p.ow)) {
        sum += dcol[(rowBase + kh * KW + kw) * ohw + u32(oh) * p.ow + u32(ow)];
      }
    }
  }
  return sum;
}

// Taps with th − kh·DH in [0, (OH − 1)·SH] (likewise for w); at stride > 1 some still miss.
fn clippedTaps(th: i32, tw: i32, rowBase: u32, ohw: u32) -> f32 {
  let khLo = u32(max(th - i32((p.oh - 1u) * SH) + i32(DH) - 1, 0)) / DH;
  let khHi = min(u32(max(th, 0)) / DH + 1u, KH);
  let kwLo = u32(max(tw - i32((p.ow - 1u) * SW) + i32(DW) - 1, 0)) / DW;
  let kwHi = min(u32(max(tw, 0)) / DW + 1u, KW);
  var sum = 0.0;
  for (var kh = khLo; kh < khHi; kh++) {
    let dh = u32(th) - kh * DH;
    let oh = dh / SH;
    if (oh * SH != dh) { continue; }
    let at = (rowBase + kh * KW) * ohw + oh * p.ow;
    for (var kw = kwLo; kw < kwHi; kw++) {
      let dw = u32(tw) - kw * DW;
      let ow = dw / SW;
      if (ow * SW == dw) { sum += dcol[at + kw * ohw + ow]; }
    }
  }
  return sum;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.total) { return; }
  let row = idx / p.w; // (n·C + c)·H + h
  let nc = row / p.h;
  let th = i32(row - nc * p.h + p.padTop);
  let tw = i32(idx - row * p.w + p.padLeft);
  let ohw = p.oh * p.ow;
  // Row (c, 0, 0) of image n's dcol: rows are n·C·KH·KW + (c·KH + kh)·KW + kw.
  let rowBase = nc * KH * KW;
  if (CLIP) {
    dx[idx] = clippedTaps(th, tw, rowBase, ohw);
  } else {
    dx[idx] = allTaps(th, tw, rowBase, ohw);
  }
}
