// `npm run bench`: builds the benchmark page with Vite, serves it on 127.0.0.1, runs it in
// the system Chromium (puppeteer-core) and writes
// bench/results/<date>-<time>-<chromium|node>-<adapter>[-quick].json, a chart next to it, a
// markdown table to the terminal and into bench/README.md.
// `npm run bench -- --node` runs the same suite in Node on Dawn instead. `--help` for flags.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chartSvg, detailsTable, footnotes, pairText, pairsTable, rate, summaryTable } from './lib/report.js';
import { parseFlags, usage } from './lib/flags.js';
import { buildItems } from './lib/items.js';
import { TOLERANCE } from './lib/suite.js';
import { checkTuning, type Tuning } from '../src/ops/tuning.js';
import { SWIFTSHADER_FLAGS, chromiumPath, gpuFlags } from '../scripts/chromium.js';
import type { BenchConfig, BenchEvent, Cell, ItemSpec, PageInfo, Pair, ResultFile } from './lib/types.js';
import { BACKEND_LABEL } from './lib/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results');

const HELP = `Usage: npm run bench -- [flags]
  --quick            small sizes and few runs; finishes in under 3 minutes on a 2-core machine with SwiftShader
  --node             run in Node on Dawn (the webgpu package) instead of headless Chromium
  --gpu              Chromium with a GPU (on Linux through Vulkan/ANGLE flags), and GEMM 2048³ and 4096³ (default: on macOS and
                     Windows, and on Linux when /dev/nvidia0 or /dev/dri/renderD* exists)
  --swiftshader      force Chromium's SwiftShader adapter even where a GPU is found
  --time-limit S     stop at S seconds, writing what was measured; no new measurement starts after S − 30 s
                     (--quick) or S − 120 s, or S − S/4 if that is later (default 170 with --quick, 3600 otherwise)
  --only A,B         only the items whose id contains A or B (ids: gemm-256, conv1-fwd, conv2-bwdFilter, pool-bwd, train-lenet-32-64, …)
  --tfjs A,B         only these TF.js backends (webgpu, wasm, cpu; default all)
  --no-build         --node: reuse bench/dist-node from an earlier run (a machine with the built suite but no TF.js sources)
  --ref-truth-only   the CPU reference as ground truth only (whole items under ~2 s, else exact slices; one timed run): for GPU machines
  --autotune         convgpu with the tiling autotune picks for this adapter (timed once, cached) instead of the defaults
  --tuning JSON      set these tuning fields on convgpu's engine (src/ops/tuning.ts), e.g. '{"convChannelCols":"auto"}'
                     (with --autotune or --tuning the results are named -tuned and the README is left alone)
  --no-readme        do not update bench/README.md
  --out DIR          write the results JSON and chart into DIR (default bench/results); README left alone unless DIR is bench/results
  --report FILE      no run: print the tables of a saved results JSON and, if it is in bench/results, put them in bench/README.md
                     and redraw its chart (not with --no-readme)
  --help
Environment: CHROME_PATH (default: the first of /usr/bin/chromium, chromium-browser, google-chrome-stable, google-chrome;
  on macOS and Windows, Google Chrome's usual place).`;

const args = parseFlags(
  {
    quick: { type: 'boolean', default: false },
    node: { type: 'boolean', default: false },
    gpu: { type: 'boolean', default: false },
    swiftshader: { type: 'boolean', default: false },
    'time-limit': { type: 'string' },
    'no-readme': { type: 'boolean', default: false },
    tfjs: { type: 'string' },
    'ref-truth-only': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    autotune: { type: 'boolean', default: false },
    tuning: { type: 'string' },
    only: { type: 'string' },
    report: { type: 'string' },
    out: { type: 'string' },
  },
  HELP,
);
const usageError = (why: string): never => usage(why, HELP);

/** --tuning: a JSON object whose keys are Tuning fields; anything else stops the run before it starts. */
function parseTuning(text: string | undefined): Partial<Tuning> | undefined {
  if (text === undefined) return undefined;
  const stop = (why: string): never => usageError(`--tuning: ${why}; pass an object of fields from src/ops/tuning.ts, such as '{"convChannelCols":"auto"}'.`);
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch (e) {
    stop(`not JSON (${(e as Error).message})`);
  }
  if (!t || typeof t !== 'object' || Array.isArray(t)) stop('not an object');
  try {
    checkTuning(t as Partial<Tuning>, Infinity, '--tuning');
  } catch (e) {
    usageError((e as Error).message);
  }
  return t as Partial<Tuning>;
}

const started = Date.now();
const quick = args.quick;
// Macs (Metal) and Windows (D3D12) have a GPU WebGPU can use; Linux has one where a GPU device node exists.
const hasGpuDevice = (): boolean =>
  process.platform === 'darwin' || process.platform === 'win32' ||
  existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')));
const gpu = !args.swiftshader && (args.gpu || hasGpuDevice());
const limitS = Number(args['time-limit'] ?? (quick ? 170 : 3600));
// New measurements stop here, a reserve before the hard limit for what is running then to
// finish: 30 s (--quick) or 120 s, but at most a quarter of the limit, so that a short limit
// (the GPU machine's script gives the bench ~2 minutes) still leaves most of it for measuring.
const reserveMs = Math.min(quick ? 30_000 : 120_000, (limitS * 1000) / 4);
const config: BenchConfig = {
  quick,
  gpu,
  seed: 1,
  deadline: started + limitS * 1000 - reserveMs,
  only: args.only ? args.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  tfjs: args.tfjs ? args.tfjs.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  refTruthOnly: args['ref-truth-only'],
  autotune: args.autotune,
  tuning: parseTuning(args.tuning),
};
const hardLimitMs = limitS * 1000;
// Flags that would run nothing, or something other than asked, stop here.
if (!(limitS > 0)) usageError(`--time-limit must be a positive number of seconds, got "${args['time-limit']}".`);
if (config.only && buildItems({ quick, gpu, only: config.only }).length === 0) {
  usageError(`--only ${args.only}: no item's id contains it; the ids${quick ? ' with --quick' : ''} are ${buildItems({ quick, gpu }).map((it) => it.id).join(', ')}.`);
}
const unknownTfjs = config.tfjs?.filter((b) => !['webgpu', 'wasm', 'cpu'].includes(b)) ?? [];
if (unknownTfjs.length) usageError(`--tfjs ${args.tfjs}: unknown backend ${unknownTfjs.join(', ')}; TF.js runs on webgpu, wasm and cpu.`);

let info: PageInfo | null = null;
let items: ItemSpec[] = [];
const cells: Cell[] = [];
const pairs: Pair[] = [];

function onEvent(e: BenchEvent): void {
  if (e.type === 'info') {
    info = e.info;
    items = e.items;
    console.log(`adapter: ${e.info.adapter}`);
    if (e.info.gpuNote) console.warn(`warning: ${e.info.gpuNote}`);
    if (e.info.tuning) console.log(`convgpu kernels (${e.info.tuning})`);
    console.log(`TF.js ${e.info.tfjsVersion}: ${e.info.backends.filter((b) => b.startsWith('tfjs')).join(', ')}; webgpu adapter: ${e.info.tfjsWebgpuAdapter ?? '—'}`);
    if (e.info.wasmThreadsNote) console.log(`TF.js wasm: ${e.info.wasmThreadsNote}`);
    for (const [b, err] of Object.entries(e.info.backendErrors)) console.log(`TF.js ${b} did not initialise: ${err}`);
  } else if (e.type === 'log') {
    console.log(e.text);
  } else if (e.type === 'cell') {
    cells.push(e.cell);
    const c = e.cell;
    const it = items.find((i) => i.id === c.item);
    const what =
      c.wall && it
        ? `${rate(it, c.wall.median).toPrecision(3)} ${it.unit}, ${c.wall.median.toFixed(2)} ms (${c.reps} runs; first ${c.firstMs?.toFixed(0)} ms${c.gpu ? `; GPU ${c.gpu.median.toFixed(2)} ms` : ''})` +
          (c.maxRelErr !== undefined ? ` err ${c.maxRelErr.toExponential(1)}` : '')
        : '';
    console.log(`  ${BACKEND_LABEL[c.backend].padEnd(22)} ${c.status.padEnd(11)} ${what}${c.note ? ` ${c.note.slice(0, 160)}` : ''}`);
  } else if (e.type === 'pair') {
    pairs.push(e.pair);
    console.log(`  ${pairText(e.pair)}`);
  } else if (e.type === 'error') {
    console.error(`benchmark error: ${e.message}`);
  }
}

/** Runs the page in Chromium; resolves when it is done, failed, or ran out of time. */
async function runBrowser(): Promise<{ runtime: string; flags: string[]; incomplete?: string }> {
  const { build } = await import('vite');
  const puppeteer = (await import('puppeteer-core')).default;
  const { serve } = await import('./serve.js');
  console.log('building the page (vite)…');
  await build({ configFile: join(HERE, 'vite.config.ts'), logLevel: 'warn' });
  const server = await serve(join(HERE, 'dist'), { '/wasm/': join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') });
  const executablePath = chromiumPath();
  const userDataDir = mkdtempSync(join(tmpdir(), 'convgpu-bench-'));
  const flags = gpu ? gpuFlags() : SWIFTSHADER_FLAGS;
  console.log(`chromium: ${executablePath} --headless=new ${flags.join(' ')}`);
  const browser = await puppeteer.launch({ executablePath, headless: true, args: flags, userDataDir, protocolTimeout: hardLimitMs + 60_000 });
  const runtime = `Chromium ${await browser.version()}`;
  let incomplete: string | undefined;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${String(e)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`page console: ${m.text().slice(0, 300)}`);
    });
    const finished = new Promise<string | undefined>((ok) => {
      void page.exposeFunction('__benchEvent', (json: string) => {
        const e = JSON.parse(json) as BenchEvent;
        onEvent(e);
        if (e.type === 'done') ok(undefined);
        if (e.type === 'error') ok(`the page stopped with an error: ${e.message.split('\n')[0]}`);
      });
      setTimeout(() => ok(`stopped at the ${limitS} s limit while a measurement was running`), Math.max(1000, started + hardLimitMs - Date.now())).unref();
    });
    await page.evaluateOnNewDocument((c: BenchConfig) => {
      window.__benchConfig = c;
    }, config);
    await page.goto(server.url, { waitUntil: 'load' });
    incomplete = await finished;
  } finally {
    await browser.close().catch(() => {});
    await server.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
  return { runtime, flags: ['--headless=new', ...flags], incomplete };
}

/** The same suite in this process, on Dawn: Vite bundles bench/node/entry.ts (see vite.node.config.ts), then it runs here. */
async function runNode(): Promise<{ runtime: string; incomplete?: string }> {
  if (!args['no-build']) {
    const { build } = await import('vite');
    console.log('building the Node suite (vite)…');
    await build({ configFile: join(HERE, 'vite.node.config.ts'), logLevel: 'warn' });
  }
  const mod = (await import(pathToFileURL(join(HERE, 'dist-node/entry.cjs')).href)) as { runNodeSuite: NodeSuite } | { default: { runNodeSuite: NodeSuite } };
  const runNodeSuite = 'runNodeSuite' in mod ? mod.runNodeSuite : mod.default.runNodeSuite;
  let incomplete: string | undefined;
  try {
    await runNodeSuite(config, onEvent, join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist'));
  } catch (e) {
    incomplete = `the suite stopped with an error: ${String(e)}`;
    console.error(e);
  }
  return { runtime: `Node ${process.version}, Dawn (webgpu npm)`, incomplete };
}

type NodeSuite = (config: BenchConfig, emit: (e: BenchEvent) => void, wasmDir: string) => Promise<void>;

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'unknown';
}

function adapterSlug(i: PageInfo): string {
  const a = i.adapterInfo as { vendor?: string; architecture?: string; device?: string; description?: string };
  const text = `${a.architecture ?? ''} ${a.description ?? ''} ${a.device ?? ''}`;
  for (const known of ['swiftshader', 'llvmpipe', 'lavapipe']) if (text.toLowerCase().includes(known)) return known;
  return slug([a.vendor, a.architecture || a.device || a.description].filter(Boolean).join(' '));
}

/** A result's name without the date: its section of bench/README.md (quick and full runs, and each adapter, apart). */
function resultName(r: ResultFile): string {
  return `${r.meta.mode === 'browser' ? 'chromium' : 'node'}-${adapterSlug(r.info)}${r.meta.quick ? '-quick' : ''}`;
}

function updateReadme(r: ResultFile, table: string, notes: string, files: string[]): void {
  const path = join(HERE, 'README.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = `<!-- latest-${resultName(r)}:start -->`;
  const end = `<!-- latest-${resultName(r)}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.warn(`bench/README.md has no ${start} … ${end} markers; not updated (add them where this run's tables belong).`);
    return;
  }
  const svg = files.find((f) => f.endsWith('.svg'));
  const body = [start, '', table, '', notes, '', `Files: ${files.map((f) => `[\`${f}\`](${f})`).join(', ')}`, '', ...(svg ? [`![throughput per item and backend](${svg})`, ''] : []), end].join('\n');
  writeFileSync(path, text.slice(0, a) + body + text.slice(b + end.length));
}

/**
 * Whether a results file lies in bench/results/, the only place bench/README.md may link: a
 * section rewritten from anywhere else (--out /tmp/…) would link files the repository has not.
 */
function inResults(file: string): boolean {
  return existsSync(RESULTS) && realpathSync(dirname(resolve(file))) === realpathSync(RESULTS);
}

/**
 * Prints a result's tables and, unless told not to, puts them in bench/README.md; `files[0]` is
 * the results JSON, and the README is left alone when it is not in bench/results/.
 */
function publish(result: ResultFile, files: string[], readme: boolean): void {
  const pairTable = pairsTable(result);
  const table = summaryTable(result) + (pairTable ? `\n\n${pairTable}` : '');
  const notes = footnotes(result);
  console.log(`\n${table}\n\n${notes}\n\n${detailsTable(result)}\n`);
  if (!readme) return;
  if (!inResults(files[0]!)) {
    console.log(`bench/README.md left alone: ${resolve(files[0]!)} is not in bench/results/, and the README links only files there.`);
    return;
  }
  updateReadme(result, table, notes, files.map((f) => relative(HERE, f)));
}

/**
 * --report: a saved run's tables again and, for a file in bench/results/ unless --no-readme,
 * its README section and its chart redrawn (for instance after the tables' or chart's layout changed).
 */
async function report(file: string): Promise<void> {
  let result: ResultFile;
  try {
    result = JSON.parse(readFileSync(file, 'utf8')) as ResultFile;
    if (!result.meta || !result.info || !Array.isArray(result.items) || !Array.isArray(result.cells)) throw new Error('no meta, info, items and cells');
  } catch (e) {
    console.error(`--report ${file}: not a results file of this benchmark (${e instanceof Error ? e.message : String(e)}); pass one of bench/results/*.json.`);
    process.exit(2);
  }
  const svg = file.replace(/\.json$/, '.svg');
  if (!args['no-readme'] && inResults(file)) writeFileSync(svg, await chartSvg(result));
  publish(result, [file, ...(existsSync(svg) ? [svg] : [])], !args['no-readme']);
}

async function main(): Promise<void> {
  if (args.report) return report(args.report);
  console.log(`convgpu benchmark: ${args.node ? 'Node + Dawn' : 'headless Chromium'}${quick ? ', --quick' : ''}${gpu ? ', GPU' : ''}; time limit ${limitS} s`);
  let run: { runtime: string; flags?: string[]; incomplete?: string };
  if (args.node) {
    const timer = setTimeout(() => {
      console.error(`stopped at the ${limitS} s limit; writing what was measured`);
      void finish({ runtime: `Node ${process.version}, Dawn (webgpu npm)`, incomplete: `stopped at the ${limitS} s limit` }).then(() => process.exit(1));
    }, hardLimitMs);
    timer.unref();
    run = await runNode();
    clearTimeout(timer);
  } else {
    run = await runBrowser();
  }
  await finish(run);
  process.exit(run.incomplete ? 1 : 0);
}

let finished = false;
async function finish(run: { runtime: string; flags?: string[]; incomplete?: string }): Promise<void> {
  if (finished) return;
  finished = true;
  if (!info) {
    const hint = gpu && !args.node ? ' In GPU mode (Vulkan flags) Chromium may find no WebGPU adapter at all; --swiftshader runs on the CPU instead.' : '';
    console.error(`no results: ${(run.incomplete ?? 'the page never reported').replace(/\.$/, '')}.${hint}`);
    process.exit(1);
  }
  const i: PageInfo = info;
  const now = new Date().toISOString(); // UTC
  const date = now.slice(0, 10);
  const result: ResultFile = {
    meta: {
      date,
      mode: args.node ? 'node' : 'browser',
      quick,
      gpu: gpu && !i.adapterInfo.isFallbackAdapter,
      runtime: run.runtime,
      flags: run.flags,
      totalSeconds: (Date.now() - started) / 1000,
      timing:
        'Warm-up (the first run, pipeline compile included) is excluded and reported as "first result"; then the median, min and max of up to ' +
        `${quick ? 3 : 10} runs within a per-item budget. convgpu's GPU time: a GpuTimer pass after each timed run (never before one), one source per cell. ` +
        'Training steps end at the loss read back once, on every backend.',
      tolerance: TOLERANCE,
      incomplete: run.incomplete,
    },
    info: i,
    items,
    cells,
    pairs,
  };
  const dir = args.out ?? RESULTS;
  mkdirSync(dir, { recursive: true });
  // The time too (UTC, to the second): a second run the same day wrote over the first. Older
  // files are named by date alone; --report reads either.
  const base = `${date}-${now.slice(11, 19).replace(/:/g, '')}-${result.meta.mode === 'browser' ? 'chromium' : 'node'}-${adapterSlug(i)}${quick ? '-quick' : ''}${config.autotune || config.tuning ? '-tuned' : ''}${config.only || config.tfjs ? '-partial' : ''}`;
  const jsonPath = join(dir, `${base}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 1)}\n`);
  const files = [jsonPath];
  try {
    const svgPath = join(dir, `${base}.svg`);
    writeFileSync(svgPath, await chartSvg(result));
    files.push(svgPath);
  } catch (e) {
    console.error(`chart not drawn: ${String(e)}`);
  }
  publish(result, files, !args['no-readme'] && !config.only && !config.tfjs && !config.autotune && !config.tuning);
  console.log(`wrote ${files.map((f) => relative(ROOT, f)).join(', ')} (${result.meta.totalSeconds.toFixed(0)} s)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
