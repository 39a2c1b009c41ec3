// conv2d bias gradient, per-plane pass (adapters with tuning.rowwise: the CPU emulators):
// part[plane] = Σ_s dy[plane, s] over an [N·C, S] view. One invocation per (n, c) plane sums
// its S values in order with 4 running sums, reading whole vec4s of dy4 (dy again) where
// S % 4 == 0 (VEC). No workgroup memory or barriers, which the emulators run lane by lane;
// sum.wgsl then adds the N partials of each channel (conv2d.ts conv2dBwdBiasDispatches).
// Paired against the tree reduction of conv2d.bwd_bias.wgsl on LeNet-sized gradients
// (64 × 6–64 channels × 64–784 pixels): lavapipe ×1.25–2.6, SwiftShader ×2.4–6.5.

override WG: u32 = 64;
override VEC: bool = false;

struct Params { planes: u32, s: u32 }

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> part: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4<f32>>; // dy again where VEC, else a dummy
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = gid.x + gid.y * nwg.x * WG;
  if (plane >= p.planes) { return; }
  var acc = vec4<f32>(0.0);
  var tail = 0.0;
  if (VEC) {
    let base = plane * (p.s / 4u);
    for (var i = 0u; i < p.s / 4u; i++) { acc += dy4[base + i]; }
  } else {
    let base = plane * p.s;
    let whole = p.s & ~3u;
    for (var i = 0u; i < whole; i += 4u) {
      acc += vec4<f32>(dy[base + i], dy[base + i + 1u], dy[base + i + 2u], dy[base + i + 3u]);
    }
    for (var i = whole; i < p.s; i++) { tail += dy[base + i]; }
  }
  part[plane] = (acc.x + acc.y) + (acc.z + acc.w) + tail;
}
