// A small model zoo for 1×28×28 inputs (MNIST) and 10 classes. Each function returns a
// fresh Graph, so two models never share layers.
import { Graph, Sequential, type NodeRef } from './graph.js';
import { Add, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear, MaxPool2d, ReLU } from './layers.js';

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

/** Input and classes of the two classic ImageNet networks below. */
export interface ClassicOptions {
  /** [C, H, W]; default [3, 224, 224]. */
  input?: [number, number, number];
  /** Default 1000. */
  classes?: number;
}

/**
 * AlexNet (Krizhevsky et al., 2012) in torchvision's single-stream form: five convolutions
 * (11×11 stride 4, 5×5, three 3×3) with overlapping 3×3 stride-2 max pooling, then two
 * 4096-wide dense layers with dropout. 61,100,840 parameters at 3×224×224 and 1000 classes, as
 * torchvision's; no local response normalization (torchvision has none either).
 */
export function alexnet({ input = [3, 224, 224], classes = 1000 }: ClassicOptions = {}): Graph {
  const g = new Sequential(input, [
    new Conv2d(input[0], 64, 11, { stride: 4, padding: 2 }), new ReLU(), new MaxPool2d(3, { stride: 2 }),
    new Conv2d(64, 192, 5, { padding: 2 }), new ReLU(), new MaxPool2d(3, { stride: 2 }),
    new Conv2d(192, 384, 3, { padding: 1 }), new ReLU(),
    new Conv2d(384, 256, 3, { padding: 1 }), new ReLU(),
    new Conv2d(256, 256, 3, { padding: 1 }), new ReLU(), new MaxPool2d(3, { stride: 2 }),
    new Flatten(),
  ]);
  const features = g.shapes(1).at(-1)![1]!; // 256·6·6 at 224×224
  for (const l of [new Dropout(0.5), new Linear(features, 4096), new ReLU(), new Dropout(0.5), new Linear(4096, 4096), new ReLU(), new Linear(4096, classes)]) g.add(l);
  return g;
}

/**
 * GoogLeNet (Szegedy et al., 2014; Table 1 of the paper): a 7×7 stride-2 stem, then nine
 * inception blocks, each four branches joined along channels (1×1; 1×1 then 3×3; 1×1 then
 * 5×5; 3×3 max pool then 1×1), global average pooling, dropout 0.4 and one dense layer. Every
 * convolution has a bias and a ReLU; the side classifiers and local response normalization are
 * left out. Max pools pad by 1 for the paper's sizes (112 → 56 → 28 → 14 → 7).
 */
export function googlenet({ input = [3, 224, 224], classes = 1000 }: ClassicOptions = {}): Graph {
  const g = new Graph(input);
  const conv = (x: NodeRef, cin: number, cout: number, k: number, stride = 1): NodeRef =>
    g.add(new ReLU(), g.add(new Conv2d(cin, cout, k, { stride, padding: (k - 1) >> 1 }), x));
  const pool = (x: NodeRef, stride: number): NodeRef => g.add(new MaxPool2d(3, { stride, padding: 1 }), x);
  // Table 1's columns: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
  const inception = (x: NodeRef, cin: number, [c1, r3, c3, r5, c5, pp]: number[]): [NodeRef, number] => [
    g.add(new Concat(), conv(x, cin, c1, 1), conv(conv(x, cin, r3, 1), r3, c3, 3), conv(conv(x, cin, r5, 1), r5, c5, 5), conv(pool(x, 1), cin, pp, 1)),
    c1 + c3 + c5 + pp,
  ];
  let x = pool(conv(g.input, input[0], 64, 7, 2), 2);
  x = pool(conv(conv(x, 64, 64, 1), 64, 192, 3), 2);
  let c = 192;
  const blocks: Array<number[] | 'pool'> = [
    [64, 96, 128, 16, 32, 32], [128, 128, 192, 32, 96, 64], 'pool',
    [192, 96, 208, 16, 48, 64], [160, 112, 224, 24, 64, 64], [128, 128, 256, 24, 64, 64], [112, 144, 288, 32, 64, 64], [256, 160, 320, 32, 128, 128], 'pool',
    [256, 160, 320, 32, 128, 128], [384, 192, 384, 48, 128, 128],
  ];
  for (const b of blocks) if (b === 'pool') x = pool(x, 2); else [x, c] = inception(x, c, b);
  g.add(new Linear(c, classes), g.add(new Dropout(0.4), g.add(new GlobalAvgPool(), x)));
  return g;
}

/** Models by the name the CLI takes (--model). */
export const MODELS: Record<string, () => Graph> = {
  lenet: () => lenet(),
  lenet32: () => lenet(32, 64),
  mlp: () => mlp(),
  deepcnn: () => deepcnn(),
};

/** The classic ImageNet networks by name, at 3×224×224 and 1000 classes: the CLI prints their tables (--summary), not trains them on MNIST. */
export const CLASSICS: Record<string, () => Graph> = {
  alexnet: () => alexnet(),
  googlenet: () => googlenet(),
};
