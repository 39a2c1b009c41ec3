// Before and after a kernel change, on this adapter: every op shape below and whole training
// steps run with the working tree's kernels (A) and with the same-named kernels of a base
// revision (B; default HEAD), on the working tree's dispatches (routes, tiles, bindings).
// Paired rounds, the order swapped each round, so the machine's drifting load falls on both;
// timestamp-query per op where the adapter has it, wall time per training step. It also says
// whether A's output equals B's (max |A − B| / max |B|). Every run is inside a validation error
// scope, so a case whose B kernels cannot take the working tree's dispatches (another override
// or binding), or that has a kernel the base revision lacks, says so and is not compared.
// Only cases that run a kernel whose code differs are timed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Engine, type Dispatch, type Kernel } from '../src/runtime/engine.js';
import { GpuTimer } from '../src/runtime/gpu-timer.js';
import { median } from './lib/stats.js';
import { gemmDispatches, gemmScratch } from '../src/ops/gemm.js';
import * as conv from '../src/ops/conv2d.js';
import { maxPool2dBwdDispatch, maxPool2dFwdDispatch } from '../src/ops/maxpool2d.js';
import { conv2dGeom, pool2dGeom } from '../src/ops/geometry.js';
import { Model } from '../src/nn/model.js';
import { MODELS } from '../src/nn/models.js';
import { alternate } from './lib/alternate.js';
import { parseFlags, usage } from './lib/flags.js';
import { defaultTuning } from '../src/ops/tuning.js';

const USAGE = `Usage: npm run bench:ab -- [--base REV] [--rounds N] [--only A,B] [--quick] [--gpu-tuning]
  A: the working tree's kernels; B: those of REV (default HEAD), by name, on the working tree's dispatches.
  --rounds N     paired rounds per case (default 9, 5 with --quick)
  --only A,B     only the cases whose label contains A or B (e.g. "bwd input", "train")
  --quick        GEMM 256³ and 512³, LeNet's two convolutions, the LeNet step
  --gpu-tuning   a GPU's default tuning (workgroup-memory GEMM, im2col) on this adapter: on an
                 emulator, a proxy for a change to the GPU kernels`;
const args = parseFlags(
  { base: { type: 'string', default: 'HEAD' }, rounds: { type: 'string' }, only: { type: 'string' }, quick: { type: 'boolean' }, 'gpu-tuning': { type: 'boolean' } },
  USAGE,
);
const rounds = Number(args.rounds ?? (args.quick ? 5 : 9));
if (!Number.isInteger(rounds) || rounds < 1) usage(`bench:ab: --rounds ${args.rounds} is not a whole number ≥ 1.`, USAGE);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = args.only?.split(',').map((s) => s.trim()).filter(Boolean);
const wanted = (label: string): boolean => !only || only.some((o) => label.includes(o));

// The base revision's src/ and shaders/, unpacked under scratch/ (git-ignored; unpacked beside
// and renamed, so an interrupted unpack is never reused); its kernel tables are imported from
// there, so each kernel's code is exactly what that revision ran.
const sha = execFileSync('git', ['rev-parse', '--verify', `${args.base!}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
const baseDir = join(ROOT, 'scratch', 'ab', sha.slice(0, 12));
if (!existsSync(baseDir)) {
  const tmp = `${baseDir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let tar: Buffer;
  try {
    tar = execFileSync('git', ['archive', sha, 'src', 'shaders'], { cwd: ROOT, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`bench:ab: ${args.base} (${sha.slice(0, 12)}) has no src/ or shaders/: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
  }
  execFileSync('tar', ['-x', '-C', tmp], { input: tar });
  renameSync(tmp, baseDir);
}
const isKernel = (v: unknown): v is Kernel => typeof v === 'object' && v !== null && typeof (v as Kernel).name === 'string' && typeof (v as Kernel).code === 'string';
const baseKernels = new Map<string, Kernel>();
let baseVec4: ((k: Kernel) => Kernel) | undefined; // the base's ops/dispatch.ts vec4Kernel, where it has one
for (const f of await readdir(join(baseDir, 'src', 'ops'))) {
  if (!f.endsWith('.ts')) continue;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(join(baseDir, 'src', 'ops', f)).href)) as Record<string, unknown>;
  } catch (e) {
    console.warn(`bench:ab: src/ops/${f} of ${args.base} did not load (${e instanceof Error ? e.message.split('\n')[0] : e}); its kernels count as missing there`);
    continue;
  }
  if (f === 'dispatch.ts' && typeof mod.vec4Kernel === 'function') baseVec4 = mod.vec4Kernel as (k: Kernel) => Kernel;
  for (const v of Object.values(mod)) {
    for (const k of isKernel(v) ? [v] : typeof v === 'object' && v !== null ? Object.values(v) : []) {
      if (isKernel(k)) baseKernels.set(k.name, k);
    }
  }
}
/** The base revision's code for a kernel, or undefined where it has none; pointwise kernels' vec4 copies (<name>.vec4) as its vec4Kernel makes them. */
function baseCode(k: Kernel): string | undefined {
  const base = baseKernels.get(k.name);
  if (base || !k.name.endsWith('.vec4')) return base?.code;
  const scalar = baseKernels.get(k.name.slice(0, -'.vec4'.length));
  if (!scalar || !baseVec4) return undefined;
  try {
    return baseVec4(scalar).code;
  } catch {
    return undefined; // not a pointwise kernel there
  }
}
/** Of these kernels, which differ from the base revision's and which it lacks. */
function compareKernels(ks: Kernel[]): { differ: string[]; missing: string[] } {
  const unique = [...new Map(ks.map((k) => [k.name, k])).values()];
  return {
    differ: unique.filter((k) => baseCode(k) !== undefined && baseCode(k) !== k.code).map((k) => k.name),
    missing: unique.filter((k) => baseCode(k) === undefined).map((k) => k.name),
  };
}

// Engine.create keeps the adapter's own subgroup size under any tuning it is given.
const engine = await Engine.create(args['gpu-tuning'] ? { tuning: defaultTuning(false) } : {});
const timer = new GpuTimer(engine);
try {
  await main();
} finally {
  timer.destroy();
  engine.destroy();
}

async function main(): Promise<void> {
  console.log(`adapter: ${engine.describe()}${args['gpu-tuning'] ? ", under a GPU's default tuning" : ''}\nA: the working tree; B: ${args.base} (${sha.slice(0, 12)})`);
  // B's kernels go through the engine's own pipeline cache under their own names, so a trainer
  // recorded while `useBase` is set keeps B's pipelines.
  let useBase = false;
  const seen = new Map<string, Kernel>(); // every kernel compiled, by name: a trainer's, for one
  const pipeline = engine.pipeline.bind(engine);
  engine.pipeline = (k, constants) => {
    seen.set(k.name, k);
    const code = useBase ? baseCode(k) : undefined;
    return pipeline(code !== undefined && code !== k.code ? { name: `${k.name}@base`, code } : k, constants);
  };
  /**
   * Runs f with B's kernels (or A's) inside a validation error scope: WebGPU reports a bind group
   * that does not fit a pipeline, or a submit of an invalid command buffer, there and not by
   * throwing, and such a run would leave the last output and timestamps in place.
   */
  async function run<T>(base: boolean, f: () => Promise<T>): Promise<T> {
    useBase = base;
    engine.device.pushErrorScope('validation');
    const outcome = await f().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    useBase = false;
    const err = await engine.device.popErrorScope();
    if (err) throw new Error(`${base ? 'B' : 'A'} did not run: ${err.message}`);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  const rnd = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
  const buf = (data: number | Float32Array): GPUBuffer =>
    (typeof data === 'number' ? engine.empty([Math.max(data, 4)]) : engine.tensor(data, [data.length])).buffer;
  const scratchOf = (sizes: Record<string, number>): Record<string, GPUBuffer> => Object.fromEntries(Object.entries(sizes).map(([k, f]) => [k, buf(f)]));

  interface Case { label: string; ds: Dispatch[]; out: GPUBuffer; floats: number }
  const cases: Case[] = [];
  for (const n of args.quick ? [256, 512] : [256, 512, 1024]) {
    const g = { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false };
    const out = buf(n * n);
    cases.push({ label: `gemm ${n}³`, ds: gemmDispatches(engine, g, buf(rnd(n * n, 1)), buf(rnd(n * n, 2)), out, {}, scratchOf(gemmScratch(engine, g))), out, floats: n * n });
  }
  // LeNet's two convolutions, the bench's 5×5 one at batch 64 and 4, and a "same" 3×3 one.
  const convs: Array<[number[], number[], number]> = [
    [[64, 1, 28, 28], [6, 1, 5, 5], 2],
    [[64, 6, 14, 14], [16, 6, 5, 5], 0],
    [[64, 32, 14, 14], [64, 32, 5, 5], 0],
    [[4, 32, 14, 14], [64, 32, 5, 5], 0],
    [[8, 64, 32, 32], [64, 64, 3, 3], 1],
  ];
  for (const [x, w, pad] of args.quick ? convs.slice(0, 2) : convs) {
    const g = conv2dGeom(x, w, { padding: pad });
    const xs = x.reduce((a, b) => a * b), ws = w.reduce((a, b) => a * b), ys = g.n * g.o * g.oh * g.ow;
    const xb = buf(rnd(xs, 3)), wb = buf(rnd(ws, 4)), dyb = buf(rnd(ys, 5));
    const name = `conv ${x.join('×')}→${w[0]} ${w[2]}×${w[3]}${pad ? ` pad ${pad}` : ''}`;
    const y = buf(ys), dx = buf(xs), dw = buf(ws);
    cases.push({ label: `${name} fwd`, ds: conv.conv2dFwdDispatches(engine, g, xb, wb, y, scratchOf(conv.conv2dScratch(engine, g, 'fwd'))), out: y, floats: ys });
    cases.push({ label: `${name} bwd input`, ds: conv.conv2dBwdInputDispatches(engine, g, dyb, wb, dx, scratchOf(conv.conv2dScratch(engine, g, 'bwdInput'))), out: dx, floats: xs });
    cases.push({ label: `${name} bwd filter`, ds: conv.conv2dBwdFilterDispatches(engine, g, xb, dyb, dw, scratchOf(conv.conv2dScratch(engine, g, 'bwdFilter'))), out: dw, floats: ws });
  }
  {
    const x = [64, 32, 28, 28];
    const g = pool2dGeom(x, { kernelSize: 2 }, 'bench:ab');
    const xs = x.reduce((a, b) => a * b), ys = xs / 4;
    const xb = buf(rnd(xs, 6)), y = buf(ys), dx = buf(xs);
    cases.push({ label: 'max pool 2×2 64×32×28×28 fwd', ds: [maxPool2dFwdDispatch(engine, g, xb, y)], out: y, floats: ys });
    cases.push({ label: 'max pool 2×2 64×32×28×28 bwd', ds: [maxPool2dBwdDispatch(engine, g, xb, buf(rnd(ys, 7)), dx)], out: dx, floats: xs });
  }

  const rows: string[][] = [];
  const ratioText = (r: number[]): string => `×${median(r).toFixed(3)} (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
  const report = (row: string[]): void => {
    rows.push(row);
    console.log(`  ${row[0]}: ${row[4]}`);
  };
  const notCompared = (label: string, kernels: string[], why: string): void => report([label, kernels.join(', '), '—', '—', `not compared: ${why}`, '—']);
  const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
  /** One warm run each, then `rounds` alternating rounds (bench/lib/alternate.ts); A ÷ B per round. */
  async function paired(a: () => Promise<number>, b: () => Promise<number>): Promise<{ a: number[]; b: number[]; ratio: number[] }> {
    await a();
    await b();
    const t = await alternate(a, b, (n) => n < rounds);
    return { ...t, ratio: t.a.map((x, i) => x / t.b[i]!) };
  }

  const nan = (floats: number): Float32Array<ArrayBuffer> => new Float32Array(floats).fill(Number.NaN);
  for (const c of cases) {
    const { differ, missing } = compareKernels(c.ds.map((d) => d.kernel));
    if (!wanted(c.label) || differ.length + missing.length === 0) continue;
    if (missing.length) {
      notCompared(c.label, [...differ, ...missing], `${args.base} has no ${missing.join(', ')}`);
      continue;
    }
    try {
      const outputs: Float32Array[] = [];
      for (const base of [false, true]) {
        engine.device.queue.writeBuffer(c.out, 0, nan(c.floats)); // a run that does not happen leaves NaN
        await run(base, () => engine.run(...c.ds));
        outputs.push(await engine.readBuffer(c.out, c.floats * 4));
      }
      const [oa, ob] = outputs as [Float32Array, Float32Array];
      let diff = 0;
      let scale = 0;
      let same = true;
      for (let i = 0; i < c.floats; i++) {
        if (!Object.is(oa[i], ob[i])) same = false;
        diff = Math.max(diff, Math.abs(oa[i]! - ob[i]!));
        scale = Math.max(scale, Math.abs(ob[i]!));
      }
      const time = (base: boolean) => async (): Promise<number> => (await run(base, () => timer.time(c.ds))).ms;
      const t = await paired(time(false), time(true));
      report([c.label, differ.join(', '), median(t.a).toFixed(3), median(t.b).toFixed(3), ratioText(t.ratio), same ? 'identical' : Number.isNaN(diff) ? 'NaN in one' : (diff / (scale || 1)).toExponential(1)]);
    } catch (e) {
      notCompared(c.label, differ, reason(e));
    }
  }

  // Whole training steps (batch 64): each model's trainer is recorded with A's kernels and again
  // with B's; a step is timed from step() to onSubmittedWorkDone.
  for (const name of args.quick ? ['lenet'] : ['lenet', 'lenet32', 'deepcnn']) {
    const label = `train step ${name}, batch 64`;
    if (!wanted(label)) continue;
    const batch = 64;
    const make = MODELS[name]!;
    const [c, h, w] = make().inputShape as [number, number, number];
    const xd = Float32Array.from({ length: batch * c * h * w }, (_, i) => ((i * 7919) % 255) / 255);
    const labels = Float32Array.from({ length: batch }, (_, i) => i % 10);
    const models: Model[] = [];
    let kernels: string[] = [];
    try {
      const plans: Array<Awaited<ReturnType<Model['trainer']>>> = [];
      const losses: number[] = [];
      for (const base of [false, true]) {
        const m = new Model(engine, make(), { seed: 1 });
        models.push(m);
        seen.clear();
        const plan = await run(base, () => m.trainer(batch));
        if (!base) {
          const k = compareKernels([...seen.values()]);
          kernels = [...k.differ, ...k.missing];
          if (k.missing.length) throw new Error(`${args.base} has no ${k.missing.join(', ')}`);
          if (kernels.length === 0) break;
        }
        plans.push(plan);
        losses.push((await run(base, () => plan.step(xd, labels, true)))!.loss);
      }
      if (kernels.length === 0) continue;
      const step = (i: number) => async (): Promise<number> =>
        run(i === 1, async () => {
          const t0 = performance.now();
          await plans[i]!.step(xd, labels, false);
          await engine.sync();
          return performance.now() - t0;
        });
      const t = await paired(step(0), step(1));
      const d = Math.abs(losses[0]! - losses[1]!);
      report([label, kernels.join(', '), median(t.a).toFixed(2), median(t.b).toFixed(2), ratioText(t.ratio), d === 0 ? 'identical loss' : `loss ${(d / Math.abs(losses[1]!)).toExponential(1)}`]);
    } catch (e) {
      notCompared(label, kernels, reason(e));
    } finally {
      for (const m of models) m.dispose();
    }
  }

  const head = ['case', 'kernels that differ', 'A ms', 'B ms', 'A ÷ B per round: median (min–max)', 'A vs B output'];
  console.log(`\n| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (rows.length === 0) console.log('(no case runs a kernel that differs from the base revision)');
  console.log(`\nA ÷ B under 1: the working tree is faster. ${rounds} paired rounds; ops timed by ${engine.hasTimestamps ? 'timestamp-query' : 'the wall time to onSubmittedWorkDone'}, training steps by the wall time.`);
}
