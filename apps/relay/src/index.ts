/**
 * `@atoll/relay`: the Atoll relay — a Node peer that listens on WebSockets, persists in SQLite,
 * subscribes to everything and forwards, with authentication, per-peer permissions, limits,
 * health and metrics. The `atoll-relay` command runs it; {@link startRelay} embeds it.
 *
 * @packageDocumentation
 */
export { startRelay, SYNC_PATH, SOCKET_SLACK_BYTES, type Relay, type RelayOptions } from './relay.js';
export { PermissionSet, authenticator, scopePolicy, type AuthConfig, type PermissionEntry, type PermissionsDocument } from './auth.js';
export { DEFAULT_RATE_LIMIT, GuardedTransport, RATE_LIMITED_CLOSE_CODE, type GuardHooks, type RateLimitOptions } from './guarded-transport.js';
export { RelayMetrics, APPLY_SECONDS_BUCKETS } from './metrics.js';
export { StaticFiles, CONTENT_TYPES, type StaticLookup } from './static-files.js';
export { lockDataDir, DATABASE_FILE, LOCK_FILE, type DataDir } from './data-dir.js';
export { parseRelayArgs, parseSize, USAGE, type RelayCommand } from './config.js';
export { RelayConfigError, RelayDataDirLockedError, RelayListenError } from './errors.js';
export { STATUS_PATH, type RelayHealth } from './http.js';
