// Use convgpu in your web app: build a small CNN, train it a few steps, predict.
// (In your project, import from 'convgpu' instead of '../src/index.js'.)
import { Conv2d, Engine, Flatten, Linear, MaxPool2d, Model, ReLU, Sequential } from '../src/index.js';

export async function embedExample(log: (line: string) => void = console.log): Promise<number> {
  const engine = await Engine.create(); // navigator.gpu; throws a DeviceError saying what is missing
  log(`adapter: ${engine.describe()}`);

  const net = new Sequential([1, 28, 28], [
    new Conv2d(1, 8, 5, { padding: 2 }), new ReLU(), new MaxPool2d(2), // 8 filters of 5×5 → [8, 14, 14]
    new Flatten(), new Linear(8 * 14 * 14, 10),
  ]);
  const model = new Model(engine, net, { seed: 1, optimizer: { type: 'adam', lr: 1e-3 } });

  // Your data: NCHW pixels in [0, 1], and class indices as floats.
  const batch = 16;
  const x = Float32Array.from({ length: batch * 28 * 28 }, () => Math.random());
  const y = Float32Array.from({ length: batch }, (_, i) => i % 10);

  const trainer = await model.trainer(batch); // compiles the whole step once
  for (let step = 1; step <= 10; step++) {
    const r = await trainer.step(x, y, true); // true: read back loss and accuracy
    log(`step ${step}: loss ${r!.loss.toFixed(4)}`);
  }

  const predictor = await model.predictor(1);
  const logits = await predictor.run(x.subarray(0, 28 * 28));
  const predicted = logits.indexOf(Math.max(...logits));
  log(`predicted class: ${predicted} (label ${y[0]})`);
  model.dispose();
  engine.destroy();
  return predicted;
}
