// The demo page: controls, plots, drawing pad, verify table and files. All GPU work is in
// worker.ts; this module only posts requests and draws what comes back. (Page-level state
// lives at module level here, as a demo may.)
import { alexnet, googlenet, lenet, mlp } from '../src/nn/models.js';
import { weightSplit } from '../src/nn/summary.js';
import { USUAL_LR } from '../src/nn/optim.js';
import type { VerifyRow } from '../src/nn/verify.js';
import { Charts } from './charts.js';
import { DrawPad, shiftImage, showImage } from './draw.js';
import { MODEL_NAMES, type FromWorker, type ModelName, type ModelStatus, type ToWorker, type TrainConfig } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: no element #${id}`);
  return el as T;
};
const SHORT: Record<ModelName, string> = { lenet: 'LeNet', mlp: 'MLP' };

type State = 'loading' | 'ready' | 'training' | 'paused' | 'done' | 'stopped' | 'error' | 'no-webgpu';
let state: State = 'loading';
let worker: Worker | null = null;
let trained: ModelStatus[] = [];
let run = { model: 'lenet' as ModelName, totalSteps: 1, epochs: 1, t0: 0 };

function post(msg: ToWorker, transfer: Transferable[] = []): void {
  worker?.postMessage(msg, transfer);
}

function setState(s: State, text?: string): void {
  state = s;
  const el = $('status');
  el.dataset.state = s;
  el.textContent = text ?? s;
  const ready = s === 'ready' || s === 'done' || s === 'stopped';
  const busy = s === 'training' || s === 'paused';
  $<HTMLButtonElement>('train').disabled = !ready;
  $<HTMLButtonElement>('pause').disabled = !busy;
  $<HTMLButtonElement>('pause').textContent = s === 'paused' ? 'Resume' : 'Pause';
  $<HTMLButtonElement>('stop').disabled = !busy;
  $<HTMLButtonElement>('verify').disabled = !ready;
  $<HTMLButtonElement>('sample').disabled = !(ready || busy);
  $<HTMLInputElement>('load-file').disabled = !ready;
  $<HTMLButtonElement>('save').disabled = !(ready || busy);
}

function message(el: HTMLElement, text: string, kind: 'error' | 'ok' | '' = ''): void {
  el.textContent = text;
  el.className = `msg ${kind}`;
}

function selected(): ModelName {
  return (document.querySelector<HTMLInputElement>('input[name="model"]:checked')?.value ?? 'lenet') as ModelName;
}

function paramCount(g: ReturnType<typeof lenet>): number {
  return g.params().reduce((s, e) => s + e.spec.shape.reduce((a, b) => a * b, 1), 0);
}

// ---- no WebGPU ----------------------------------------------------------------------

function showNoWebGpu(reasons: string[]): void {
  $('missing').replaceChildren(...reasons.map((r) => Object.assign(document.createElement('li'), { textContent: r })));
  $('no-webgpu').hidden = false;
  $('adapter').textContent = 'none';
  setState('no-webgpu', 'no WebGPU');
}

function missingWebGpu(): string[] {
  const out: string[] = [];
  if (!window.isSecureContext) {
    out.push(`This page is not a secure context (${location.origin}): browsers offer WebGPU only to https:// pages and to http://localhost or http://127.0.0.1.`);
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    out.push('navigator.gpu is missing: this browser does not offer WebGPU, or it is turned off' + (window.isSecureContext ? '.' : ' (it is hidden on insecure pages).'));
  }
  return out;
}

// ---- training -----------------------------------------------------------------------

function num(id: string): number {
  return Number($<HTMLInputElement>(id).value);
}

function config(): TrainConfig {
  return {
    model: selected(),
    optimizer: $<HTMLSelectElement>('optimizer').value as 'sgd' | 'adam',
    lr: num('lr'),
    batch: num('batch'),
    epochs: num('epochs'),
    trainImages: num('train-images'),
    testImages: num('test-images'),
    filterEvery: num('filter-every'),
    seed: 1,
  };
}

// Switching the optimizer moves the rate to its usual one (USUAL_LR, the CLI's defaults) unless
// it was edited. Adam at SGD's 0.05 left LeNet at 12.6% on this page's defaults (2,000 images,
// 1 epoch, batch 32; 81.0% at 0.003).
const DEFAULT_LR: Record<string, number> = USUAL_LR;
$<HTMLSelectElement>('optimizer').addEventListener('change', () => {
  const lr = $<HTMLInputElement>('lr');
  if (Object.values(DEFAULT_LR).includes(Number(lr.value))) {
    lr.value = String(DEFAULT_LR[$<HTMLSelectElement>('optimizer').value]);
  }
});

function fmtSeconds(s: number): string {
  return s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function showTestAccuracy(model: ModelName, acc: number | null, epoch?: number): void {
  const el = $('test-acc');
  el.dataset.value = acc === null ? '' : String(acc);
  el.dataset.model = model;
  el.textContent = acc === null ? '—' : `${(acc * 100).toFixed(1)}% (${SHORT[model]}${epoch ? `, epoch ${epoch}` : ''})`;
}

// ---- filters ------------------------------------------------------------------------

function drawFilters(title: string, count: number, h: number, w: number, data: Float32Array): void {
  $('filters-title').textContent = title;
  const zoom = Math.max(2, Math.round(48 / Math.max(h, w)));
  const out: HTMLCanvasElement[] = [];
  for (let f = 0; f < count; f++) {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    c.style.width = `${w * zoom}px`;
    c.style.height = `${h * zoom}px`;
    const ctx = c.getContext('2d')!;
    const img = ctx.createImageData(w, h);
    const vals = data.subarray(f * h * w, (f + 1) * h * w);
    const max = Math.max(...Array.from(vals, Math.abs), 1e-12);
    vals.forEach((v, i) => {
      // Diverging colours: white at 0, red positive, blue negative; each filter on its own scale.
      const t = v / max;
      const r = t < 0 ? 255 * (1 + t) : 255;
      const b = t > 0 ? 255 * (1 - t) : 255;
      const g = 255 * (1 - Math.abs(t));
      img.data.set([r, g, b, 255], i * 4);
    });
    ctx.putImageData(img, 0, 0);
    c.title = `filter ${f}`;
    out.push(c);
  }
  $('filters').replaceChildren(...out);
}

// ---- drawing and prediction ----------------------------------------------------------

let centred: Float32Array | null = null;
let shown: Float32Array | null = null;
let predictId = 0;
let inFlight = false;
let again = false;
let redraw = 0;
// Which image the prediction in flight is of: a prediction is settled (data-settled on
// #prediction, which tests wait for) when it is of the image shown, and none is pending.
let shownVersion = 0;
let inFlightVersion = 0;

const pad = new DrawPad($<HTMLCanvasElement>('draw'), () => {
  if (redraw) return;
  redraw = requestAnimationFrame(() => {
    redraw = 0;
    centred = pad.toMnist();
    updateShown();
  });
});

function updateShown(): void {
  const dx = num('shift');
  $('shift-value').textContent = dx > 0 ? `+${dx}` : String(dx);
  shown = centred ? shiftImage(centred, dx, 0) : null;
  shownVersion++;
  $('prediction').dataset.settled = 'false';
  showImage($<HTMLCanvasElement>('preview'), shown);
  if (!shown) {
    $('predictions').replaceChildren();
    showPrediction({});
    return;
  }
  predict();
}

function predict(): void {
  if (!shown || !worker) return;
  if (inFlight) {
    again = true;
    return;
  }
  if (trained.length === 0) {
    $('prediction').textContent = 'train a model (or load one) to see its prediction';
    return;
  }
  inFlight = true;
  inFlightVersion = shownVersion;
  const image = shown.slice();
  post({ type: 'predict', id: ++predictId, image }, [image.buffer]);
}

function showPrediction(probs: Partial<Record<ModelName, number[]>>): void {
  const rows: HTMLElement[] = [];
  const summary: string[] = [];
  for (const m of MODEL_NAMES) {
    const p = probs[m];
    if (!p) continue;
    const top = p.indexOf(Math.max(...p));
    summary.push(`${SHORT[m]}: ${top} (${(p[top]! * 100).toFixed(1)}%)`);
    const row = document.createElement('div');
    row.className = 'row';
    row.id = `pred-${m}`;
    row.dataset.top = String(top);
    const name = Object.assign(document.createElement('span'), { className: 'name', textContent: SHORT[m] });
    const bars = document.createElement('div');
    bars.className = 'bars';
    p.forEach((v, d) => {
      const bar = document.createElement('span');
      bar.className = d === top ? 'bar top' : 'bar';
      bar.title = `${d}: ${(v * 100).toFixed(1)}%`;
      const fill = document.createElement('i');
      fill.style.height = `${Math.max(1, v * 100)}%`;
      bar.append(fill, String(d));
      bars.append(bar);
    });
    row.append(name, bars);
    rows.push(row);
  }
  $('predictions').replaceChildren(...rows);
  const el = $('prediction');
  el.dataset.models = Object.keys(probs).join(',');
  const missing = MODEL_NAMES.filter((m) => !probs[m]);
  el.textContent = summary.length
    ? summary.join('   ') + (missing.length ? `   (train the ${missing.map((m) => SHORT[m]).join(' and ')} too, to compare them on shifted digits)` : '')
    : 'draw a digit with the mouse';
}

// ---- verify -------------------------------------------------------------------------

function showVerify(rows: VerifyRow[]): void {
  // "local rel": a row over the tolerance end to end, checked again against its layer's
  // reference on WebGPU's own inputs (a ReLU or max-pool choice that rounding flipped upstream).
  const local = rows.some((r) => r.localRel !== undefined);
  const head = document.createElement('tr');
  head.innerHTML = `<th>tensor</th><th>max |Δ|</th><th>rel</th><th>ok</th>${local ? '<th>local rel</th>' : ''}`;
  const trs = rows.map((r) => {
    const tr = document.createElement('tr');
    if (!r.ok) tr.className = 'bad';
    const cells = [r.what, r.maxAbs.toExponential(2), r.rel.toExponential(2), r.ok ? 'yes' : 'NO'];
    if (local) cells.push(r.localRel?.toExponential(2) ?? '');
    for (const t of cells) tr.append(Object.assign(document.createElement('td'), { textContent: t }));
    return tr;
  });
  $('verify-table').replaceChildren(head, ...trs);
}

function rechecked(rows: VerifyRow[]): string {
  const n = rows.filter((r) => r.localRel !== undefined).length;
  return n ? `, ${n} of them only layer by layer, on WebGPU's own inputs (see local rel)` : '';
}

// ---- worker messages ----------------------------------------------------------------

function onMessage(msg: FromWorker): void {
  switch (msg.type) {
    case 'ready': {
      $('adapter').textContent = msg.adapter;
      $('adapter').dataset.fallback = String(msg.fallback);
      $('cpu-hint').hidden = !msg.fallback;
      const ti = $<HTMLInputElement>('train-images');
      ti.max = String(msg.trainAvailable);
      $<HTMLInputElement>('test-images').max = String(msg.testAvailable);
      if (!msg.fallback) {
        ti.value = String(Math.min(10_000, msg.trainAvailable));
        $<HTMLInputElement>('test-images').value = String(msg.testAvailable);
        $<HTMLInputElement>('epochs').value = '2';
      }
      $('progress-text').textContent = `ready: ${msg.trainAvailable} training and ${msg.testAvailable} test images`;
      setState('ready');
      return;
    }
    case 'fatal':
      if (msg.noAdapter) {
        showNoWebGpu([`navigator.gpu exists, but no WebGPU device could be opened: ${msg.message}`]);
      } else {
        message($('train-status'), msg.message, 'error');
        setState('error');
      }
      return;
    case 'phase':
      $('progress-text').textContent = msg.text;
      return;
    case 'train-start':
      run = { model: msg.model, totalSteps: msg.totalSteps, epochs: msg.epochs, t0: performance.now() };
      charts.reset(msg.model);
      $<HTMLProgressElement>('progress').max = msg.totalSteps;
      $<HTMLProgressElement>('progress').value = 0;
      showTestAccuracy(msg.model, null);
      return;
    case 'step': {
      charts.step(msg.step, msg.loss, msg.accuracy);
      $<HTMLProgressElement>('progress').value = msg.step;
      const elapsed = (performance.now() - run.t0) / 1000;
      const eta = (elapsed / msg.step) * (msg.totalSteps - msg.step);
      $('progress-text').textContent =
        `${SHORT[msg.model]} · epoch ${msg.epoch + 1}/${run.epochs} · step ${msg.step}/${msg.totalSteps} · ` +
        `loss ${msg.loss.toFixed(3)} · batch acc ${(msg.accuracy * 100).toFixed(0)}% · ${msg.imagesPerSecond.toFixed(0)} img/s · ETA ${fmtSeconds(eta)}`;
      // Keep the drawing's probabilities following the weights as they train.
      predict();
      return;
    }
    case 'epoch':
      charts.epoch(msg.model, msg.epoch, msg.testAccuracy);
      showTestAccuracy(msg.model, msg.testAccuracy, msg.epoch);
      return;
    case 'filters':
      drawFilters(`${msg.title} (step ${msg.step})`, msg.count, msg.h, msg.w, msg.data);
      return;
    case 'train-end':
      $('progress-text').textContent =
        `${SHORT[msg.model]}: ${msg.stopped ? 'stopped' : 'finished'} after ${fmtSeconds(msg.seconds)}` +
        (msg.testAccuracy === null ? '' : `, test accuracy ${(msg.testAccuracy * 100).toFixed(1)}%`);
      setState(msg.stopped ? 'stopped' : 'done');
      predict();
      return;
    case 'paused':
      setState('paused');
      return;
    case 'resumed':
      setState('training');
      return;
    case 'models':
      trained = msg.models;
      $('models-status').textContent = trained.length
        ? 'in memory: ' + trained.map((m) => `${SHORT[m.model]} (${m.origin}, step ${m.step}${m.testAccuracy === null ? '' : `, test ${(m.testAccuracy * 100).toFixed(1)}%`})`).join('; ')
        : '';
      return;
    case 'prediction':
      inFlight = false;
      if (shown) showPrediction(msg.probs);
      $('prediction').dataset.settled = String(inFlightVersion === shownVersion && !again && !redraw);
      if (again) {
        again = false;
        predict();
      }
      return;
    case 'sample':
      pad.paint(msg.image);
      $('sample').title = `test image, label ${msg.label}`;
      return;
    case 'verify':
      showVerify(msg.rows);
      message(
        $('verify-status'),
        `${SHORT[msg.model]}: ${msg.ok ? 'PASS' : 'FAIL'} — every tensor within rel ${msg.tolerance}${msg.ok ? '' : ' (see the red rows)'}${rechecked(msg.rows)}; ` +
          `loss on WebGPU ${msg.lossGpu.toFixed(6)}, on the CPU ${msg.lossCpu.toFixed(6)}`,
        msg.ok ? 'ok' : 'error',
      );
      $('verify-status').dataset.result = msg.ok ? 'pass' : 'fail';
      setState(state === 'loading' ? 'ready' : state);
      return;
    case 'saved': {
      const a = $<HTMLAnchorElement>('download');
      if (a.href) URL.revokeObjectURL(a.href);
      a.href = URL.createObjectURL(new Blob([msg.bytes], { type: 'application/octet-stream' }));
      a.download = msg.fileName;
      a.textContent = `download ${msg.fileName} again`;
      a.hidden = false;
      a.click();
      message($('file-status'), `saved ${msg.fileName} (${msg.bytes.byteLength.toLocaleString()} bytes)`, 'ok');
      return;
    }
    case 'loaded':
      document.querySelector<HTMLInputElement>(`#model-${msg.model}`)!.checked = true;
      message($('file-status'), `loaded ${SHORT[msg.model]} from ${msg.fileName} (step ${msg.step})`, 'ok');
      $('file-status').dataset.result = 'loaded';
      predict();
      return;
    case 'error':
      onError(msg.op, msg.message);
      return;
  }
}

function onError(op: string, text: string): void {
  if (op === 'predict') {
    inFlight = false;
    console.warn('predict:', text);
    return;
  }
  if (op === 'load') {
    message($('file-status'), `could not load the file: ${text} The weights in memory are unchanged.`, 'error');
    $('file-status').dataset.result = 'error';
    return;
  }
  if (op === 'verify') {
    message($('verify-status'), `verify failed: ${text}`, 'error');
    setState(state);
    return;
  }
  if (op === 'save') {
    message($('file-status'), `could not save: ${text}`, 'error');
    return;
  }
  message($('train-status'), `${op}: ${text}`, 'error');
  if (op === 'train') setState('ready', 'ready (the last run failed)');
}

// ---- wiring -------------------------------------------------------------------------

const charts = new Charts($('chart-steps'), $('chart-epochs'));
$('params-lenet').textContent = `${paramCount(lenet()).toLocaleString()} parameters`;
$('params-mlp').textContent = `${paramCount(mlp()).toLocaleString()} parameters`;
// The same question at ImageNet scale: where each model's weights and arithmetic sit.
{
  const pc = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)}%`;
  const head = ['model', 'parameters', 'of them in convolutions', 'FLOPs per image', 'of them in convolutions', 'first layer: inputs each output reads', 'uses of each weight'];
  const rows = ([['LeNet-5', lenet()], ['MLP', mlp()], ['AlexNet', alexnet()], ['GoogLeNet', googlenet()]] as const).map(([name, g]) => {
    const s = weightSplit(g);
    const f = g.firstWeightLayer()!;
    return [name, s.params.toLocaleString(), pc(s.conv.params, s.params), s.flops.toLocaleString(), pc(s.conv.flops, s.flops), `${f.fanIn.toLocaleString()} of ${f.inputs.toLocaleString()}`, f.uses.toLocaleString()];
  });
  const tr = (cells: string[], tag: 'th' | 'td'): HTMLTableRowElement => {
    const row = document.createElement('tr');
    row.append(...cells.map((c) => Object.assign(document.createElement(tag), { textContent: c })));
    return row;
  };
  $('classics').replaceChildren(tr(head, 'th'), ...rows.map((r) => tr(r, 'td')));
}

// Local connectivity and shared weights in numbers: how each model's first layer connects.
for (const [id, g] of [['use-lenet', lenet()], ['use-mlp', mlp()]] as const) {
  const f = g.firstWeightLayer()!;
  const times = f.uses === 1 ? 'once' : `at ${f.uses.toLocaleString()} positions`;
  $(id).textContent = `first layer: each output reads ${f.fanIn.toLocaleString()} of the ${f.inputs.toLocaleString()} pixels; each of its ${f.weights.toLocaleString()} weights is used ${times}`;
}

$('train').addEventListener('click', () => {
  message($('train-status'), '');
  $<HTMLProgressElement>('progress').value = 0;
  $<HTMLProgressElement>('progress').max = 1;
  setState('training');
  post({ type: 'train', config: config() });
});
$('pause').addEventListener('click', () => post({ type: state === 'paused' ? 'resume' : 'pause' }));
$('stop').addEventListener('click', () => post({ type: 'stop' }));
$('clear').addEventListener('click', () => pad.clear());
$('sample').addEventListener('click', () => post({ type: 'sample', index: Math.floor(Math.random() * 10_000) }));
$('shift').addEventListener('input', updateShown);
$('verify').addEventListener('click', () => {
  message($('verify-status'), `verifying ${SHORT[selected()]}…`);
  delete $('verify-status').dataset.result;
  $('verify-table').replaceChildren();
  $<HTMLButtonElement>('verify').disabled = true;
  post({ type: 'verify', model: selected(), batch: 8 });
});
$('save').addEventListener('click', () => post({ type: 'save', model: selected() }));
$<HTMLInputElement>('load-file').addEventListener('change', async (ev) => {
  const input = ev.target as HTMLInputElement;
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  message($('file-status'), `reading ${file.name}…`);
  delete $('file-status').dataset.result;
  const bytes = await file.arrayBuffer();
  post({ type: 'load', fileName: file.name, bytes }, [bytes]);
});

const missing = missingWebGpu();
if (missing.length) {
  showNoWebGpu(missing);
} else {
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  worker.onerror = (ev) => {
    message($('train-status'), `the worker failed: ${ev.message || 'it could not be loaded'}`, 'error');
    setState('error');
  };
  post({ type: 'init', dataUrl: new URL('mnist/', document.baseURI).href });
  setState('loading', 'starting WebGPU…');
}
