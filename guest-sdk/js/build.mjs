// Build a JavaScript cog: bundle it with this SDK (esbuild; the WIT
// imports stay imports), then make the component (componentize-js, with
// only the WASI the host gives cogs: no wasi:http).
//
//     node guest-sdk/js/build.mjs path/to/app.js out.wasm
import { build } from 'esbuild';
import { componentize } from '@bytecodealliance/componentize-js';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [source, out] = process.argv.slice(2);
if (!source || !out) {
  console.error('usage: node build.mjs APP.js OUT.wasm');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(await mkdtemp(join(tmpdir(), 'baseline-cog-')), 'bundle.js');
await build({
  entryPoints: [resolve(source)],
  bundle: true,
  format: 'esm',
  outfile: bundle,
  external: ['baseline:*'],
  alias: { baseline: join(here, 'baseline.js') },
  logLevel: 'warning',
});
// The WIT beside this script (a cog made by `baseline cog new --lang js`),
// else the repository's.
const wit = existsSync(join(here, 'wit')) ? join(here, 'wit') : join(here, '..', '..', 'wit');
const { component } = await componentize({
  sourcePath: bundle,
  witPath: wit,
  worldName: 'baseline:cog/cog',
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`${out}: ${(component.length / 1048576).toFixed(1)} MiB`);
