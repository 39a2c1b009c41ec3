// `node --import ./scripts/register.mjs file.ts`: TypeScript through tsx, plus `.wgsl?raw` imports.
import { register } from 'node:module';
import 'tsx';
register('./wgsl-loader.mjs', import.meta.url);
