// The drawing pad: mouse/touch strokes on a large canvas, turned into an MNIST-like 28×28
// image the way the MNIST digits were made: the drawing's bounding box scaled to fit
// 20×20, then placed so that its centre of mass is at the middle of the 28×28 field.
const SIDE = 28;
const BOX = 20;

export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private readonly small = document.createElement('canvas');

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly onChange: () => void,
  ) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.small.width = this.small.height = SIDE;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.point(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.last) return;
      const p = this.point(e);
      this.stroke(this.last, p);
      this.last = p;
    });
    const end = (): void => {
      this.last = null;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }

  private stroke(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.canvas.width / 13;
    c.lineCap = c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x + 0.01, b.y);
    c.stroke();
    this.onChange();
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.onChange();
  }

  /** Paints a 28×28 image in [0, 1] over the whole pad. */
  paint(image: Float32Array): void {
    const s = this.small.getContext('2d')!;
    const img = s.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = Math.round(image[i]! * 255);
      img.data.set([v, v, v, 255], i * 4);
    }
    s.putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(this.small, 0, 0, this.canvas.width, this.canvas.height);
    this.onChange();
  }

  /** The drawing as a centred 28×28 image in [0, 1], or null when the pad is empty. */
  toMnist(): Float32Array | null {
    const { width: W, height: H } = this.canvas;
    const px = this.ctx.getImageData(0, 0, W, H).data;
    let x0 = W;
    let y0 = H;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (px[(y * W + x) * 4]! > 16) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      }
    }
    if (x1 < 0) return null;
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const scale = BOX / Math.max(bw, bh);
    const tw = Math.max(1, bw * scale);
    const th = Math.max(1, bh * scale);
    const s = this.small.getContext('2d', { willReadFrequently: true })!;
    s.fillStyle = '#000';
    s.fillRect(0, 0, SIDE, SIDE);
    s.imageSmoothingEnabled = true;
    s.imageSmoothingQuality = 'high';
    s.drawImage(this.canvas, x0, y0, bw, bh, (SIDE - tw) / 2, (SIDE - th) / 2, tw, th);
    const d = s.getImageData(0, 0, SIDE, SIDE).data;
    const out = new Float32Array(SIDE * SIDE);
    let m = 0;
    let mx = 0;
    let my = 0;
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = d[i * 4]! / 255;
      out[i] = v;
      m += v;
      mx += v * (i % SIDE);
      my += v * Math.floor(i / SIDE);
    }
    if (m === 0) return out;
    // Centre of mass to the middle (13.5 in pixel-index coordinates).
    return shiftImage(out, Math.round(13.5 - mx / m), Math.round(13.5 - my / m));
  }
}

/** A 28×28 image moved by whole pixels (+dx right, +dy down); what moves out is lost. */
export function shiftImage(img: Float32Array, dx: number, dy: number): Float32Array {
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= SIDE) continue;
    for (let x = 0; x < SIDE; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < SIDE) out[y * SIDE + x] = img[sy * SIDE + sx]!;
    }
  }
  return out;
}

/** Draws a 28×28 image in [0, 1] on a 28×28 canvas. */
export function showImage(canvas: HTMLCanvasElement, img: Float32Array | null): void {
  const c = canvas.getContext('2d')!;
  const data = c.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round((img?.[i] ?? 0) * 255);
    data.data.set([v, v, v, 255], i * 4);
  }
  c.putImageData(data, 0, 0);
}
