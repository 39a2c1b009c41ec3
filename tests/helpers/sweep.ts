// CONVGPU_TEST_SEED and CONVGPU_TEST_CONFIGS (a multiplier of the counts) make the seeded
// random suites (op configurations, model graphs) draw other or more cases, for a wider sweep
// by hand; unset, every run draws the same ones.
const seedVar = process.env.CONVGPU_TEST_SEED;
const scaleVar = process.env.CONVGPU_TEST_CONFIGS;
const seed = seedVar === undefined ? null : Number(seedVar);
const scale = Number(scaleVar ?? 1);
if ((seed !== null && !Number.isInteger(seed)) || !Number.isInteger(scale) || scale < 1) {
  throw new Error(`CONVGPU_TEST_SEED must be an integer and CONVGPU_TEST_CONFIGS a positive integer (got ${seedVar}, ${scaleVar})`);
}

/** The seed a suite draws from (its own default unless CONVGPU_TEST_SEED is set), and how many cases. */
export function sweep(defaultSeed: number, count: number): { seed: number; count: number } {
  return { seed: seed ?? defaultSeed, count: count * scale };
}
