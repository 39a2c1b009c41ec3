// `npm run bench` end to end, on two small items: in headless Chromium and in Node, it must
// finish, write its results JSON and chart, and have checked every result against the CPU
// reference. No timing is asserted (timing lives in the benchmark itself). Also: bench/README.md's
// tables are what --report renders from the committed results they link; the reference's exact
// slices, the median and GPU-time sources at a small size, and the GPU machine's steps.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../bench/lib/data.js';
import { prepareReference, sliceTruth, sliceWork } from '../bench/lib/reference.js';
import { makeInputs } from '../bench/lib/runner.js';
import { gpuStats, median } from '../bench/lib/stats.js';
import type { ItemSpec } from '../bench/lib/types.js';
import { runScript } from './helpers/run-script.js';
import { SWIFTSHADER_FLAGS, chromiumPath, gpuFlags } from '../scripts/chromium.js';

interface Cell {
  item: string;
  backend: string;
  status: string;
  maxRelErr?: number;
}

describe('npm run bench -- --quick on two items', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'convgpu-bench-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // Node with --gpu: on a CPU-emulated adapter the GPU-only sizes are left out and the results
  // say why (before, GPU mode ran GEMM 4096³ on SwiftShader); on a GPU, nothing of that.
  for (const [mode, flags] of [['headless Chromium', []], ['Node', ['--node', '--gpu']]] as const) {
    it(`${mode}: writes verified results against TF.js webgpu`, async () => {
      const out = join(dir, mode === 'Node' ? 'node' : 'chromium');
      const r = await runScript('bench/run.ts', [...flags, '--quick', '--only', 'gemm-256,pool-fwd', '--tfjs', 'webgpu', '--out', out]);
      expect(r.code, (r.stdout + r.stderr).slice(-3000)).toBe(0);
      const files = readdirSync(out);
      expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(1);
      const json = files.find((f) => f.endsWith('-quick-partial.json'))!;
      const result = JSON.parse(readFileSync(join(out, json), 'utf8')) as {
        meta: { gpu: boolean };
        info: { adapterInfo: { isFallbackAdapter: boolean }; gpuNote?: string };
        cells: Cell[];
        pairs: Array<{ item: string; b: string; rounds: number }>;
      };
      if (mode === 'Node') {
        const fallback = result.info.adapterInfo.isFallbackAdapter;
        expect(result.meta.gpu).toBe(!fallback);
        if (fallback) {
          expect(result.info.gpuNote).toMatch(/^GPU mode, but the adapter is .*CPU fallback.*: the GPU-only sizes are left out\. Check the GPU's Vulkan driver/);
          expect(r.stderr).toContain(`warning: ${result.info.gpuNote}`);
        } else {
          expect(result.info.gpuNote).toBeUndefined();
        }
      }
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

  // The slices once all started at index 0 (GEMM rows 0–15, sample 0, the first 4×4 channel
  // pairs), so an offset bug in a later workgroup passed. Small shapes, no GPU: each slice must
  // be exactly the full reference where it picks, and must see a wrong last value.
  it('the exact slices of the reference match the full reference and reach the last rows, samples and channels', async () => {
    const conv = (pass: 'fwd' | 'bwdInput' | 'bwdFilter', x: number[], w: number[], pad: number): ItemSpec => ({ id: 'c', label: 'c', kind: 'conv', pass, x, w, pad, work: 1, unit: 'GFLOP/s' });
    const items: ItemSpec[] = [
      { id: 'g', label: 'g', kind: 'gemm', m: 40, n: 24, k: 16, work: 1, unit: 'GFLOP/s' },
      ...(['fwd', 'bwdInput', 'bwdFilter'] as const).flatMap((pass) => [conv(pass, [5, 7, 9, 8], [6, 7, 3, 3], 1), conv(pass, [2, 1, 8, 8], [2, 1, 5, 5], 0)]),
    ];
    for (const item of items) {
      const name = `${item.kind} ${'pass' in item ? item.pass : ''} ${JSON.stringify(item)}`;
      const inp = makeInputs(item, 3);
      const full = (await prepareReference(item, inp).run(false)).out as Float32Array;
      const t = sliceTruth(item, inp)!.kernel!;
      expect(relErr(t.pick(full), t.values), name).toBe(0);
      for (const at of [0, full.length - 1]) {
        const wrong = full.slice();
        wrong[at]! += 10;
        expect(relErr(t.pick(wrong), t.values), `${name}: a wrong value at ${at}`).toBeGreaterThan(1e-3);
      }
      expect(sliceWork(item), name).toBeLessThanOrEqual(item.work);
    }
    expect(sliceTruth({ id: 'g', label: 'g', kind: 'gemm', m: 1024, n: 8, k: 8, work: 1, unit: 'GFLOP/s' }, makeInputs({ id: 'g', label: 'g', kind: 'gemm', m: 1024, n: 8, k: 8, work: 1, unit: 'GFLOP/s' }, 1))!.how).toBe(
      'reference on rows 0–5, 509–513, 1019–1023 of 1024',
    );
  });

  it('a median of an even count is the mean of the middle two; GPU time keeps one source per cell', () => {
    expect(median([3, 1])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, 1, 3])).toBe(3);
    expect(gpuStats([{ ms: 1, source: 'timestamp' }, { ms: 3, source: 'timestamp' }])).toEqual({ gpu: { median: 2, min: 1, max: 3 }, source: 'timestamp' });
    const mixed = gpuStats([{ ms: 1, source: 'timestamp' }, { ms: 5, source: 'wall' }, { ms: 2, source: 'timestamp' }])!;
    expect(mixed.source).toBe('wall');
    expect(mixed.gpu).toEqual({ median: 5, min: 5, max: 5 });
    expect(mixed.note).toContain('1 of 3 samples');
  });

  it("finds the browser by CHROME_PATH or the platform's usual places, and asks for a GPU by each platform's means", () => {
    const saved = process.env.CHROME_PATH;
    try {
      process.env.CHROME_PATH = '/opt/my/chrome';
      expect(chromiumPath()).toBe('/opt/my/chrome');
      delete process.env.CHROME_PATH;
      expect(existsSync(chromiumPath('linux'))).toBe(true); // this machine's Chromium, which the browser tests use
      // No Chrome in a Mac's place here: the error names where it looked and both fixes.
      expect(() => chromiumPath('darwin')).toThrow(/no Chromium or Chrome found \(tried \/Applications\/Google Chrome\.app.*install one .* or set CHROME_PATH/);
    } finally {
      if (saved === undefined) delete process.env.CHROME_PATH;
      else process.env.CHROME_PATH = saved;
    }
    expect(gpuFlags('linux')).toEqual(expect.arrayContaining(['--enable-unsafe-webgpu', '--use-angle=vulkan', '--enable-features=Vulkan']));
    for (const p of ['darwin', 'win32'] as const) {
      expect(gpuFlags(p)).toContain('--enable-unsafe-webgpu');
      expect(gpuFlags(p).filter((f) => /vulkan/i.test(f))).toEqual([]); // Metal and D3D12 need no flag; Vulkan ones would break them
    }
    expect(SWIFTSHADER_FLAGS).toEqual(expect.arrayContaining(['--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader']));
  });

  it('refuses flags that would run nothing, or not what was asked, with exit code 2 and the ids', async () => {
    // An --only that matched nothing used to run no item and write an empty results file.
    const none = await runScript('bench/run.ts', ['--node', '--quick', '--only', 'gemm-3000', '--out', join(dir, 'none')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--only gemm-3000: no item's id contains it; the ids with --quick are gemm-256, gemm-512, conv1-fwd");
    expect(readdirSync(dir)).not.toContain('none');
    const unknown = await runScript('bench/run.ts', ['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    expect(unknown.stderr).toContain('Usage: npm run bench');
    const tfjs = await runScript('bench/run.ts', ['--tfjs', 'webgl']);
    expect(tfjs.code).toBe(2);
    expect(tfjs.stderr).toContain('--tfjs webgl: unknown backend webgl');
  });

  // A quick run with --out /tmp/qb once rewrote the README's quick section to link /tmp/qb's files,
  // with numbers the committed results do not have.
  it("bench/README.md's sections are --report of the committed results they link; results outside bench/results/ leave it alone", async () => {
    const readme = readFileSync('bench/README.md', 'utf8');
    const sections = [...readme.matchAll(/<!-- latest-([\w-]+):start -->\n\n([\s\S]*?)\n\nFiles: \[`([^`]+)`\][\s\S]*?<!-- latest-\1:end -->/g)];
    expect(sections.map((m) => m[1])).toEqual(['chromium-swiftshader', 'node-llvmpipe', 'chromium-swiftshader-quick', 'node-llvmpipe-quick', 'node-swiftshader-quick']);
    for (const [section, name, tables, file] of sections) {
      expect(file, name).toMatch(/^results\/[\w-]+\.json$/);
      const svg = `bench/${file!.replace(/\.json$/, '.svg')}`;
      expect(existsSync(svg), svg).toBe(true);
      expect(section, name).toContain(`![throughput per item and backend](${svg.slice('bench/'.length)})`);
      const r = await runScript('bench/run.ts', ['--report', `bench/${file}`, '--no-readme']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, `${name}: the README's tables are not --report bench/${file}'s`).toContain(tables);
    }
    // The same file from elsewhere: the tables print, and the README stays as it was.
    const copy = join(dir, 'elsewhere.json');
    copyFileSync(`bench/${sections[0]![3]}`, copy);
    const r = await runScript('bench/run.ts', ['--report', copy]);
    const after = readFileSync('bench/README.md', 'utf8');
    if (after !== readme) writeFileSync('bench/README.md', readme); // NOTE: a tracked file; put back what a regression wrote
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(sections[0]![2]);
    expect(r.stdout).toContain(`bench/README.md left alone: ${copy} is not in bench/results/`);
    expect(after === readme, 'bench/README.md was rewritten to link a file outside bench/results/').toBe(true);
  });

  // A device session is short and its script (scripts/gpu-machine/run.sh) runs unattended: each
  // of its steps runs here at a small size first. The sweep once died on its own NaN poisoning
  // (engine.write refuses NaN unless told), which only a GPU session would have found.
  it("the GPU machine's steps run at a small size: the GEMM sweep verifies every tiling, autotune, the readback and adapter probes, the conv tiles", async () => {
    const json = join(dir, 'sweep.json');
    const sweep = await runScript('bench/gemm-sweep.ts', ['--sizes', '72', '--reps', '1', '--peak', '1', '--json', json]);
    expect(sweep.code, (sweep.stdout + sweep.stderr).slice(-3000)).toBe(0);
    const { results } = JSON.parse(readFileSync(json, 'utf8')) as { results: Array<{ n: number; label: string; ok: boolean }> };
    expect(results.length).toBeGreaterThanOrEqual(4); // scalar and vec4, one and two staging buffers
    expect(results.filter((r) => !r.ok).map((r) => r.label)).toEqual([]);
    const tune = await runScript('bench/kernels.ts', ['--autotune', '--only', 'gemm', '--sizes', '64'], { XDG_CACHE_HOME: join(dir, 'cache') });
    expect(tune.code, tune.stderr.slice(-3000)).toBe(0);
    expect(tune.stdout).toMatch(/gemm 64³ +[\d.]+ GFLOP\/s/);
    expect(readdirSync(join(dir, 'cache', 'convgpu')).length).toBeGreaterThan(0);
    // readback.ts at a 256 edge: its 1024³ GEMMs, 90 of them, take over a minute on SwiftShader.
    for (const [probe, args] of [['scripts/gpu-machine/readback.ts', ['256']], ['scripts/gpu-machine/probe.ts', []]] as const) {
      const r = await runScript(probe, [...args]);
      expect(r.code, `${probe}: ${r.stderr.slice(-3000)}`).toBe(0);
    }
    // The conv GEMMs' tiles (the default rule, without trimming, 4×4, 8×8, K step 8, 8×8 at short K) at batch 2: nine rows, each variant's output the default's.
    const tiles = await runScript('scripts/gpu-machine/convtile.ts', ['--quick']);
    expect(tiles.code, tiles.stderr.slice(-3000)).toBe(0);
    expect(tiles.stdout.match(/^conv\d .* \| default [\d.]+ ms .* \| untrimmed [\d.]+ ms .* \| 4x4 [\d.]+ ms .* \| 8x8 [\d.]+ ms .* \| K 8 [\d.]+ ms .* \| long K [\d.]+ ms .* default by kernel: /gm)?.length, tiles.stdout).toBe(9);
    expect(tiles.stdout).not.toContain('WRONG');
    // The device tool stops a command at 600 s: the script once gave its steps 600 s of
    // timeouts plus the unpacking, and the op tests, last, were what got cut.
    const sh = readFileSync('scripts/gpu-machine/run.sh', 'utf8');
    const end = Number(/END=\$\(\(T0 \+ (\d+)\)\)/.exec(sh)?.[1]);
    expect(end).toBeLessThanOrEqual(565); // + timeout's 5 s kill grace and the summary: inside 580 (the H200 run's whole plan took 167 s)
    const steps = [...sh.matchAll(/^step (\S+) "\$L\/(\w+)\.log"/gm)].map((m) => m[2]);
    expect(steps).toEqual(['tests', 'sweep', 'readback', 'convtile', 'train', 'bench', 'autotune']); // most important first
    // Outside step() only the adapter's short probes, before the tests: they must leave them their time.
    const bare = [...sh.matchAll(/timeout (\d+) /g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(bare).toBeLessThanOrEqual(60);
  }, 300_000); // the sweep compiles every tiling: about a minute on SwiftShader alone, twice that beside other test files
});
