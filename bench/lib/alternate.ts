// Two timed things run in turn, the order swapped every round: the machine's drifting load then
// falls on both alike, and the ratio per round is what to judge by (bench head to head, bench:ab).

/** Runs a and b in turn (a first in even rounds) while more(rounds so far) holds; their times. */
export async function alternate(a: () => Promise<number>, b: () => Promise<number>, more: (rounds: number) => boolean): Promise<{ a: number[]; b: number[] }> {
  const ta: number[] = [];
  const tb: number[] = [];
  while (more(ta.length)) {
    if (ta.length % 2) {
      tb.push(await b());
      ta.push(await a());
    } else {
      ta.push(await a());
      tb.push(await b());
    }
  }
  return { a: ta, b: tb };
}
