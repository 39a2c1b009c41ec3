import { defineConfig } from 'vitest/config';

// Library build: src/index.ts as an ES module; WGSL is inlined through `?raw` imports.
// `webgpu` (Dawn for Node) stays external: browsers use navigator.gpu.
export default defineConfig({
  build: {
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: 'index' },
    outDir: 'dist',
    target: 'es2022',
    rollupOptions: { external: ['webgpu', /^node:/] },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One WebGPU device per file; the CPU emulators are slow, so keep files in one worker at a time.
    fileParallelism: false,
    pool: 'forks',
    // The JSON report feeds .ci/run's closing 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
