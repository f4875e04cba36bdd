/**
 * The sidebar's REST types are generated from the server's OpenAPI file, so
 * that the two cannot drift apart unnoticed.
 *
 *   node scripts/api-types.mjs          writes src/api.gen.ts (`jlpm run api:types`)
 *   node scripts/api-types.mjs --check  fails when src/api.gen.ts is stale (`jlpm run api:check`)
 *
 * The unit tests run the same check.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import openapiTS, { astToString } from 'openapi-typescript';

/** The OpenAPI file the server extension is documented by. */
export const SPEC = new URL(
  '../../python_pkg/nbops/server/openapi.yaml',
  import.meta.url
);

/** The generated types. */
export const TARGET = new URL('../src/api.gen.ts', import.meta.url);

/** The one command that refreshes the generated types. */
export const REFRESH_COMMAND = 'cd lab_extension && jlpm run api:types';

const HEADER = `/**
 * The nbops REST API's types, generated from
 * python_pkg/nbops/server/openapi.yaml by \`jlpm run api:types\`.
 * Do not edit: change the OpenAPI file and run that command.
 */

`;

/**
 * The text `src/api.gen.ts` should hold for the current OpenAPI file.
 */
export async function generate(spec = SPEC) {
  const ast = await openapiTS(spec, { silent: true });
  return HEADER + astToString(ast);
}

/**
 * Null when `src/api.gen.ts` (or `target`) is up to date, else what to do
 * about it.
 */
export async function staleness(spec = SPEC, target = TARGET) {
  const [wanted, current] = await Promise.all([
    generate(spec),
    readFile(target, 'utf8').catch(() => '')
  ]);
  return wanted === current
    ? null
    : `src/api.gen.ts does not match python_pkg/nbops/server/openapi.yaml: run \`${REFRESH_COMMAND}\`, then fix what no longer type-checks.`;
}

async function main(argv) {
  if (argv.includes('--check')) {
    const problem = await staleness();
    if (problem) {
      console.error(problem);
      process.exitCode = 1;
    }
    return;
  }
  await writeFile(TARGET, await generate());
  console.log(`Wrote ${fileURLToPath(TARGET)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
