// Playwright's webServer for the browser e2e tests: serves the built fixture page with
// `vite preview`, building it first when the build is missing or older than any source it is
// made from (the fixture, and the packages' sources it bundles). turbo's cache of the e2e
// build does not cover this folder, so this check is what keeps the page the tests load fresh.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const packages = fileURLToPath(new URL('../../packages/', import.meta.url));
const configFile = join(here, 'vite.config.ts');

/** The newest modification time under `path` (a file or a directory), skipping dependencies and builds. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

const sources = [join(here, 'src'), join(here, 'index.html'), configFile, ...readdirSync(packages).map((p) => join(packages, p, 'src'))];
const built = newest(join(here, 'dist', 'index.html'));
if (built === 0 || sources.some((s) => newest(s) > built)) {
  console.log('browser-app: building the fixture page');
  await build({ configFile });
}
const server = await preview({ configFile });
server.printUrls();
