// Node ESM hook: lets plain Node (through tsx) import `*.wgsl?raw` like Vite does,
// so the same `import src from '../shaders/x.wgsl?raw'` works in Vite, Vitest and the CLI.
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.includes('.wgsl?raw')) {
    const text = await readFile(new URL(url.slice(0, url.indexOf('?'))), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
