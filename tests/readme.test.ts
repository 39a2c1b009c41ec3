// The README's TypeScript examples run as printed (the browser one, demo/embed.ts, runs in
// demo.e2e.test.ts): each ```ts block is written out with `from 'convgpu'` pointed at
// src/index.ts and console.log collected, then imported.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'test-results', 'readme');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first ```ts block after a heading. */
function block(heading: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, `README heading "${heading}"`).toBeGreaterThanOrEqual(0);
  const m = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at));
  expect(m, `a ts block under "${heading}"`).not.toBeNull();
  return m![1]!;
}

/** Writes the code as a module and imports it; returns what it logged and its exports. */
async function run(name: string, code: string, exports: string): Promise<{ logs: unknown[][]; mod: Record<string, unknown> }> {
  const logs: unknown[][] = [];
  (globalThis as { __readmeLog?: unknown[][] }).__readmeLog = logs;
  const src = [
    `const console = { log: (...a: unknown[]) => (globalThis as { __readmeLog?: unknown[][] }).__readmeLog!.push(a) };`,
    code.replaceAll(`from 'convgpu'`, `from '${join(ROOT, 'src', 'index.ts')}'`),
    exports,
  ].join('\n');
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `${name}.ts`);
  writeFileSync(file, src);
  const mod = (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
  return { logs, mod };
}

describe('README examples', () => {
  const engines: Array<{ destroy(): void }> = [];
  afterAll(() => {
    for (const e of engines) e.destroy();
    rmSync(OUT, { recursive: true, force: true });
  });

  it('"Every kernel on both backends": a conv and its gradients agree on WebGPU and the CPU reference', async () => {
    const { logs, mod } = await run('both-backends', block('## Every kernel on both backends'), 'export { gpu };');
    const engine = (mod.gpu as { engine: { destroy(): void } }).engine;
    engines.push(engine);
    (globalThis as { __readmeEngine?: unknown }).__readmeEngine = engine; // the next example's, as one device per file is enough
    expect(String(logs[0]![0])).toMatch(/\(dawn-node/); // the adapter line
    const compared = logs.slice(1);
    expect(compared.map((l) => l[0])).toEqual(['y', 'dx', 'dw']);
    for (const [, c] of compared) expect((c as { maxAbs: number }).maxAbs).toBeLessThan(1e-4); // K ≤ 72 terms in f32: see ops.test.ts
  });

  it('"Models": the residual + inception graph builds and prints its summary', async () => {
    // The README leaves the imports and the engine to the reader.
    const prelude = [
      `import { Add, Concat, Conv2d, Engine, Flatten, Graph, Linear, MaxPool2d, Model, ReLU } from 'convgpu';`,
      `const engine = (globalThis as { __readmeEngine?: Engine }).__readmeEngine ?? (await Engine.create());`,
    ].join('\n');
    const { logs, mod } = await run('models', `${prelude}\n${block('## Models')}`, 'export { engine, model };');
    if (!engines.includes(mod.engine as { destroy(): void })) engines.push(mod.engine as { destroy(): void });
    (mod.model as { dispose(): void }).dispose();
    const summary = String(logs[0]![0]);
    expect(summary).toMatch(/concat/i);
    expect(summary).toMatch(/parameters/i);
  });
});
