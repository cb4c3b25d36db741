// Module hook for the y-websocket server process: resolves `y-leveldb` to the stub next to it.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === 'y-leveldb') return { url: ${JSON.stringify(new URL('./y-leveldb-stub.mjs', import.meta.url).href)}, shortCircuit: true };
        return next(specifier, context);
      }`),
);
