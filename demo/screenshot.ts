// `npm run demo:screenshot`: remakes demo/screenshot.png, the README's picture of the demo.
// Drives the page in headless Chromium (WebGPU on SwiftShader) as a user would: trains the
// MLP, then LeNet, on 10,000 images for 2 epochs each, draws a 7 and shifts it by +4 px (the
// e2e test's shift), and prints both models' predictions at each shift from −4 to +4.
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Page } from 'puppeteer-core';
import { createServer } from 'vite';
import { SWIFTSHADER_FLAGS, chromiumPath } from '../scripts/chromium.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = process.argv[2] ?? join(HERE, 'screenshot.png');

const server = await createServer({ configFile: join(HERE, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false, watch: null } });
await server.listen();
const browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: false, args: ['--headless=new', ...SWIFTSHADER_FLAGS], defaultViewport: { width: 1280, height: 900 } });
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${String(e)}`));
  await page.goto(`http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}/`, { waitUntil: 'load' });
  await until(page, 'WebGPU and MNIST', async () => (await state(page)) === 'ready', 60_000);
  console.log(`adapter: ${await page.$eval('#adapter', (e) => e.textContent)}`);

  for (const model of ['mlp', 'lenet']) {
    await page.click(`#model-${model}`);
    for (const [id, v] of [['optimizer', 'sgd'], ['lr', '0.05'], ['batch', '32'], ['epochs', '2'], ['train-images', '10000'], ['test-images', '1000'], ['filter-every', '20']]) await set(page, id!, v!);
    await page.click('#train');
    await until(page, 'training to start', async () => ['training', 'done'].includes(await state(page)), 10_000);
    await until(page, `${model} to finish`, async () => ['done', 'stopped', 'error'].includes(await state(page)), 600_000);
    if ((await state(page)) !== 'done') throw new Error(`${model}: ${await page.$eval('#train-status', (e) => e.textContent)}`);
    console.log(await page.$eval('#progress-text', (e) => e.textContent));
  }

  // A "7": a bar across the top, then a diagonal down (drawing-canvas pixels, 280×280).
  await page.click('#clear');
  const box = (await (await page.$('#draw'))!.boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
  const stroke: Array<[number, number]> = [[80, 70], [200, 70], [130, 220]];
  await page.mouse.move(...at(stroke[0]!));
  await page.mouse.down();
  for (const p of stroke.slice(1)) await page.mouse.move(...at(p), { steps: 6 });
  await page.mouse.up();
  for (const shift of [-4, -3, -2, -1, 0, 1, 2, 3, 4]) {
    await set(page, 'shift', String(shift));
    // data-settled: the prediction shown is of the image shown (the page's own marker).
    await until(page, 'a prediction', async () => (await page.$eval('#prediction', (e) => (e as HTMLElement).dataset.settled)) === 'true', 10_000);
    console.log(`shift ${shift > 0 ? '+' : ''}${shift} px: ${await page.$eval('#prediction', (e) => e.textContent)}`);
  }
  await page.screenshot({ path: OUT, fullPage: true });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await server.close();
}

function state(page: Page): Promise<string> {
  return page.$eval('#status', (e) => (e as HTMLElement).dataset.state ?? '');
}

async function set(page: Page, id: string, value: string): Promise<void> {
  await page.$eval(`#${id}`, (e, v) => {
    (e as HTMLInputElement).value = v;
    e.dispatchEvent(new Event(e instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  }, value);
}

async function until(page: Page, what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await page.$eval('#train-status', (e) => e.textContent)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
