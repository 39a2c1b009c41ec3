// The input gradient's second half: after the GEMM dcol = Wᵀ · dy (one column per output
// pixel, one row per filter tap (c, kh, kw)), each input pixel sums the taps that read it:
// dx[n, c, h, w] = Σ_{kh, kw} dcol[n, (c, kh, kw), oh, ow] where h + padTop − kh·DH = oh·SH
// and w + padLeft − kw·DW = ow·SW land inside the output. A gather, one invocation per dx
// element: no atomics, and only the taps that exist are summed (the upsampled-dy route
// multiplies zeros for the padding and the stride's holes). Window, stride and dilation
// are override constants: integer division by a runtime value is scalarized, lane by lane,
// on the CPU emulators, and by a constant it is a multiply, or nothing.

override WG: u32 = 256;
override KH: u32 = 1;
override KW: u32 = 1;
override SH: u32 = 1; // stride
override SW: u32 = 1;
override DH: u32 = 1; // dilation
override DW: u32 = 1;

struct Params {
  total: u32, h: u32, w: u32, oh: u32,
  ow: u32, padTop: u32, padLeft: u32,
}

@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

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
  dx[idx] = sum;
}
