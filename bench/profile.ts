// Where a training step's device time goes: every dispatch of the compiled step, timed on
// its own (timestamp-query where the adapter has it), median of a few runs after warm-up.
import { Engine } from '../src/runtime/engine.js';
import { Model } from '../src/nn/model.js';
import { MODELS } from '../src/nn/models.js';
import type { Tuning } from '../src/ops/tuning.js';
import { parseFlags, usage } from './lib/flags.js';
import { median } from './lib/stats.js';

const HELP = 'Usage: npm run bench:profile [-- --model lenet32] [--batch 64] [--runs 5] [--gemm subgroup|registers|shared] [--json]';
const args = parseFlags(
  { model: { type: 'string', default: 'lenet' }, batch: { type: 'string', default: '64' }, runs: { type: 'string', default: '5' }, gemm: { type: 'string' }, json: { type: 'boolean' } },
  HELP,
);
const make = MODELS[args.model!];
if (!make) usage(`--model ${args.model}: unknown; one of ${Object.keys(MODELS).join(', ')}.`, HELP);
const batch = Number(args.batch);
const engine = await Engine.create({ tuning: args.gemm ? { gemm: args.gemm as Tuning['gemm'] } : {} });
console.log(`adapter: ${engine.describe()}  kernels: ${engine.tuning.gemm}`);
const model = new Model(engine, make(), { seed: 1 });
const plan = await model.trainer(batch);
const [c, h, w] = model.graph.inputShape as [number, number, number];
const x = Float32Array.from({ length: batch * c * h * w }, (_, i) => ((i * 7919) % 255) / 255);
const labels = Float32Array.from({ length: batch }, (_, i) => i % 10);
for (let i = 0; i < 2; i++) await plan.step(x, labels, true); // compile and warm up

const runs = await (async () => {
  const out = [];
  for (let i = 0; i < Number(args.runs); i++) out.push(await plan.profile());
  return out;
})();
const rows = runs[0]!.map((e, i) => ({ ...e, ms: median(runs.map((r) => r[i]!.ms)) }));
const total = rows.reduce((s, r) => s + r.ms, 0);
if (args.json) {
  console.log(JSON.stringify({ adapter: engine.describe(), model: args.model, batch, total, rows }, null, 2));
} else {
  console.log(`${args.model}, batch ${batch}: ${rows.length} dispatches, ${total.toFixed(1)} ms of device time (${((batch / total) * 1000).toFixed(0)} images/s), median of ${args.runs}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(26)} ${r.kernel.padEnd(28)} ${r.workgroups.join('×').padStart(14)} ${r.ms.toFixed(2).padStart(9)} ms ${((100 * r.ms) / total).toFixed(1).padStart(5)}%`);
  }
  const byLabel = new Map<string, number>();
  for (const r of rows) byLabel.set(r.label, (byLabel.get(r.label) ?? 0) + r.ms);
  console.log('\nby layer and pass:');
  for (const [l, ms] of [...byLabel].sort((a, b) => b[1] - a[1])) console.log(`${l.padEnd(26)} ${ms.toFixed(2).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
}
model.dispose();
engine.destroy();
