// Debian's Chromium, never a downloaded browser. One place for the binary and its flags so
// Vitest browser mode and Playwright launch the same browser the same way.
export const chromiumExecutable = process.env['ATOLL_CHROMIUM'] ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
