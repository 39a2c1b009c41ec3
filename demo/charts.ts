// The two live plots (uPlot): loss and batch accuracy per training step of the current
// run, and test accuracy per epoch of each model.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { MODEL_NAMES, type ModelName } from './protocol.js';

const COLORS: Record<ModelName, string> = { lenet: '#2f6fde', mlp: '#e67e22' };
const NAMES: Record<ModelName, string> = { lenet: 'LeNet', mlp: 'MLP' };

function width(el: HTMLElement): number {
  return Math.max(300, el.clientWidth - 4);
}

export class Charts {
  private readonly steps: uPlot;
  private readonly epochs: uPlot;
  private stepData: [number[], number[], number[]] = [[], [], []];
  private readonly tests: Record<ModelName, number[]> = { lenet: [], mlp: [] };
  private pending = false;

  constructor(
    stepsEl: HTMLElement,
    epochsEl: HTMLElement,
  ) {
    this.steps = new uPlot(
      {
        title: 'loss and batch accuracy per step',
        width: width(stepsEl),
        height: 220,
        legend: { live: false },
        scales: { x: { time: false }, acc: { range: [0, 1] } },
        series: [
          { label: 'step' },
          { label: 'loss', stroke: '#c0392b', width: 1.5, scale: 'loss' },
          { label: 'batch accuracy', stroke: '#2f6fde', width: 1.5, scale: 'acc' },
        ],
        axes: [{ label: 'step' }, { scale: 'loss', label: 'loss' }, { scale: 'acc', side: 1, label: 'accuracy', grid: { show: false } }],
      },
      this.stepData,
      stepsEl,
    );
    this.epochs = new uPlot(
      {
        title: 'test accuracy per epoch',
        width: width(epochsEl),
        height: 180,
        legend: { live: false },
        scales: { x: { time: false }, y: { range: [0, 1] } },
        series: [
          { label: 'epoch' },
          ...MODEL_NAMES.map((m) => ({ label: NAMES[m], stroke: COLORS[m], width: 2, points: { show: true, size: 7 }, spanGaps: true })),
        ],
        axes: [{ label: 'epoch', incrs: [1, 2, 5, 10] }, { label: 'test accuracy' }],
      },
      this.epochData(),
      epochsEl,
    );
    new ResizeObserver(() => {
      this.steps.setSize({ width: width(stepsEl), height: 220 });
      this.epochs.setSize({ width: width(epochsEl), height: 180 });
    }).observe(stepsEl.parentElement!);
  }

  private epochData(): uPlot.AlignedData {
    const n = Math.max(...MODEL_NAMES.map((m) => this.tests[m].length), 0);
    const x = Array.from({ length: n }, (_, i) => i + 1);
    return [x, ...MODEL_NAMES.map((m) => x.map((_, i) => this.tests[m][i] ?? null))];
  }

  /** A new run of `model`: its step plot and its test curve start over. */
  reset(model: ModelName): void {
    this.stepData = [[], [], []];
    this.steps.setData(this.stepData);
    this.tests[model] = [];
    this.epochs.setData(this.epochData());
  }

  step(step: number, loss: number, accuracy: number): void {
    this.stepData[0].push(step);
    this.stepData[1].push(loss);
    this.stepData[2].push(accuracy);
    // Redraw at most once a frame, however fast the steps come.
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.steps.setData(this.stepData);
    });
  }

  epoch(model: ModelName, epoch: number, testAccuracy: number): void {
    this.tests[model][epoch - 1] = testAccuracy;
    this.epochs.setData(this.epochData());
  }
}
