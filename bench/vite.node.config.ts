// The Node suite's build (npm run bench -- --node): one CommonJS bundle with TF.js's ES
// modules inside, so that tfjs-core's gradients can be registered as in the browser.
// `webgpu` (Dawn, a native addon) and Node's own modules stay external.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  logLevel: 'warn',
  resolve: {
    alias: [{ find: /^@tensorflow\/tfjs-backend-wasm$/, replacement: here('../node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js') }],
  },
  ssr: { noExternal: true, external: ['webgpu'] },
  build: {
    ssr: here('./node/entry.ts'),
    outDir: here('./dist-node'),
    emptyOutDir: true,
    target: 'node20',
    reportCompressedSize: false,
    rollupOptions: { output: { format: 'cjs', entryFileNames: 'entry.cjs', chunkFileNames: '[name]-[hash].cjs' } },
  },
});
