// The package as another TypeScript project sees it: the declarations `npm run build` emits
// must type-check in a project that names no WebGPU types of its own (dist/index.d.ts brings
// @webgpu/types in), and Node users must hear from npm that Dawn is wanted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

describe('the package', () => {
  it("declares what a consumer needs: @webgpu/types as a dependency, Dawn (webgpu) as an optional peer", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies)).toContain('@webgpu/types');
    expect(pkg.peerDependencies?.webgpu).toBeTruthy();
    expect(pkg.peerDependenciesMeta?.webgpu?.optional).toBe(true);
  });

  it('emits declarations that type-check in a project with no WebGPU types configured', () => {
    // Inside the repo (ignored), so that the consumer resolves @webgpu/types from node_modules.
    const dir = join(ROOT, 'test-artifacts', 'consumer');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { stdio: 'pipe' });
    expect(readFileSync(join(dir, 'dist', 'index.d.ts'), 'utf8')).toMatch(/^\/\/\/ <reference types="@webgpu\/types"/);
    writeFileSync(
      join(dir, 'main.ts'),
      [
        "import { Engine, Model, Sequential, Conv2d, ReLU, Flatten, Linear, type Tensor } from './dist/index.js';",
        'export async function train(): Promise<number> {',
        '  const engine = await Engine.create();',
        '  const t: Tensor = engine.tensor(new Float32Array(4), [4]);',
        '  const b: GPUBuffer = t.buffer;', // a WebGPU type, from the package's reference alone
        '  const net = new Sequential([1, 8, 8], [new Conv2d(1, 2, 3), new ReLU(), new Flatten(), new Linear(2 * 6 * 6, 3)]);',
        '  const model = new Model(engine, net, { seed: 1 });',
        '  const r = await (await model.trainer(2)).step(new Float32Array(128), new Float32Array(2), true);',
        '  return b.size + r!.loss;',
        '}',
        '',
      ].join('\n'),
    );
    const tsconfig = { compilerOptions: { target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], noEmit: true }, files: ['main.ts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    let out = '';
    try {
      execFileSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (e) {
      out = String((e as { stdout?: Buffer }).stdout ?? e);
    }
    expect(out).toBe('');
  }, 60_000);
});
