// `npm run train` as a user runs it: a child process, its exit code, its last JSON line, and
// the checkpoint it leaves; then --resume from it, and flags that must be refused.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/nn/checkpoint.js';
import { CpuModel } from '../src/nn/cpu-model.js';
import { lenet } from '../src/nn/models.js';
import { runScript, type ScriptRun } from './helpers/run-script.js';

const train = (args: string[]): Promise<ScriptRun> => runScript('src/cli/train.ts', args);

const RAISED = '[test: SIGINT raised]';

/**
 * `npm run train` with a Ctrl-C (SIGINT) the moment it prints `cue` (`presses` 2: pressed twice).
 * The child raises it itself, in the write of `cue` (a module loaded with --import wraps
 * process.stdout.write). Sent from here on reading the line, the signal would land wherever the
 * CLI had got to by then, which depends on the machine's speed and load; raised in the write, it
 * is handled at the CLI's next event-loop turn, which its code fixes (trainEpochs and evaluate
 * let the loop turn before each step or batch), so each test knows where it lands.
 * `signalled`: the cue was printed and the signal raised.
 */
function trainInterrupted(args: string[], cue: string, presses = 1): Promise<ScriptRun & { signalled: boolean }> {
  const hook = `
    const write = process.stdout.write;
    let seen = '';
    process.stdout.write = function (chunk, ...rest) {
      const ok = write.call(this, chunk, ...rest);
      if (seen !== null) {
        seen += String(chunk);
        if (seen.includes(${JSON.stringify(cue)})) {
          seen = null;
          process.stderr.write(${JSON.stringify(RAISED + '\n')});
          for (let i = 0; i < ${presses}; i++) process.kill(process.pid, 'SIGINT');
        }
      }
      return ok;
    };`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', './scripts/register.mjs', '--import', `data:text/javascript,${encodeURIComponent(hook)}`, 'src/cli/train.ts', ...args], {
      cwd: process.cwd(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, signalled: stderr.includes(RAISED) }));
  });
}

const summary = (r: ScriptRun): Record<string, unknown> => JSON.parse(r.stdout.trim().split('\n').at(-1)!);

/** A --compare run stopped by Ctrl-C while the MLP (its first model, 8 steps) ran: exit 130, where it stopped, no LeNet, no table, and the JSON line says so. */
function expectCompareStoppedInMlp(r: ScriptRun & { signalled: boolean }, where: string): void {
  expect(r.signalled).toBe(true);
  expect(r.code, r.stderr).toBe(130);
  expect(r.stdout).toContain(where);
  expect(r.stdout).not.toContain('model: lenet');
  expect(r.stdout).not.toContain('test acc'); // no table of a run that did not happen
  const s = summary(r);
  expect(s.stopped).toBe(true);
  expect((s.compare as { model: string; steps: number; stopped: boolean }[]).map((c) => [c.model, c.steps, c.stopped])).toEqual([['mlp', 8, true]]);
}

describe('npm run train (the CLI, as a child process)', () => {
  let dir: string;
  let ck: string;
  const small = ['--limit', '512', '--test-limit', '128', '--batch', '64'];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'convgpu-cli-'));
    ck = join(dir, 'lenet.safetensors');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('trains LeNet for an epoch, prints a JSON summary, and saves a checkpoint', async () => {
    const r = await train([...small, '--epochs', '1', '--checkpoint', ck, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r);
    expect(s).toMatchObject({ backend: 'webgpu', model: 'lenet', params: 61706, optimizer: 'sgd', lr: 0.05, steps: 8, trainImages: 512, testImages: 128, checkpoint: ck, stopped: false, resumedFromStep: null });
    expect(typeof s.adapter).toBe('string');
    // A machine fallen back to SwiftShader by itself is told of lavapipe; one whose Vulkan driver was chosen, or another adapter, is not.
    const env = process.env;
    const fellBack = !(env.CONVGPU_VK_ICD ?? env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES) && /swiftshader/i.test(String(s.adapter));
    expect(r.stdout.includes('`sudo scripts/setup-lavapipe.sh`'), `adapter ${s.adapter}`).toBe(fellBack);
    expect(s.trainLoss as number).toBeLessThan(Math.log(10)); // below chance after 8 steps
    expect(s.testAccuracy as number).toBeGreaterThan(0.2); // chance is 0.1
    expect(existsSync(ck)).toBe(true);
    // model.summary(): how each layer with weights connects (Layer.weightUse).
    expect(r.stdout).toMatch(/layer +output +params +FLOPs\/image +inputs\/output +uses\/weight\n/);
    expect(r.stdout).toMatch(/conv2d_0 \(Conv2d\) +\[6, 28, 28\] +156 +235,200 +25 +784\n/);
    expect(r.stdout).toMatch(/linear_0 \(Linear\) +\[120\] +48,120 +96,000 +400 +1\n/);
    expect(r.stdout).toMatch(/relu_0 \(ReLU\) +\[6, 28, 28\] +0 +4,704\n/); // no weights: blank, no trailing spaces
  });

  it('--resume continues from that checkpoint', async () => {
    const r = await train([...small, '--epochs', '2', '--checkpoint', ck, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`resuming ${ck}`);
    const s = summary(r);
    expect(s.resumedFromStep).toBe(8);
    expect(s.steps).toBe(16); // the whole run: 8 before the checkpoint, 8 after
  });

  it('--resume with fewer --epochs than the checkpoint has says how many it has, and reports them', async () => {
    const r = await train([...small, '--epochs', '1', '--checkpoint', ck, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the checkpoint has already trained 2 epoch(s) (step 16); the run asks for 1, so nothing is left to train: evaluating only.');
    expect(r.stdout).not.toContain('cosine schedule now ends'); // nothing is trained, so the schedule is left as saved
    expect(summary(r)).toMatchObject({ epochs: 2, steps: 16, resumedFromStep: 16, stopped: false });
  });

  it('--optimizer adam trains with Adam, records it in the checkpoint, and --resume refuses another optimizer', async () => {
    const adamCk = join(dir, 'adam.safetensors');
    const r = await train([...small, '--epochs', '1', '--optimizer', 'adam', '--checkpoint', adamCk, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('adam lr 0.003, cosine');
    expect(summary(r)).toMatchObject({ optimizer: 'adam', lr: 0.003, steps: 8 });
    expect(summary(r).testAccuracy as number).toBeGreaterThan(0.2);
    const sgd = await train([...small, '--epochs', '2', '--optimizer', 'sgd', '--checkpoint', adamCk, '--resume']);
    expect(sgd.code).toBe(2);
    expect(sgd.stderr).toContain("--optimizer sgd differs from the checkpoint's adam");
    const resumed = await train([...small, '--epochs', '2', '--checkpoint', adamCk, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summary(resumed)).toMatchObject({ optimizer: 'adam', steps: 16, resumedFromStep: 8 });
    const bad = await train(['--optimizer', 'rmsprop']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--optimizer must be sgd or adam, got "rmsprop"');
  });

  it('refuses a flag that contradicts the checkpoint, an unknown model, and a missing checkpoint, with exit code 2', async () => {
    const batch = await train(['--limit', '512', '--batch', '32', '--epochs', '2', '--checkpoint', ck, '--resume']);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain("--batch 32 differs from the checkpoint's 64");
    const model = await train(['--model', 'resnet50']);
    expect(model.code).toBe(2);
    expect(model.stderr).toContain('--model must be one of lenet');
    const few = await train(['--limit', '10', '--checkpoint', join(dir, 'few.safetensors')]);
    expect(few.code).toBe(2);
    expect(few.stderr).toContain('--batch 64 is more than the 10 training images (--limit 10); use a smaller --batch.');
    const missing = join(dir, 'missing.safetensors');
    const none = await train(['--resume', '--checkpoint', missing]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`--resume: there is no checkpoint at ${missing}; train once without --resume to make one.`);
  });

  it('refuses --compare with --model or --checkpoint, which it would ignore', async () => {
    const quick = ['--compare', '--limit', '512', '--test-limit', '128', '--epochs', '1'];
    const [model, path] = await Promise.all([train([...quick, '--model', 'lenet']), train([...quick, '--checkpoint', join(dir, 'cmp.safetensors')])]);
    expect(model.code).toBe(2);
    expect(model.stderr).toContain('--compare always trains mlp and lenet; it cannot be combined with --model.');
    expect(path.code).toBe(2);
    expect(path.stderr).toContain('--compare saves no checkpoint; it cannot be combined with --checkpoint.');
  });

  it('--compare trains both models and shows, after the table, how each first layer connects', async () => {
    const r = await train(['--compare', '--limit', '256', '--test-limit', '64', '--epochs', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model +params +test acc +shift →3px +shift ↓3px +train img\/s\n/);
    expect(r.stdout).toContain(
      [
        'first layer with weights, per image:',
        '  mlp    linear_0 (Linear): each output reads 784 of its 784 inputs; each of its 100,352 weights is used once',
        '  lenet  conv2d_0 (Conv2d): each output reads 25 of its 784 inputs; each of its 150 weights is used 784 times',
      ].join('\n'),
    );
    const rows = summary(r).compare as Array<{ model: string; firstLayer: unknown; shiftedRight: number }>;
    expect(rows.map((x) => [x.model, x.firstLayer])).toEqual([
      ['mlp', { layer: 'linear_0 (Linear)', fanIn: 784, inputs: 784, weights: 100_352, uses: 1 }],
      ['lenet', { layer: 'conv2d_0 (Conv2d)', fanIn: 25, inputs: 784, weights: 150, uses: 784 }],
    ]);
    for (const x of rows) expect(x.shiftedRight).toBeGreaterThanOrEqual(0);
  });

  it('--summary prints a model\'s layers and where its weights and FLOPs sit, with no GPU: AlexNet and GoogLeNet too', async () => {
    const noGpu = { CONVGPU_VK_ICD: '/nonexistent/icd.json' }; // would fail Engine.create
    const [alex, goog, le] = await Promise.all([
      runScript('src/cli/train.ts', ['--summary', '--model', 'alexnet'], noGpu),
      runScript('src/cli/train.ts', ['--summary', '--model', 'googlenet', '--json'], noGpu),
      runScript('src/cli/train.ts', ['--summary'], noGpu),
    ]);
    for (const r of [alex, goog, le]) expect(r.code, r.stderr).toBe(0);
    // torchvision's AlexNet: 11×11×3 windows applied at 55×55 positions; 96% of the weights dense.
    expect(alex.stdout).toMatch(/conv2d_0 \(Conv2d\) +\[64, 55, 55\] +23,296 +140,553,600 +363 +3,025\n/);
    expect(alex.stdout).toMatch(/linear_0 \(Linear\) +\[4096\] +37,752,832 +75,497,472 +9,216 +1\n/);
    expect(alex.stdout).toContain('parameters: 61,100,840; forward FLOPs per image: 1,429,665,024');
    expect(alex.stdout).toContain('convolutions: 2,469,696 parameters (4.0%), 91.7% of the FLOPs; dense layers: 58,631,144 (96.0%), 8.2% of the FLOPs');
    expect(goog.stdout).toContain('parameters: 6,998,552;');
    expect(goog.stdout).toContain('dense layers: 1,025,000 (14.6%)');
    expect(summary(goog)).toEqual({
      model: 'googlenet',
      params: 6_998_552,
      flops: 3_181_327_152,
      conv: { params: 5_973_552, flops: expect.any(Number) },
      dense: { params: 1_025_000, flops: 2_048_000 },
      firstLayer: { layer: 'conv2d_0 (Conv2d)', fanIn: 147, inputs: 150_528, weights: 9408, uses: 12_544 },
    });
    expect(le.stdout).toMatch(/^model: lenet$/m);
    expect(le.stdout).toContain('convolutions: 2,572 parameters (4.2%), 84.6% of the FLOPs; dense layers: 59,134 (95.8%), 13.9% of the FLOPs');
    expect(le.stdout).not.toContain('adapter:');
  });

  it('refuses to train the ImageNet models on MNIST, --summary with --compare, and names that are no model', async () => {
    const [alex, both, proto, proto2] = await Promise.all([
      train(['--model', 'alexnet']),
      train(['--summary', '--compare']),
      train(['--model', 'constructor']), // a plain object's own keys only: once "takes 3×224×224 ImageNet images"
      train(['--summary', '--model', 'toString']), // once a TypeError from the summary
    ]);
    for (const r of [proto, proto2]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--model must be one of lenet, lenet32, mlp, deepcnn \(or, with --summary, alexnet, googlenet\); got "(constructor|toString)"\./);
    }
    expect(alex.code).toBe(2);
    expect(alex.stderr).toContain('--model alexnet takes 3×224×224 ImageNet images, not 28×28 MNIST digits; print its layers with --summary --model alexnet.');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--summary prints one model\'s layers and trains nothing; it cannot be combined with --compare.');
  });

  it('refuses blank and non-decimal numbers, and seeds of 2^32 or more', async () => {
    const quick = [...small, '--epochs', '1', '--checkpoint', join(dir, 'numbers.safetensors')];
    const runs = await Promise.all([train([...quick, '--seed=']), train([...quick, '--seed', '4294967296']), train([...quick, '--test-limit', '1e2'])]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(runs[0]!.stderr).toContain('--seed must be an integer from 0 to 4294967295, got "".');
    expect(runs[1]!.stderr).toContain('--seed must be an integer from 0 to 4294967295, got "4294967296".');
    expect(runs[2]!.stderr).toContain('--test-limit must be an integer ≥ 1, got "1e2".');
    expect(existsSync(join(dir, 'numbers.safetensors'))).toBe(false);
  });

  it('finds a checkpoint path it cannot write before training, and says why', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file, not a folder');
    const under = join(blocker, 'lenet.safetensors');
    const r = await train([...small, '--epochs', '1', '--checkpoint', under]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`CheckpointError: ${under}: cannot save a checkpoint there: cannot create its folder ${blocker} (part of that path is a file, not a folder). Choose a path in a folder you can write to.`);
    expect(r.stdout).not.toContain('model: lenet');
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    const f = await train([...small, '--epochs', '1', '--checkpoint', folder]);
    expect(f.code).toBe(1);
    expect(f.stderr).toContain(`CheckpointError: ${folder}: cannot save a checkpoint there: it is a folder. Give a file path, such as ${join(folder, 'model.safetensors')}.`);
    expect(f.stdout).not.toContain('model: lenet');
  });

  it('--resume refuses a checkpoint that does not record the run (as the demo saves them), and prints the schedule it restores', async () => {
    // What demo/worker.ts save() writes: no batch, epochs, limit or augment.
    const demo = join(dir, 'demo.safetensors');
    const m = new CpuModel(lenet(), { seed: 1 });
    m.step = 2 * 937; // 2 epochs of 60,000 at batch 64: were it resumed with guessed defaults, it would only evaluate
    await saveCheckpoint(m, demo, { epoch: 2, modelName: 'lenet', seed: 1, testAccuracy: 0.9 });
    const r = await train(['--checkpoint', demo, '--resume', '--test-limit', '128']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toContain(`--resume: ${demo} has no valid record of its run's batch, epochs, augment, limit: it was not saved by npm run train`);
    expect(r.stdout).not.toContain('model: lenet');

    // A complete record with another schedule than the CLI's cosine: the line says which.
    const stepped = join(dir, 'stepped.safetensors');
    const s = new CpuModel(lenet(), { seed: 1, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'step', every: 100, gamma: 0.5 } });
    s.step = 4;
    await saveCheckpoint(s, stepped, { epoch: 2, modelName: 'lenet', seed: 1, batch: 64, epochs: 2, augment: false, limit: 128 });
    const ok = await train(['--checkpoint', stepped, '--resume', '--test-limit', '128']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('sgd lr 0.05 momentum 0.9, lr × 0.5 every 100 steps; seed 1');
  });

  it('Ctrl-C during training stops after the step, saves it and says so, and --resume continues from there', async () => {
    const path = join(dir, 'interrupted.safetensors');
    // After epoch 1's 8 steps: the signal is seen before step 9.
    const r = await trainInterrupted([...small, '--epochs', '2', '--json', '--checkpoint', path], 'epoch 1/2:');
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toContain(`interrupted at step 8 (epoch 2); saved ${path}. Continue with --resume.`);
    expect(r.stdout).not.toContain('epoch 2/2');
    expect(r.stdout).not.toContain('evaluated');
    expect(summary(r)).toMatchObject({ model: 'lenet', steps: 8, checkpoint: path, stopped: true, testAccuracy: null });
    expect((await loadCheckpoint(path)).meta.step).toBe(8);
    const resumed = await train([...small, '--epochs', '2', '--json', '--checkpoint', path, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summary(resumed)).toMatchObject({ resumedFromStep: 8, steps: 16, stopped: false });
  });

  it('Ctrl-C before the first step saves nothing: no file for a new run, and a resumed one keeps its checkpoint', async () => {
    const path = join(dir, 'early.safetensors');
    // Printed before the model compiles: the signal is seen before step 1.
    const r = await trainInterrupted([...small, '--epochs', '1', '--json', '--checkpoint', path], 'model: lenet');
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toContain("interrupted at step 0, before this run's first step; nothing saved.");
    expect(summary(r)).toMatchObject({ steps: 0, checkpoint: null, stopped: true });
    expect(existsSync(path)).toBe(false);

    const m = new CpuModel(lenet(), { seed: 1, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'cosine', totalSteps: 16 } });
    m.step = 8;
    await saveCheckpoint(m, path, { epoch: 1, modelName: 'lenet', seed: 1, batch: 64, epochs: 2, augment: false, limit: 512 });
    const again = await trainInterrupted([...small, '--epochs', '2', '--json', '--checkpoint', path, '--resume'], 'model: lenet');
    expect(again.code, again.stderr).toBe(130);
    expect(again.stdout).toContain(`interrupted at step 8, before this run's first step; ${path} is unchanged.`);
    expect(summary(again)).toMatchObject({ steps: 8, checkpoint: path, stopped: true });
    expect((await loadCheckpoint(path)).meta.step).toBe(8);
  });

  it('Ctrl-C during evaluation stops it: exit 130, no test accuracy, and the JSON line says stopped', async () => {
    const path = join(dir, 'eval.safetensors');
    // The last epoch's line: evaluation comes next.
    const r = await trainInterrupted([...small, '--epochs', '1', '--json', '--checkpoint', path], 'epoch 1/1:');
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toContain(`interrupted while evaluating lenet, after 0 of 128 images; ${path} has the trained model (step 8).`);
    expect(r.stdout).not.toContain('test accuracy');
    expect(summary(r)).toMatchObject({ steps: 8, checkpoint: path, stopped: true, testAccuracy: null });
    expect((await loadCheckpoint(path)).meta.step).toBe(8);
  });

  it('a second Ctrl-C quits at once, with exit 130 and no summary', async () => {
    const path = join(dir, 'twice.safetensors');
    const r = await trainInterrupted([...small, '--epochs', '1', '--json', '--checkpoint', path], 'epoch 1/1:', 2);
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).not.toContain('interrupted');
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^epoch 1\/1:/); // no JSON line
  });

  it('Ctrl-C during --compare training stops the whole run: exit 130, no LeNet, and the JSON line says stopped', async () => {
    const r = await trainInterrupted(['--compare', ...small, '--epochs', '2', '--json'], 'epoch 1/2:');
    expectCompareStoppedInMlp(r, 'interrupted at step 8.');
  });

  it('Ctrl-C during --compare evaluation stops the whole run too', async () => {
    // MLP's first evaluation is done; the shifted digits come next.
    const r = await trainInterrupted(['--compare', ...small, '--epochs', '1', '--json'], 'evaluated 128 test images');
    expectCompareStoppedInMlp(r, 'interrupted while evaluating mlp on shifted digits, after 0 of 128 images.');
  });
});
