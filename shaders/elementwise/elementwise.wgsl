// Elementwise ops used in training, one invocation per element on a 2-D grid.
// OP: 0 out = a + b, 1 out = a · b, 2 out = s · a (b unused), 3 out = a + s · b (axpy),
// 4 out += b (gradient accumulation in place; a unused, since a storage buffer cannot be
// bound both read-only and read-write in one dispatch).
// Over V = f32, or vec4<f32> (4 elements an invocation) where the count and offsets allow
// (ops/dispatch.ts pointwiseDispatch swaps the alias line; every expression holds for both).

override WG: u32 = 256;
override OP: u32 = 0;
alias V = f32;

struct Params { total: u32, s: f32 }

@group(0) @binding(0) var<storage, read> a: array<V>;
@group(0) @binding(1) var<storage, read> b: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  switch OP {
    case 0u: { out[i] = a[i] + b[i]; }
    case 1u: { out[i] = a[i] * b[i]; }
    case 2u: { out[i] = p.s * a[i]; }
    case 3u: { out[i] = a[i] + p.s * b[i]; }
    default: { out[i] += b[i]; }
  }
}
