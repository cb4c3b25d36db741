import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every module specifier `file` imports or re-exports, followed through relative imports. */
function importsOf(file: string, seen = new Set<string>()): Set<string> {
  const specifiers = new Set<string>();
  if (seen.has(file)) return specifiers;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier === undefined) continue;
    if (specifier.startsWith('.')) {
      for (const s of importsOf(join(dirname(file), specifier.replace(/\.js$/, '.ts')), seen)) specifiers.add(s);
    } else {
      specifiers.add(specifier);
    }
  }
  return specifiers;
}

describe('@atoll/transport-websocket/browser', () => {
  it('never imports ws nor a Node built-in, so browser bundles stay clean', () => {
    const imported = [...importsOf(join(root, 'src/browser.ts'))];
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((s) => s === 'ws' || s.startsWith('ws/') || s.startsWith('node:'))).toEqual([]);
  });

  it('is exported as the ./browser subpath', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(pkg.exports['./browser']).toEqual({ source: './src/browser.ts', types: './dist/browser.d.ts', default: './dist/browser.js' });
  });

  it('the Node entry does import ws (the check above can fail)', () => {
    expect([...importsOf(join(root, 'src/index.ts'))]).toContain('ws');
  });
});
