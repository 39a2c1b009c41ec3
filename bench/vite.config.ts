// The benchmark page's build (npm run bench builds it; it is not part of the library build).
// tfjs-backend-wasm's ESM entry imports files its package does not ship (wasm-out/*threaded*),
// so the page takes its single-file ES bundle; the .wasm binaries are served by bench/serve.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('./page'),
  base: './',
  logLevel: 'warn',
  resolve: {
    alias: [{ find: /^@tensorflow\/tfjs-backend-wasm$/, replacement: here('../node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js') }],
  },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    // NOTE: TF.js wasm starts its threads from the source text of a function in its bundle
    // (Function.prototype.toString); a minifier renames what that text refers to, and every
    // worker then dies with "ReferenceError: e is not defined".
    minify: false,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
});
