// CPU reference for softmax + cross-entropy over classes, float64.
// logits [N, C]; labels [N] holding class indices (integers in [0, C)) stored as numbers.
import { AttributeError, ShapeError, fmtShape } from '../errors.js';
import { checkRank, finiteNum } from '../shape.js';
import { host, hostZeros, type HostTensor } from './tensor.js';

function checkInputs(op: string, logits: HostTensor, labels: HostTensor): [number, number] {
  checkRank(op, 'logits', logits.shape, 2, '[N, C]');
  const [n, c] = logits.shape as [number, number];
  if (labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw new ShapeError(`${op}: labels ${fmtShape(labels.shape)} must be [N] = ${fmtShape([n])} for logits ${fmtShape(logits.shape)}.`);
  }
  labels.data.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= c) {
      throw new AttributeError(`${op}: label ${l} at index ${i} is not a class index; labels must be integers in [0, ${c}) for C = ${c}.`);
    }
  });
  return [n, c];
}

function rowMax(row: Float64Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  return max;
}

/** Row-wise softmax, stable: e^(z − max) / Σ e^(z − max). */
function softmaxRows(logits: HostTensor, n: number, c: number): HostTensor {
  const probs = hostZeros([n, c]);
  for (let i = 0; i < n; i++) {
    const row = logits.data.subarray(i * c, (i + 1) * c);
    const max = rowMax(row);
    let denom = 0;
    for (let j = 0; j < c; j++) denom += Math.exp(row[j]! - max);
    for (let j = 0; j < c; j++) probs.data[i * c + j] = Math.exp(row[j]! - max) / denom;
  }
  return probs;
}

/** loss = mean over rows of (logsumexp(z) − z[label]), with logsumexp(z) = max + log Σ e^(z − max). */
export function softmaxCrossEntropy(logits: HostTensor, labels: HostTensor): { loss: HostTensor; probs: HostTensor } {
  const [n, c] = checkInputs('softmaxCrossEntropy', logits, labels);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.data.subarray(i * c, (i + 1) * c);
    const max = rowMax(row);
    let sumExp = 0;
    for (let j = 0; j < c; j++) sumExp += Math.exp(row[j]! - max);
    total += max + Math.log(sumExp) - row[labels.data[i]!]!;
  }
  return { loss: host([total / n], [1]), probs: softmaxRows(logits, n, c) };
}

/** dlogits = dloss · (softmax − onehot(label)) / N (the 1/N from the mean). */
export function softmaxCrossEntropyBackward(logits: HostTensor, labels: HostTensor, dloss = 1): HostTensor {
  const [n, c] = checkInputs('softmaxCrossEntropyBackward', logits, labels);
  finiteNum('softmaxCrossEntropyBackward', 'dloss', dloss);
  const d = softmaxRows(logits, n, c);
  for (let i = 0; i < n; i++) {
    d.data[i * c + labels.data[i]!] -= 1;
    for (let j = 0; j < c; j++) d.data[i * c + j] *= dloss / n;
  }
  return d;
}
