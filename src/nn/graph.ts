// Model definition: a graph of layers with one input and one output. Sequential is the
// chain case; `add(layer, ...inputs)` builds branches and joins (residual, inception).
// Every shape is inferred as each layer is added, so a wrong shape fails at build time.
import { AttributeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { checkShape, sizeOf } from '../shape.js';
import { Layer, type ParamSpec } from './layers.js';

export interface NodeRef {
  readonly id: number;
  readonly graph: Graph;
}

export interface GraphNode {
  id: number;
  /** null for the input node. */
  layer: Layer | null;
  inputs: number[];
}

export interface ParamEntry {
  /** "conv2d_0.weight" */
  name: string;
  node: number;
  spec: ParamSpec;
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  private outputId = 0;
  private counts = new Map<string, number>();
  private frozen = false;
  private outClasses: number | undefined;

  /** inputShape: one example, without the batch, e.g. [1, 28, 28]. */
  constructor(readonly inputShape: number[]) {
    checkShape('Graph', 'input', inputShape);
    this.nodes.push({ id: 0, layer: null, inputs: [] });
  }

  get input(): NodeRef {
    return { id: 0, graph: this };
  }

  get output(): NodeRef {
    return { id: this.outputId, graph: this };
  }

  setOutput(ref: NodeRef): this {
    this.checkOpen('setOutput');
    this.own(ref);
    this.outputId = ref.id;
    return this;
  }

  /** @internal A model made from the graph fixes it: its parameters and plans follow these nodes. */
  freeze(): void {
    this.frozen = true;
  }

  private checkOpen(op: string): void {
    if (this.frozen) {
      throw new AttributeError(`Graph.${op}: a Model was made from this graph, so its layers are fixed; build the whole graph first, or start a new Graph for another model.`);
    }
  }

  private own(ref: NodeRef): void {
    if (ref.graph !== this || !this.nodes[ref.id]) {
      throw new AttributeError('Graph: a node reference from another graph was used; build each model from its own graph.input.');
    }
  }

  /** Adds a layer fed by `inputs` (default: the current output) and makes it the output. */
  add(layer: Layer, ...inputs: NodeRef[]): NodeRef {
    this.checkOpen('add');
    if (inputs.length === 0) inputs = [this.output];
    inputs.forEach((r) => this.own(r));
    if (this.nodes.some((n) => n.layer === layer)) {
      throw new AttributeError(`Graph: layer ${layer.label} was added twice; create a new layer for each use (weights are not shared between nodes).`);
    }
    const want = layer.arity;
    if ((want === -1 && inputs.length < 2) || (want !== -1 && inputs.length !== want)) {
      throw new AttributeError(`Graph: ${layer.kind} takes ${want === -1 ? '2 or more' : want} input(s), got ${inputs.length}.`);
    }
    const taken = (name: string): boolean => this.nodes.some((n) => n.layer?.name === name);
    const named = !!layer.name;
    const k = layer.kind.toLowerCase();
    let count = this.counts.get(k) ?? 0;
    if (!named) {
      // Parameters are stored by layer name: a clash (with a name the user chose, or one a
      // layer brought from another graph) would make two layers share one set of weights.
      while (taken(`${k}_${count}`)) count++;
      layer.name = `${k}_${count}`;
    } else if (taken(layer.name)) {
      throw new AttributeError(`Graph: two layers are named "${layer.name}"; names must be unique.`);
    }
    const node: GraphNode = { id: this.nodes.length, layer, inputs: inputs.map((r) => r.id) };
    this.nodes.push(node);
    try {
      this.shapes(1);
    } catch (e) {
      this.nodes.pop();
      if (!named) layer.name = ''; // a refused layer takes no name, so later ones are named as if it never came
      throw e;
    }
    if (!named) this.counts.set(k, count + 1);
    this.outputId = node.id;
    return { id: node.id, graph: this };
  }

  /** Output shape of every node for a batch size; throws ShapeError naming the layer. */
  shapes(batch: number): number[][] {
    const out: number[][] = [[batch, ...this.inputShape]];
    for (const n of this.nodes.slice(1)) {
      const layer = n.layer!;
      const ins = n.inputs.map((i) => out[i]!);
      const s = layer.outShape(ins);
      if (!s.every((d) => Number.isInteger(d) && d > 0)) {
        throw new ShapeError(`${layer.label}: output ${fmtShape(s)} from inputs ${ins.map(fmtShape).join(', ')} is empty; the input is too small for this layer.`);
      }
      out.push(s);
    }
    return out;
  }

  /**
   * The first layer with weights and how it connects, per image (Layer.weightUse): the input
   * values each of its outputs reads, of all it is given, and the outputs each weight serves.
   * A CNN's and an MLP's first layers side by side are the difference between them in numbers.
   */
  firstWeightLayer(): { layer: string; fanIn: number; inputs: number; weights: number; uses: number } | null {
    const shapes = this.shapes(1);
    for (const n of this.nodes.slice(1)) {
      const ins = n.inputs.map((i) => shapes[i]!);
      const use = n.layer!.weightUse(ins);
      if (use) return { layer: n.layer!.label, ...use, inputs: sizeOf(ins[0]!), weights: sizeOf(n.layer!.params(ins)[0]!.shape) };
    }
    return null;
  }

  /** The node whose buffer node i's output is: itself, or for a view (Flatten) the node it views. */
  viewRoot(i: number): number {
    const n = this.nodes[i]!;
    return n.layer?.isView ? this.viewRoot(n.inputs[0]!) : i;
  }

  /**
   * Refuses a batch before anything runs: x of the wrong size or not finite, labels of the wrong
   * count or not class indices. The GPU plans and the CPU model share it, so both refuse alike.
   */
  checkBatch(op: string, batch: number, x: ArrayLike<number>, labels?: ArrayLike<number>): void {
    const want = batch * this.inputShape.reduce((a, b) => a * b, 1);
    if (x.length !== want) {
      throw new ShapeError(`${op}: input has ${x.length} values; a batch of ${batch} × ${fmtShape(this.inputShape)} needs ${want}.`);
    }
    if (labels && labels.length !== batch) throw new ShapeError(`${op}: ${labels.length} labels for a batch of ${batch}.`);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) {
        throw new NonFiniteError(`${op}: input value ${x[i]} at flat index ${i} (example ${Math.floor(i / (x.length / batch))}) is not finite; clean the data first.`);
      }
    }
    if (!labels) return;
    const classes = this.classes;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (!Number.isInteger(l) || l < 0 || l >= classes) {
        throw new AttributeError(`${op}: label ${l} of example ${i} is not a class index in [0, ${classes}).`);
      }
    }
  }

  /** Classes of the output (its last axis); kept once a model has fixed the graph. */
  get classes(): number {
    const c = this.outClasses ?? this.shapes(1)[this.outputId]!.at(-1)!;
    if (this.frozen) this.outClasses = c;
    return c;
  }

  /** Every node must feed the output: a dangling branch has no gradient. */
  checkConnected(): void {
    const live = new Set<number>([this.outputId]);
    for (let i = this.outputId; i >= 0; i--) if (live.has(i)) this.nodes[i]!.inputs.forEach((j) => live.add(j));
    for (const n of this.nodes) {
      if (!live.has(n.id)) throw new AttributeError(`Graph: the output of ${n.layer?.label ?? 'the input'} is never used by the model's output; remove it or join it in.`);
    }
  }

  /** Every parameter, trainable ones first (the optimizer updates that leading range only). */
  params(batch = 1): ParamEntry[] {
    const shapes = this.shapes(batch);
    const all = this.nodes.slice(1).flatMap((n) =>
      n.layer!.params(n.inputs.map((i) => shapes[i]!)).map((spec) => ({ name: `${n.layer!.name}.${spec.name}`, node: n.id, spec })),
    );
    return [...all.filter((e) => e.spec.trainable !== false), ...all.filter((e) => e.spec.trainable === false)];
  }

  get layers(): Layer[] {
    return this.nodes.slice(1).map((n) => n.layer!);
  }
}

/** A chain of layers. */
export class Sequential extends Graph {
  constructor(inputShape: number[], layers: Layer[]) {
    super(inputShape);
    for (const l of layers) this.add(l);
  }
}
