// The register tile of the subgroup-broadcast kernels (gemm.subgroup.wgsl and the conv2d
// *.subgroup / *.channel_cols kernels), appended to each of them by src/ops/dispatch.ts
// (withSubgroupTile). The kernel declares the overrides SG (4 or 8 lanes), R (row blocks per
// lane, SG·R ≤ 16) and TN (columns per lane, 4 or 8).
// Each lane holds an (SG·R) × TN tile: row q belongs to lane q % SG of row block q / SG. Per
// k, every lane loads its A value in each row block (av0..av3) and its TN B values (b0, b1);
// accumulate() broadcasts the SG·R A values to every lane and adds their outer product.
// The tile lives in 128 named f32s, zeroed per invocation as private variables are, and no
// array: SwiftShader keeps an array in memory (5× slower), and 32 named vec4s ran 1.04–1.27×
// slower than scalars on lavapipe and 1.03–1.22× on SwiftShader (GEMM 512³, 1024³, LeNet's
// dcol GEMM). As private variables rather than the kernel's function variables the code runs
// the same (GEMM 256³–1024³ and a col2im input gradient, paired rounds on both emulators).
var<private> c0_0: f32; var<private> c0_1: f32; var<private> c0_2: f32; var<private> c0_3: f32; var<private> c0_4: f32; var<private> c0_5: f32; var<private> c0_6: f32; var<private> c0_7: f32;
var<private> c1_0: f32; var<private> c1_1: f32; var<private> c1_2: f32; var<private> c1_3: f32; var<private> c1_4: f32; var<private> c1_5: f32; var<private> c1_6: f32; var<private> c1_7: f32;
var<private> c2_0: f32; var<private> c2_1: f32; var<private> c2_2: f32; var<private> c2_3: f32; var<private> c2_4: f32; var<private> c2_5: f32; var<private> c2_6: f32; var<private> c2_7: f32;
var<private> c3_0: f32; var<private> c3_1: f32; var<private> c3_2: f32; var<private> c3_3: f32; var<private> c3_4: f32; var<private> c3_5: f32; var<private> c3_6: f32; var<private> c3_7: f32;
var<private> c4_0: f32; var<private> c4_1: f32; var<private> c4_2: f32; var<private> c4_3: f32; var<private> c4_4: f32; var<private> c4_5: f32; var<private> c4_6: f32; var<private> c4_7: f32;
var<private> c5_0: f32; var<private> c5_1: f32; var<private> c5_2: f32; var<private> c5_3: f32; var<private> c5_4: f32; var<private> c5_5: f32; var<private> c5_6: f32; var<private> c5_7: f32;
var<private> c6_0: f32; var<private> c6_1: f32; var<private> c6_2: f32; var<private> c6_3: f32; var<private> c6_4: f32; var<private> c6_5: f32; var<private> c6_6: f32; var<private> c6_7: f32;
var<private> c7_0: f32; var<private> c7_1: f32; var<private> c7_2: f32; var<private> c7_3: f32; var<private> c7_4: f32; var<private> c7_5: f32; var<private> c7_6: f32; var<private> c7_7: f32;
var<private> c8_0: f32; var<private> c8_1: f32; var<private> c8_2: f32; var<private> c8_3: f32; var<private> c8_4: f32; var<private> c8_5: f32; var<private> c8_6: f32; var<private> c8_7: f32;
var<private> c9_0: f32; var<private> c9_1: f32; var<private> c9_2: f32; var<private> c9_3: f32; var<private> c9_4: f32; var<private> c9_5: f32; var<private> c9_6: f32; var<private> c9_7: f32;
var<private> c10_0: f32; var<private> c10_1: f32; var<private> c10_2: f32; var<private> c10_3: f32; var<private> c10_4: f32; var<private> c10_5: f32; var<private> c10_6: f32; var<private> c10_7: f32;
var<private> c11_0: f32; var<private> c11_1: f32; var<private> c11_2: f32; var<private> c11_3: f32; var<private> c11_4: f32; var<private> c11_5: f32; var<private> c11_6: f32; var<private> c11_7: f32;
var<private> c12_0: f32; var<private> c12_1: f32; var<private> c12_2: f32; var<private> c12_3: f32; var<private> c12_4: f32; var<private> c12_5: f32; var<private> c12_6: f32; var<private> c12_7: f32;
var<private> c13_0: f32; var<private> c13_1: f32; var<private> c13_2: f32; var<private> c13_3: f32; var<private> c13_4: f32; var<private> c13_5: f32; var<private> c13_6: f32; var<private> c13_7: f32;
var<private> c14_0: f32; var<private> c14_1: f32; var<private> c14_2: f32; var<private> c14_3: f32; var<private> c14_4: f32; var<private> c14_5: f32; var<private> c14_6: f32; var<private> c14_7: f32;
var<private> c15_0: f32; var<private> c15_1: f32; var<private> c15_2: f32; var<private> c15_3: f32; var<private> c15_4: f32; var<private> c15_5: f32; var<private> c15_6: f32; var<private> c15_7: f32;

// One row of the tile: c[j] += s · b[j].
fn tileRow(s: f32, b0: vec4<f32>, b1: vec4<f32>, c0: ptr<private, f32>, c1: ptr<private, f32>, c2: ptr<private, f32>, c3: ptr<private, f32>,
       c4: ptr<private, f32>, c5: ptr<private, f32>, c6: ptr<private, f32>, c7: ptr<private, f32>) {
  *c0 = fma(s, b0.x, *c0);
  *c1 = fma(s, b0.y, *c1);
  *c2 = fma(s, b0.z, *c2);
  *c3 = fma(s, b0.w, *c3);
  if (TN == 8u) {
    *c4 = fma(s, b1.x, *c4);
    *c5 = fma(s, b1.y, *c5);
    *c6 = fma(s, b1.z, *c6);
    *c7 = fma(s, b1.w, *c7);
  }
}

// tile += (the SG·R A values of the subgroup) ⊗ (this lane's TN B values). In uniform control
// flow: every lane of the subgroup calls it for the same k. The two branches are the same tile
// for 8 and 4 lanes, written out so that every broadcast's source lane is a constant.
fn accumulate(av0: f32, av1: f32, av2: f32, av3: f32, b0: vec4<f32>, b1: vec4<f32>) {
  if (SG == 8u) {
    tileRow(subgroupBroadcast(av0, 0u), b0, b1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
    tileRow(subgroupBroadcast(av0, 1u), b0, b1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
    tileRow(subgroupBroadcast(av0, 2u), b0, b1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
    tileRow(subgroupBroadcast(av0, 3u), b0, b1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
    tileRow(subgroupBroadcast(av0, 4u), b0, b1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
    tileRow(subgroupBroadcast(av0, 5u), b0, b1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
    tileRow(subgroupBroadcast(av0, 6u), b0, b1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
    tileRow(subgroupBroadcast(av0, 7u), b0, b1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
    if (R > 1u) {
      tileRow(subgroupBroadcast(av1, 0u), b0, b1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
      tileRow(subgroupBroadcast(av1, 1u), b0, b1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
      tileRow(subgroupBroadcast(av1, 2u), b0, b1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
      tileRow(subgroupBroadcast(av1, 3u), b0, b1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
      tileRow(subgroupBroadcast(av1, 4u), b0, b1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
      tileRow(subgroupBroadcast(av1, 5u), b0, b1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
      tileRow(subgroupBroadcast(av1, 6u), b0, b1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
      tileRow(subgroupBroadcast(av1, 7u), b0, b1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
    }
  } else { // SG == 4
    tileRow(subgroupBroadcast(av0, 0u), b0, b1, &c0_0, &c0_1, &c0_2, &c0_3, &c0_4, &c0_5, &c0_6, &c0_7);
    tileRow(subgroupBroadcast(av0, 1u), b0, b1, &c1_0, &c1_1, &c1_2, &c1_3, &c1_4, &c1_5, &c1_6, &c1_7);
    tileRow(subgroupBroadcast(av0, 2u), b0, b1, &c2_0, &c2_1, &c2_2, &c2_3, &c2_4, &c2_5, &c2_6, &c2_7);
    tileRow(subgroupBroadcast(av0, 3u), b0, b1, &c3_0, &c3_1, &c3_2, &c3_3, &c3_4, &c3_5, &c3_6, &c3_7);
    if (R > 1u) {
      tileRow(subgroupBroadcast(av1, 0u), b0, b1, &c4_0, &c4_1, &c4_2, &c4_3, &c4_4, &c4_5, &c4_6, &c4_7);
      tileRow(subgroupBroadcast(av1, 1u), b0, b1, &c5_0, &c5_1, &c5_2, &c5_3, &c5_4, &c5_5, &c5_6, &c5_7);
      tileRow(subgroupBroadcast(av1, 2u), b0, b1, &c6_0, &c6_1, &c6_2, &c6_3, &c6_4, &c6_5, &c6_6, &c6_7);
      tileRow(subgroupBroadcast(av1, 3u), b0, b1, &c7_0, &c7_1, &c7_2, &c7_3, &c7_4, &c7_5, &c7_6, &c7_7);
    }
    if (R > 2u) {
      tileRow(subgroupBroadcast(av2, 0u), b0, b1, &c8_0, &c8_1, &c8_2, &c8_3, &c8_4, &c8_5, &c8_6, &c8_7);
      tileRow(subgroupBroadcast(av2, 1u), b0, b1, &c9_0, &c9_1, &c9_2, &c9_3, &c9_4, &c9_5, &c9_6, &c9_7);
      tileRow(subgroupBroadcast(av2, 2u), b0, b1, &c10_0, &c10_1, &c10_2, &c10_3, &c10_4, &c10_5, &c10_6, &c10_7);
      tileRow(subgroupBroadcast(av2, 3u), b0, b1, &c11_0, &c11_1, &c11_2, &c11_3, &c11_4, &c11_5, &c11_6, &c11_7);
    }
    if (R > 3u) {
      tileRow(subgroupBroadcast(av3, 0u), b0, b1, &c12_0, &c12_1, &c12_2, &c12_3, &c12_4, &c12_5, &c12_6, &c12_7);
      tileRow(subgroupBroadcast(av3, 1u), b0, b1, &c13_0, &c13_1, &c13_2, &c13_3, &c13_4, &c13_5, &c13_6, &c13_7);
      tileRow(subgroupBroadcast(av3, 2u), b0, b1, &c14_0, &c14_1, &c14_2, &c14_3, &c14_4, &c14_5, &c14_6, &c14_7);
      tileRow(subgroupBroadcast(av3, 3u), b0, b1, &c15_0, &c15_1, &c15_2, &c15_3, &c15_4, &c15_5, &c15_6, &c15_7);
    }
  }
}

// The tile as 2 vec4s a row (row i, column j: [i·2 + j / 4][j % 4]). The kernels store it by a
// plain loop over this copy: unrolling the SG·R × TN stores multiplies the JIT time on lavapipe.
fn tileRows() -> array<vec4<f32>, 32> {
  return array<vec4<f32>, 32>(vec4<f32>(c0_0, c0_1, c0_2, c0_3), vec4<f32>(c0_4, c0_5, c0_6, c0_7), vec4<f32>(c1_0, c1_1, c1_2, c1_3), vec4<f32>(c1_4, c1_5, c1_6, c1_7), vec4<f32>(c2_0, c2_1, c2_2, c2_3), vec4<f32>(c2_4, c2_5, c2_6, c2_7), vec4<f32>(c3_0, c3_1, c3_2, c3_3), vec4<f32>(c3_4, c3_5, c3_6, c3_7), vec4<f32>(c4_0, c4_1, c4_2, c4_3), vec4<f32>(c4_4, c4_5, c4_6, c4_7), vec4<f32>(c5_0, c5_1, c5_2, c5_3), vec4<f32>(c5_4, c5_5, c5_6, c5_7), vec4<f32>(c6_0, c6_1, c6_2, c6_3), vec4<f32>(c6_4, c6_5, c6_6, c6_7), vec4<f32>(c7_0, c7_1, c7_2, c7_3), vec4<f32>(c7_4, c7_5, c7_6, c7_7), vec4<f32>(c8_0, c8_1, c8_2, c8_3), vec4<f32>(c8_4, c8_5, c8_6, c8_7), vec4<f32>(c9_0, c9_1, c9_2, c9_3), vec4<f32>(c9_4, c9_5, c9_6, c9_7), vec4<f32>(c10_0, c10_1, c10_2, c10_3), vec4<f32>(c10_4, c10_5, c10_6, c10_7), vec4<f32>(c11_0, c11_1, c11_2, c11_3), vec4<f32>(c11_4, c11_5, c11_6, c11_7), vec4<f32>(c12_0, c12_1, c12_2, c12_3), vec4<f32>(c12_4, c12_5, c12_6, c12_7), vec4<f32>(c13_0, c13_1, c13_2, c13_3), vec4<f32>(c13_4, c13_5, c13_6, c13_7), vec4<f32>(c14_0, c14_1, c14_2, c14_3), vec4<f32>(c14_4, c14_5, c14_6, c14_7), vec4<f32>(c15_0, c15_1, c15_2, c15_3), vec4<f32>(c15_4, c15_5, c15_6, c15_7));
}
