// CPU reference for GEMM: C[b] = op(A[b]) · op(B[b]) (+ bias) (ReLU), float64, plain loops.
import { ShapeError, fmtShape } from '../errors.js';
import { gemmGeom, gemmOutShape, type GemmAttrs, type GemmGeom } from '../ops/geometry.js';
import { sameShape } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

/** Index into A's storage of op(A)[b][i][p] (i < M, p < K). */
function aIndex(g: GemmGeom, b: number, i: number, p: number): number {
  const base = b * g.m * g.k;
  return base + (g.transA ? p * g.m + i : i * g.k + p);
}

/** Index into B's storage of op(B)[b][p][j] (p < K, j < N); a 2-D B is shared by every batch. */
function bIndex(g: GemmGeom, bBatched: boolean, b: number, p: number, j: number): number {
  const base = bBatched ? b * g.k * g.n : 0;
  return base + (g.transB ? j * g.k + p : p * g.n + j);
}

export function matmul(
  a: HostTensor,
  b: HostTensor,
  attrs: GemmAttrs & { bias?: HostTensor; relu?: boolean } = {},
): HostTensor {
  const g = gemmGeom(a.shape, b.shape, attrs, 'matmul');
  const outShape = gemmOutShape(g, a.shape.length === 3);
  const bias = attrs.bias;
  if (bias !== undefined && !sameShape(bias.shape, [g.n])) {
    throw new ShapeError(
      `matmul: bias ${fmtShape(bias.shape)} must be [N] = ${fmtShape([g.n])} for a ${fmtShape(a.shape)} × b ${fmtShape(b.shape)} → ${fmtShape(outShape)}.`,
    );
  }
  const bBatched = b.shape.length === 3;
  const c = hostZeros(outShape);
  for (let bt = 0; bt < g.batch; bt++) {
    for (let i = 0; i < g.m; i++) {
      for (let j = 0; j < g.n; j++) {
        let acc = 0;
        for (let p = 0; p < g.k; p++) acc += a.data[aIndex(g, bt, i, p)]! * b.data[bIndex(g, bBatched, bt, p, j)]!;
        if (bias !== undefined) acc += bias.data[j]!;
        c.data[(bt * g.m + i) * g.n + j] = attrs.relu === true ? Math.max(acc, 0) : acc;
      }
    }
  }
  return c;
}

/**
 * Gradients of C = op(A)·op(B): dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC, written back
 * through the same index maps, so a transposed operand gets a transposed gradient.
 */
export function matmulBackward(
  a: HostTensor,
  b: HostTensor,
  dy: HostTensor,
  attrs: GemmAttrs = {},
): { da: HostTensor; db: HostTensor } {
  const g = gemmGeom(a.shape, b.shape, attrs, 'matmulBackward');
  const outShape = gemmOutShape(g, a.shape.length === 3);
  if (!sameShape(dy.shape, outShape)) {
    throw new ShapeError(
      `matmulBackward: dy ${fmtShape(dy.shape)} must match the output ${fmtShape(outShape)} of a ${fmtShape(a.shape)} × b ${fmtShape(b.shape)}.`,
    );
  }
  const bBatched = b.shape.length === 3;
  const da = hostZeros(a.shape);
  const db = hostZeros(b.shape);
  const dyAt = (bt: number, i: number, j: number): number => dy.data[(bt * g.m + i) * g.n + j]!;
  for (let bt = 0; bt < g.batch; bt++) {
    // dA[i, p] = Σ_j dC[i, j] · B[p, j]
    for (let i = 0; i < g.m; i++) {
      for (let p = 0; p < g.k; p++) {
        let acc = 0;
        for (let j = 0; j < g.n; j++) acc += dyAt(bt, i, j) * b.data[bIndex(g, bBatched, bt, p, j)]!;
        da.data[aIndex(g, bt, i, p)] = acc;
      }
    }
    // dB[p, j] = Σ_i A[i, p] · dC[i, j]; a broadcast B collects every batch (hence +=).
    for (let p = 0; p < g.k; p++) {
      for (let j = 0; j < g.n; j++) {
        let acc = 0;
        for (let i = 0; i < g.m; i++) acc += a.data[aIndex(g, bt, i, p)]! * dyAt(bt, i, j);
        db.data[bIndex(g, bBatched, bt, p, j)] += acc;
      }
    }
  }
  return { da, db };
}
