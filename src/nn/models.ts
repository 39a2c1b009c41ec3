// A small model zoo for 1×28×28 inputs (MNIST) and 10 classes. Each function returns a
// fresh Graph, so two models never share layers.
import { Graph, Sequential } from './graph.js';
import { Add, Concat, Conv2d, Flatten, Linear, MaxPool2d, ReLU } from './layers.js';

const INPUT = [1, 28, 28];
const CLASSES = 10;

/**
 * LeNet-5 with ReLU and max pooling: two 5×5 convolutions of c1 and c2 channels, then
 * 120-84-10 dense layers. lenet() has 61,706 parameters; lenet(32, 64) has 255,230.
 */
export function lenet(c1 = 6, c2 = 16): Graph {
  return new Sequential(INPUT, [
    new Conv2d(1, c1, 5, { padding: 2 }),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(c1, c2, 5),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(c2 * 5 * 5, 120),
    new ReLU(),
    new Linear(120, 84),
    new ReLU(),
    new Linear(84, CLASSES),
  ]);
}

/**
 * A one-hidden-layer perceptron. With 128 hidden units it has 101,770 parameters, 1.65×
 * lenet()'s 61,706, so that a comparison cannot favour LeNet by its size.
 */
export function mlp(hidden = 128): Graph {
  return new Sequential(INPUT, [new Flatten(), new Linear(28 * 28, hidden), new ReLU(), new Linear(hidden, CLASSES)]);
}

/**
 * A deeper CNN with both kinds of join:
 *   conv 3×3 (w) → residual block (conv 3×3, ReLU, conv 3×3, + skip, ReLU) → maxpool 2
 *   → inception block (1×1 w, 3×3 w, 5×5 w/2 branches, each + ReLU, concat) → maxpool 2
 *   → flatten → linear.
 * width 8 keeps a training step on a CPU emulator near 7 MFLOP per image.
 */
export function deepcnn(width = 8): Graph {
  const g = new Graph(INPUT);
  const stem = g.add(new ReLU(), g.add(new Conv2d(1, width, 3, { padding: 1 })));

  const r = g.add(new Conv2d(width, width, 3, { padding: 1 }), stem);
  const r2 = g.add(new Conv2d(width, width, 3, { padding: 1 }), g.add(new ReLU(), r));
  const res = g.add(new ReLU(), g.add(new Add(), r2, stem));
  const p1 = g.add(new MaxPool2d(2), res);

  const half = Math.max(1, width >> 1);
  const b1 = g.add(new ReLU(), g.add(new Conv2d(width, width, 1), p1));
  const b3 = g.add(new ReLU(), g.add(new Conv2d(width, width, 3, { padding: 1 }), p1));
  const b5 = g.add(new ReLU(), g.add(new Conv2d(width, half, 5, { padding: 2 }), p1));
  const cat = g.add(new Concat(), b1, b3, b5);
  g.add(new MaxPool2d(2), cat);

  const channels = 2 * width + half;
  g.add(new Flatten());
  g.add(new Linear(channels * 7 * 7, CLASSES));
  return g;
}

/** Models by the name the CLI takes (--model). */
export const MODELS: Record<string, () => Graph> = {
  lenet: () => lenet(),
  lenet32: () => lenet(32, 64),
  mlp: () => mlp(),
  deepcnn: () => deepcnn(),
};
