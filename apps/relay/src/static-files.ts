import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { unreachable } from '@atoll/protocol';
import { RelayConfigError } from './errors.js';

/** Content types by file extension; anything else is served as `application/octet-stream`. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
};

/** What {@link StaticFiles.resolve} found for a request path. */
export type StaticLookup =
  | { readonly kind: 'file'; readonly path: string; readonly size: number; readonly mtimeMs: number }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'bad-request' }
  | { readonly kind: 'not-found' };

/**
 * Serves the files of one directory (a built web app: the demo, say) read-only: `index.html`
 * for a directory, content types by extension, conditional GETs by ETag. A path that would
 * leave the directory — `..` segments, encoded slashes, symbolic links pointing outside — and
 * hidden files (`.env`, `.git/…`) are answered 404, as if they did not exist.
 */
export class StaticFiles {
  /** The directory, with symbolic links resolved. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** @throws {RelayConfigError} when `dir` is not a readable directory. */
  static async open(dir: string): Promise<StaticFiles> {
    let root: string;
    try {
      root = await realpath(resolve(dir));
      if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new RelayConfigError(`--static ${dir}: ${(err as Error).message}; give the directory of a built web app`, { cause: err });
    }
    return new StaticFiles(root);
  }

  /** Maps a URL path (still percent-encoded) to a file in the directory. */
  async resolve(pathname: string): Promise<StaticLookup> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return { kind: 'bad-request' };
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return { kind: 'bad-request' };
    const segments = decoded.split('/').filter((s) => s !== '');
    if (segments.some((s) => s.startsWith('.'))) return { kind: 'not-found' };
    const candidate = resolve(this.root, ...segments);
    if (!this.#inside(candidate)) return { kind: 'not-found' };
    try {
      let real = await realpath(candidate);
      if (!this.#inside(real)) return { kind: 'not-found' };
      let info = await stat(real);
      if (info.isDirectory()) {
        if (!pathname.endsWith('/')) return { kind: 'redirect', location: `${pathname}/` };
        real = await realpath(resolve(real, 'index.html'));
        if (!this.#inside(real)) return { kind: 'not-found' };
        info = await stat(real);
      }
      if (!info.isFile()) return { kind: 'not-found' };
      return { kind: 'file', path: real, size: info.size, mtimeMs: info.mtimeMs };
    } catch {
      return { kind: 'not-found' };
    }
  }

  /** Answers a GET or HEAD for `pathname`; resolves false when there is no such file (the caller answers 404). */
  async serve(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
    const found = await this.resolve(pathname);
    switch (found.kind) {
      case 'not-found':
        return false;
      case 'bad-request':
        response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad request\n');
        return true;
      case 'redirect':
        response.writeHead(301, { location: found.location, 'content-type': 'text/plain; charset=utf-8' }).end(`moved to ${found.location}\n`);
        return true;
      case 'file':
        break;
      default:
        return unreachable(found);
    }
    const etag = `W/"${found.size.toString(16)}-${Math.floor(found.mtimeMs).toString(16)}"`;
    const headers = {
      'content-type': CONTENT_TYPES[extname(found.path).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      etag,
      'last-modified': new Date(found.mtimeMs).toUTCString(),
      'x-content-type-options': 'nosniff',
    };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers).end();
      return true;
    }
    response.writeHead(200, { ...headers, 'content-length': String(found.size) });
    if (request.method === 'HEAD') {
      response.end();
      return true;
    }
    const stream = createReadStream(found.path);
    stream.on('error', () => response.destroy());
    stream.pipe(response);
    return true;
  }

  #inside(path: string): boolean {
    return path === this.root || path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
  }
}
