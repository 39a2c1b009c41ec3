// Messages between the demo page (main.ts) and its training worker (worker.ts).
import type { VerifyRow } from '../src/nn/verify.js';

export type ModelName = 'lenet' | 'mlp';
export const MODEL_NAMES: ModelName[] = ['lenet', 'mlp'];
export const MODEL_LABELS: Record<ModelName, string> = { lenet: 'LeNet-5 (CNN)', mlp: 'MLP (one hidden layer)' };

export interface TrainConfig {
  model: ModelName;
  optimizer: 'sgd' | 'adam';
  lr: number;
  batch: number;
  epochs: number;
  /** Use only the first this-many training images. */
  trainImages: number;
  /** Test accuracy after each epoch over the first this-many test images. */
  testImages: number;
  /** Send the first layer's weights every this many steps. */
  filterEvery: number;
  seed: number;
}

export type ToWorker =
  | { type: 'init'; dataUrl: string }
  | { type: 'train'; config: TrainConfig }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  /** One 28×28 image in [0, 1]; answered by 'prediction' from every trained model. */
  | { type: 'predict'; id: number; image: Float32Array }
  /** A test image to draw on the canvas. */
  | { type: 'sample'; index: number }
  | { type: 'verify'; model: ModelName; batch: number }
  | { type: 'save'; model: ModelName }
  | { type: 'load'; fileName: string; bytes: ArrayBuffer };

export interface ModelStatus {
  model: ModelName;
  /** Training steps taken. */
  step: number;
  /** Last measured test accuracy, if any. */
  testAccuracy: number | null;
  /** Where the weights came from. */
  origin: 'trained' | 'loaded';
}

export type FromWorker =
  | { type: 'ready'; adapter: string; fallback: boolean; trainAvailable: number; testAvailable: number }
  /** The page cannot go on: no adapter, device lost, data missing. */
  | { type: 'fatal'; message: string; noAdapter: boolean }
  /** What the worker is busy with, in words. */
  | { type: 'phase'; text: string }
  | { type: 'train-start'; model: ModelName; totalSteps: number; stepsPerEpoch: number; epochs: number }
  | { type: 'step'; model: ModelName; step: number; totalSteps: number; epoch: number; loss: number; accuracy: number; imagesPerSecond: number }
  | { type: 'epoch'; model: ModelName; epoch: number; testAccuracy: number; seconds: number }
  | { type: 'filters'; model: ModelName; step: number; title: string; count: number; h: number; w: number; data: Float32Array }
  | { type: 'train-end'; model: ModelName; stopped: boolean; testAccuracy: number | null; seconds: number }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'models'; models: ModelStatus[] }
  /** Softmax probabilities from each trained model. */
  | { type: 'prediction'; id: number; probs: Partial<Record<ModelName, number[]>> }
  | { type: 'sample'; image: Float32Array; label: number }
  | { type: 'verify'; model: ModelName; rows: VerifyRow[]; ok: boolean; tolerance: number; lossGpu: number; lossCpu: number }
  | { type: 'saved'; model: ModelName; fileName: string; bytes: ArrayBuffer }
  | { type: 'loaded'; model: ModelName; fileName: string; step: number }
  /** A request failed; the worker's state is unchanged. */
  | { type: 'error'; op: string; message: string };
