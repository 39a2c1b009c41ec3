// `npm run bench` end to end, on two small items: in headless Chromium and in Node, it must
// finish, write its results JSON and chart, and have checked every result against the CPU
// reference. No timing is asserted (timing lives in the benchmark itself).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Cell {
  item: string;
  backend: string;
  status: string;
  maxRelErr?: number;
}

function bench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', './scripts/register.mjs', 'bench/run.ts', ...args], { cwd: process.cwd(), env: process.env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick on two items', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'convgpu-bench-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const [mode, flags] of [['headless Chromium', []], ['Node', ['--node']]] as const) {
    it(`${mode}: writes verified results against TF.js webgpu`, async () => {
      const out = join(dir, mode === 'Node' ? 'node' : 'chromium');
      const r = await bench([...flags, '--quick', '--only', 'gemm-256,pool-fwd', '--tfjs', 'webgpu', '--out', out]);
      expect(r.code, r.output.slice(-3000)).toBe(0);
      const files = readdirSync(out);
      expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(1);
      const json = files.find((f) => f.endsWith('-quick-partial.json'))!;
      const result = JSON.parse(readFileSync(join(out, json), 'utf8')) as { cells: Cell[]; pairs: Array<{ item: string; b: string; rounds: number }> };
      for (const item of ['gemm-256', 'pool-fwd']) {
        for (const backend of ['convgpu', 'tfjs-webgpu']) {
          const cell = result.cells.find((c) => c.item === item && c.backend === backend);
          expect(cell, `${item} on ${backend}`).toBeDefined();
          expect(cell!.status, `${item} on ${backend}`).toBe('ok');
          expect(cell!.maxRelErr!, `${item} on ${backend}`).toBeLessThanOrEqual(1e-3);
        }
        expect(result.pairs.some((p) => p.item === item && p.b === 'tfjs-webgpu' && p.rounds > 0), `${item} head to head`).toBe(true);
      }
    });
  }
});
