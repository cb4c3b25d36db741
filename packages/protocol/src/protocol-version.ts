import { ProtocolError } from './protocol-error.js';

/**
 * The version of the wire protocol this build speaks best. Bump it whenever the message schemas
 * change: an older peer would refuse the new messages, or silently drop fields it does not know.
 * The schema-hash test in `test/protocol-version.test.ts` fails until you do. Then add a line
 * to the history below and to the table in docs/protocol.md, and record the new hash in that test.
 *
 * History (one line per version):
 * - 1: hello/welcome, subscribe, sync, caught-up, delivery (manifest, redacted, omitted), ack, want, unavailable, error, ping/pong.
 * - 2: `delivery.durable`: a sender may ship an entry before it is durable, saying how far its log is.
 */
export const PROTOCOL_VERSION = 2;

/**
 * Every version this build can speak, newest first. When a version is retired it leaves this
 * list; a peer offering only retired versions gets an `error` of kind `version`.
 */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([PROTOCOL_VERSION, 1]);

/**
 * Picks the version a connection speaks: the highest one both sides support. Called by the
 * listening side on `hello`; the answer goes in `welcome.version`.
 *
 * @throws {ProtocolError} of kind `version` (fatal) when there is no common version.
 * @example
 * const version = negotiateVersion(hello.versions); // 1
 */
export function negotiateVersion(offered: readonly number[], supported: readonly number[] = SUPPORTED_PROTOCOL_VERSIONS): number {
  let best: number | undefined;
  for (const v of offered) {
    if (supported.includes(v) && (best === undefined || v > best)) best = v;
  }
  if (best === undefined) {
    throw new ProtocolError(
      'version',
      `no common protocol version: the peer speaks [${offered.slice(0, 8).join(', ')}${offered.length > 8 ? ', …' : ''}], ` +
        `this peer speaks [${supported.join(', ')}]; upgrade the older side`,
    );
  }
  return best;
}

/**
 * Checks the version a `welcome` announces against the versions the dialer offered: a listener
 * that answers with a version nobody asked for is broken or hostile.
 *
 * @throws {ProtocolError} of kind `version` (fatal) when `version` was not offered.
 */
export function checkWelcomeVersion(version: number, offered: readonly number[] = SUPPORTED_PROTOCOL_VERSIONS): number {
  if (!offered.includes(version)) {
    throw new ProtocolError('version', `the peer chose protocol version ${version}, which this peer did not offer ([${offered.join(', ')}])`);
  }
  return version;
}
