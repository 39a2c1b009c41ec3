// The run's outputs: markdown tables (summary and details), a bar chart drawn by
// Vega-Lite as SVG, the JSON file, and the latest table in bench/README.md.
import type { BackendId, Cell, ItemSpec, Pair, ResultFile } from './types.js';
import { BACKEND_LABEL } from './types.js';

const SHORT: Record<BackendId, string> = {
  convgpu: 'convgpu',
  reference: 'CPU ref',
  'tfjs-webgpu': 'TF webgpu',
  'tfjs-wasm': 'TF wasm',
  'tfjs-wasm-patched': 'TF wasm (patched)',
  'tfjs-cpu': 'TF cpu',
};

function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  if (x >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

/** Throughput in the item's unit for a time in ms. */
export function rate(item: ItemSpec, ms: number): number {
  if (item.kind === 'train') return item.batch / (ms / 1000);
  return item.work / (ms / 1000) / 1e9;
}

/** A result that may be compared: verified against the reference (or the reference itself) and within tolerance. */
const counts = (c: Cell | undefined): c is Cell & { wall: NonNullable<Cell['wall']> } =>
  !!c && c.status === 'ok' && !!c.wall && (c.backend === 'reference' || c.maxRelErr !== undefined);

function cellText(item: ItemSpec, c: Cell | undefined, gpu = false): string {
  if (!c) return '—';
  if (c.status === 'fail') return `**FAIL** (err ${c.maxRelErr?.toExponential(1)})`;
  if (c.status === 'unsupported') return 'unsupported';
  if (c.status === 'skipped') return c.note?.includes('time limit') ? 'skipped (time)' : 'skipped';
  if (c.status === 'error') return 'error';
  const s = gpu ? c.gpu : c.wall;
  if (!s) return '—';
  const mark = c.maxRelErr === undefined && c.backend !== 'reference' ? ' (unverified)' : c.reps === 0 && !gpu ? ' (cold)' : '';
  // Each cell's GPU time has one source, said where it is not timestamp-query.
  const source = gpu && c.gpuSource === 'wall' ? ' (wall)' : '';
  return `${fmtNum(rate(item, s.median))} · ${fmtNum(s.median)} ms${source}${mark}`;
}

function ratio(cg: Cell | undefined, other: Cell | undefined): string {
  if (cg?.status === 'fail') return 'FAIL';
  if (!counts(cg) || !counts(other)) return '—';
  return `×${fmtNum(other.wall.median / cg.wall.median)}`;
}

/** Row label with its unit. */
const itemLabel = (it: ItemSpec): string => `${it.label} [${it.unit}]`;

export function summaryTable(r: ResultFile): string {
  const by = (it: ItemSpec, b: BackendId): Cell | undefined => r.cells.find((c) => c.item === it.id && c.backend === b);
  const hasPatched = r.cells.some((c) => c.backend === 'tfjs-wasm-patched');
  const cols: BackendId[] = ['reference', 'tfjs-webgpu', 'tfjs-wasm', ...(hasPatched ? (['tfjs-wasm-patched'] as const) : []), 'tfjs-cpu'];
  const head = ['item [unit]', 'convgpu GPU time', 'convgpu end-to-end', ...cols.map((b) => SHORT[b]), 'convgpu ÷ TF webgpu', 'convgpu ÷ TF wasm', 'convgpu ÷ TF cpu', 'fastest'];
  const rows = r.items.map((it) => {
    const cg = by(it, 'convgpu');
    const wasm = counts(by(it, 'tfjs-wasm')) ? by(it, 'tfjs-wasm') : by(it, 'tfjs-wasm-patched');
    const ok = (['convgpu', ...cols] as BackendId[]).map((b) => by(it, b)).filter(counts);
    const best = ok.sort((a, b) => a.wall.median - b.wall.median)[0];
    return [
      itemLabel(it),
      cellText(it, cg, true),
      cellText(it, cg),
      ...cols.map((b) => cellText(it, by(it, b))),
      ratio(cg, by(it, 'tfjs-webgpu')),
      ratio(cg, wasm) + (wasm?.backend === 'tfjs-wasm-patched' && counts(wasm) ? ' (patched)' : ''),
      ratio(cg, by(it, 'tfjs-cpu')),
      best ? SHORT[best.backend] : '—',
    ];
  });
  return markdown(head, rows);
}

/** convgpu's GPU time by dispatch (Cell.kernels), e.g. "by kernel: im2col 0.41, gemm.shared 0.77 ms". */
function byKernel(c: Cell): string {
  return c.kernels?.length ? `by kernel: ${c.kernels.map((k) => `${k.kernel} ${fmtNum(k.ms)}`).join(', ')} ms` : '';
}

export function detailsTable(r: ResultFile): string {
  const head = ['item', 'backend', 'median ms', 'min–max ms', 'runs', 'first result ms', 'GPU ms (source)', 'max rel err', 'checked against / note'];
  const rows: string[][] = [];
  for (const it of r.items) {
    for (const c of r.cells.filter((x) => x.item === it.id)) {
      rows.push([
        it.label,
        BACKEND_LABEL[c.backend],
        c.wall ? fmtNum(c.wall.median) : '',
        c.wall ? `${fmtNum(c.wall.min)}–${fmtNum(c.wall.max)}` : '',
        c.reps !== undefined ? String(c.reps) : '',
        c.firstMs !== undefined ? fmtNum(c.firstMs) : '',
        c.gpu ? `${fmtNum(c.gpu.median)} (${c.gpuSource})` : '',
        c.maxRelErr !== undefined ? (c.status === 'fail' ? `**${c.maxRelErr.toExponential(1)} FAIL**` : c.maxRelErr.toExponential(1)) : '',
        [c.status === 'ok' ? c.checkedBy : '', c.note, byKernel(c)].filter(Boolean).join('; ').replace(/\|/g, '\\|').replace(/\n/g, ' '),
      ]);
    }
  }
  return markdown(head, rows);
}

function markdown(head: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head.map(esc)), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** The head-to-heads as a table: convgpu ÷ the other backend, per alternating round. */
export function pairsTable(r: ResultFile): string {
  if (!r.pairs?.length) return '';
  const head = ['head to head [end-to-end ms]', 'against', 'rounds', 'convgpu', 'other', 'convgpu ÷ other, per round: median (min–max)'];
  const rows = r.pairs.map((p) => [
    r.items.find((i) => i.id === p.item)?.label ?? p.item,
    SHORT[p.b],
    String(p.rounds),
    fmtNum(p.aMs.median),
    fmtNum(p.bMs.median),
    `×${fmtNum(p.ratio.median)} (×${fmtNum(p.ratio.min)}–×${fmtNum(p.ratio.max)})`,
  ]);
  return markdown(head, rows);
}

/** One head-to-head as a sentence: convgpu ÷ the other, per alternating round. */
export function pairText(p: Pair, items?: ItemSpec[]): string {
  const label = items?.find((i) => i.id === p.item)?.label ?? p.item;
  return (
    `head to head, ${label}: convgpu ÷ ${SHORT[p.b]} ×${fmtNum(p.ratio.median)} (min ×${fmtNum(p.ratio.min)}, max ×${fmtNum(p.ratio.max)}) ` +
    `over ${p.rounds} alternating rounds; medians ${fmtNum(p.aMs.median)} against ${fmtNum(p.bMs.median)} ms`
  );
}

export function footnotes(r: ResultFile): string {
  const i = r.info;
  const lines = [
    `- ${r.meta.mode === 'browser' ? 'Headless Chromium' : 'Node + Dawn'}: ${r.meta.runtime}; ${r.meta.quick ? '`--quick` (small sizes, few runs)' : 'full run'}; ${r.meta.date}; ${r.meta.totalSeconds.toFixed(0)} s in all.`,
    `- convgpu adapter: ${i.adapter}; timestamp-query: ${i.hasTimestamps ? 'yes' : 'no'}${i.tuning ? `; kernels ${i.tuning}` : ''}. TF.js ${i.tfjsVersion} webgpu adapter: ${i.tfjsWebgpuAdapter ?? '—'}.`,
    `- TF.js wasm threads: ${i.wasmThreads ?? '—'}${i.wasmThreadsNote ? ` (${i.wasmThreadsNote})` : ''}.`,
    `- Cells: throughput · median ms. "GPU time" is convgpu's GpuTimer: timestamp-query, or in cells marked (wall) the wall time from submit to onSubmittedWorkDone (the details give each cell's source); the other columns are end-to-end: from the call to the output read back into JS (TF.js: \`await tensor.data()\`; convgpu: engine.run then readBuffer, one round trip; its GPU time comes from a separate timed pass). Ratios compare end-to-end times (×2 = convgpu twice as fast). ${r.meta.timing}`,
    ...(r.pairs?.length
      ? [
          `- Head to head (second table): after an item's cells, convgpu and TF.js webgpu (and for training steps TF.js wasm) run in turn, the order swapped each round, up to ${r.meta.quick ? 5 : 15} rounds where 3 fit ${r.meta.quick ? 3 : 30} s: the machine's drifting load falls on both alike, where the first table's ratios divide medians taken minutes apart.`,
        ]
      : []),
    `- Every result is checked against convgpu's float64 CPU reference (the whole output, or an exact slice where the reference would be too slow; see the details); max relative error over ${r.meta.tolerance} is **FAIL** and never counts as fastest.`,
  ];
  if (i.gpuNote) lines.push(`- **${i.gpuNote}**`);
  for (const [b, e] of Object.entries(i.backendErrors)) lines.push(`- TF.js ${b} did not initialise: ${e}`);
  const unsupported = [...new Set(r.cells.filter((c) => c.status === 'unsupported').map((c) => `${BACKEND_LABEL[c.backend]}: ${c.note}`))];
  for (const u of unsupported) lines.push(`- ${u}`);
  if (r.meta.incomplete) lines.push(`- **Incomplete:** ${r.meta.incomplete}`);
  return lines.join('\n');
}

/** Chart series in order, with their colours (convgpu purple, TF.js in oranges, blues and green, the reference grey). */
const SERIES: Array<[string, string]> = [
  [BACKEND_LABEL.convgpu, '#6a3d9a'],
  [BACKEND_LABEL['tfjs-webgpu'], '#1f78b4'],
  [BACKEND_LABEL['tfjs-wasm'], '#ff7f00'],
  [BACKEND_LABEL['tfjs-wasm-patched'], '#fdbf6f'],
  [BACKEND_LABEL['tfjs-cpu'], '#33a02c'],
  [BACKEND_LABEL.reference, '#999999'],
];

/**
 * Grouped bars of end-to-end throughput per item and backend (verified results only), one panel
 * per unit. NOTE: end to end only: convgpu's GPU time beside the other backends' end-to-end
 * times would compare a kernel with a kernel plus its readback.
 */
export async function chartSvg(r: ResultFile): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const values: Array<Record<string, string | number>> = [];
  for (const it of r.items) {
    for (const c of r.cells.filter((x) => x.item === it.id)) {
      if (!counts(c)) continue;
      values.push({ item: it.label, unit: it.unit, backend: BACKEND_LABEL[c.backend], rate: rate(it, c.wall.median) });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `convgpu vs TF.js — ${r.info.adapter}`, subtitle: `${r.meta.mode}, ${r.meta.quick ? '--quick, ' : ''}${r.meta.date}; end to end (call to output read back), verified results only; log scale` },
    data: { values },
    facet: { row: { field: 'unit', type: 'nominal', title: null, sort: ['GFLOP/s', 'GB/s', 'images/s'] } },
    spec: {
      width: 720,
      height: { step: 9 },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'item', type: 'nominal', title: null, sort: null, axis: { labelLimit: 340, labelFontSize: 11 } },
        yOffset: { field: 'backend', type: 'nominal', sort: SERIES.map((x) => x[0]) },
        x: { field: 'rate', type: 'quantitative', stack: null, scale: { type: 'log' }, title: 'end-to-end throughput (log scale)', axis: { grid: true } },
        color: {
          field: 'backend',
          type: 'nominal',
          title: 'backend',
          scale: { domain: SERIES.map((x) => x[0]), range: SERIES.map((x) => x[1]) },
          legend: { labelLimit: 320, orient: 'top', columns: 4 },
        },
        tooltip: [{ field: 'backend' }, { field: 'rate', format: '.3~g' }],
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { font: 'sans-serif', header: { labelFontSize: 13, labelFontWeight: 'bold' } },
  };
  const compiled = vl.compile(spec as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
