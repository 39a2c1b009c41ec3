// Where the end-to-end time of a GEMM with its output read back goes (bench/lib/convgpu.ts's
// run(): engine.run, then engine.readBuffer), phase by phase, against bare Dawn calls: the
// H100 run had convgpu's 1024³ round trip at 2.56 ms against TF.js's 1.49. Medians of 21.
// Usage: readback.ts [edge], 1024 by default.
import { Engine } from '../../src/runtime/engine.js';
import { gemmDispatch } from '../../src/ops/gemm.js';
import { median } from '../../bench/lib/stats.js';

const e = await Engine.create();
const dev = e.device;
const n = Number(process.argv[2] ?? 1024), bytes = n * n * 4; // an edge as argument: the tests' small run
if (!(Number.isInteger(n) && n >= 4 && n % 4 === 0)) throw new Error(`readback.ts: the GEMM edge must be a multiple of 4, got ${process.argv[2]}`);
const a = e.tensor(new Float32Array(n * n).fill(0.5), [n, n]), b = e.tensor(new Float32Array(n * n).fill(0.25), [n, n]), c = e.empty([n, n]);
const d = gemmDispatch(e, { batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false }, a.buffer, b.buffer, c.buffer);
await e.run(d);
await e.sync();
const med = (xs: number[]): string => median(xs).toFixed(3);
const rows: string[] = [];
async function time(label: string, f: () => Promise<Record<string, number>>): Promise<void> {
  const phases: Record<string, number[]> = {};
  for (let i = 0; i < 22; i++) {
    const r = await f();
    if (i === 0) continue; // warm-up
    for (const [k, v] of Object.entries(r)) (phases[k] ??= []).push(v);
  }
  rows.push(`${label.padEnd(44)} ${Object.entries(phases).map(([k, v]) => `${k} ${med(v)}`).join('  ')}`);
}
const now = () => performance.now();
const staging = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
async function bareRead(buf: GPUBuffer, fresh: boolean, slice: boolean): Promise<Record<string, number>> {
  const t0 = now();
  const st = fresh ? dev.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : buf;
  const enc = dev.createCommandEncoder();
  enc.copyBufferToBuffer(c.buffer, 0, st, 0, bytes);
  dev.queue.submit([enc.finish()]);
  const t1 = now();
  await st.mapAsync(GPUMapMode.READ, 0, bytes);
  const t2 = now();
  const r = st.getMappedRange(0, bytes);
  if (slice) new Float32Array(r.slice(0)); // the copy out of the mapped range, as engine.readBuffer makes it
  const t3 = now();
  st.unmap();
  if (fresh) st.destroy();
  return { total: t3 - t0, submit: t1 - t0, map: t2 - t1, copyOut: t3 - t2 };
}
await time('engine.run + readBuffer (the bench)', async () => { const t0 = now(); await e.run(d); await e.readBuffer(c.buffer, bytes); return { total: now() - t0 }; });
await time('engine.run + sync', async () => { const t0 = now(); await e.run(d); await e.sync(); return { total: now() - t0 }; });
await time('engine.run + sync, then readBuffer', async () => { const t0 = now(); await e.run(d); await e.sync(); const t1 = now(); await e.readBuffer(c.buffer, bytes); return { total: now() - t0, read: now() - t1 }; });
await time('readBuffer alone', async () => { const t0 = now(); await e.readBuffer(c.buffer, bytes); return { total: now() - t0 }; });
await time('bare copy + map, one staging buffer, slice', () => bareRead(staging, false, true));
await time('bare copy + map, one staging buffer, no copy', () => bareRead(staging, false, false));
await time('bare copy + map, fresh staging buffer, slice', () => bareRead(staging, true, true));
await time('engine.run, then bare read (one submit each)', async () => { const t0 = now(); await e.run(d); const r = await bareRead(staging, false, true); return { total: now() - t0, map: r.map!, copyOut: r.copyOut! }; });
await time('onSubmittedWorkDone alone (idle queue)', async () => { const t0 = now(); await dev.queue.onSubmittedWorkDone(); return { total: now() - t0 }; });
console.log(`readback of ${bytes / 2 ** 20} MiB on ${e.describe()} (ms, medians of 21):`);
for (const r of rows) console.log(r);
e.destroy();
