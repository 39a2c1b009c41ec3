// The bench scripts' flags: node:util's parseArgs, with --help printing the usage, and an
// unknown or malformed flag printed with the usage and exit code 2 (as npm run train does)
// instead of a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Prints why and the usage, and exits with code 2. */
export function usage(why: string, help: string): never {
  console.error(`${why}\n\n${help}`);
  process.exit(2);
}

/** The flags' values; --help (added to the options) prints `help` and exits. */
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

export function parseFlags<const O extends Options>(options: O, help: string): Values<O> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean' } } }).values;
  } catch (e) {
    return usage((e as Error).message, help);
  }
  if (values.help) {
    console.log(help);
    process.exit(0);
  }
  return values as Values<O>;
}
