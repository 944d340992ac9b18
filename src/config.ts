/**
 * Node configuration from flags and environment (PROTOCOL.md section 1). Pure: it reads the
 * arguments and environment it is given and throws ConfigError on anything it cannot accept, so
 * the binary can print one line and exit 2 before anything starts.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { DEFAULT_WRITE_BUFFER_MB, FSYNC_MODES, type FsyncMode } from './storage/kv.js'

export interface Config {
  id: string
  host: string
  port: number
  grpcPort: number
  dataDir: string
  /** NATS server URLs; empty means a standalone single node. */
  nats: string[]
  cluster: string
  replicas: number
  /** Token-signing secret; null means generate and keep one in the data dir (standalone only). */
  secret: string | null
  presenceTimeoutMs: number
  maxGroupSize: number
  region: string | null
  passivateAfterMs: number
  heartbeatMs: number
  deadAfterMs: number
  rateLimitPerSec: number
  rateBurst: number
  /** Event-loop lag (ms) past which new writes are shed with UNAVAILABLE; 0 = never. */
  maxLagMs: number
  /** Writes admitted on this node and not yet answered, past which new ones are shed; 0 = no bound. */
  maxInFlightWrites: number
  /** Sessions whose sends are handled at once, the others waiting their turn; 0 = no limit. */
  sendConcurrency: number
  /** Node-to-node requests on peer links (TCP, or TLS with certificates) where peers serve them (src/cluster/peer-link.ts). */
  peerLinks: boolean
  /** The port peer links are served on; null: the default (linkPortOf). */
  linkPort: number | null
  maxQueuedBytes: number
  tokenTtlMs: number
  logLevel: string
  pushWebhook: string | null
  repairIntervalMs: number
  /** How often applied log entries are compacted into the state; 0 never. */
  compactIntervalMs: number
  /** Log entries kept for a lagging or unreachable replica before it is caught up by snapshot. */
  compactMaxLag: number
  /** LevelDB's memtable size in MiB: larger means fewer, larger sorted files and less compaction work per write. */
  writeBufferMb: number
  /** When a storage write counts as done: never (OS), batch (fsync per group commit), always (fsync per write). */
  fsync: FsyncMode
  // Push notifications (docs/PUSH.md)
  pushWebhookSecret: string | null
  pushHttpsOnly: boolean
  pushConcurrency: number
  pushQueueMax: number
  pushRetryBaseMs: number
  pushRetryMaxMs: number
  pushGiveUpMs: number
  pushTimeoutMs: number
  pushCoalesceMs: number
  pushTtlS: number
  vapidPublicKey: string | null
  vapidPrivateKey: string | null
  vapidKeysFile: string | null
  vapidSubject: string
  /** Bearer token for `/v1/internal/*`; null: those routes answer 404. */
  adminToken: string | null
  /** Open sockets per user; one more is closed with 4429. */
  maxDevices: number
  /** Sign-ups and logins per client address per minute, and their burst (addresses on the allow list are exempt). */
  authRatePerMin: number
  authBurst: number
  /** Addresses and CIDR ranges exempt from the per-address limits. */
  authAllow: string[]
  /** Password hashes computed at once, and how many more may wait before logins are refused. */
  hashConcurrency: number
  hashQueue: number
  httpRequestTimeoutMs: number
  httpHeadersTimeoutMs: number
  httpKeepAliveTimeoutMs: number
  /** Mutual TLS between nodes: all three or none (PEM file paths). */
  tlsCa: string | null
  tlsCert: string | null
  tlsKey: string | null
  /** TLS for the client listener (PEM file paths): both or none. */
  httpTlsCert: string | null
  httpTlsKey: string | null
  natsUser: string | null
  natsPass: string | null
  natsToken: string | null
  natsCreds: string | null
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

type Kind = 'string' | 'port' | 'int' | 'list' | 'url' | 'fsync' | 'bool' | 'file' | 'file-path'

interface OptionSpec {
  key: keyof Config
  env: string
  kind: Kind
  min?: number
  max?: number
  help: string
}

/** Every flag, in the order `--help` prints them. */
export const OPTIONS: Record<string, OptionSpec> = {
  '--id': { key: 'id', env: 'CHAT_NODE_ID', kind: 'string', help: 'node id, unique in the cluster (default hostname-port)' },
  '--host': { key: 'host', env: 'CHAT_HOST', kind: 'string', help: 'address to bind and advertise (default 127.0.0.1)' },
  '--port': { key: 'port', env: 'CHAT_PORT', kind: 'port', help: 'HTTP + WebSocket port, 0 = pick (default 8080)' },
  '--grpc-port': { key: 'grpcPort', env: 'CHAT_GRPC_PORT', kind: 'port', help: 'node-to-node gRPC port, 0 = pick (default 9090)' },
  '--data-dir': { key: 'dataDir', env: 'CHAT_DATA_DIR', kind: 'string', help: 'LevelDB directory (default ./data/<id>)' },
  '--nats': { key: 'nats', env: 'CHAT_NATS_URL', kind: 'list', help: 'NATS URL(s), comma separated; absent = standalone' },
  '--cluster': { key: 'cluster', env: 'CHAT_CLUSTER', kind: 'string', help: 'cluster name (default chat)' },
  '--replicas': { key: 'replicas', env: 'CHAT_REPLICAS', kind: 'int', min: 1, max: 9, help: 'copies of every actor\'s data (default 3)' },
  '--secret': { key: 'secret', env: 'CHAT_SECRET', kind: 'string', help: 'cluster secret (tokens, node-to-node signatures); required with --nats' },
  '--secret-file': { key: 'secret', env: 'CHAT_SECRET_FILE', kind: 'file', help: 'read the cluster secret from this file instead' },
  '--presence-timeout-ms': { key: 'presenceTimeoutMs', env: 'CHAT_PRESENCE_TIMEOUT_MS', kind: 'int', min: 100, max: 86_400_000, help: 'silence after which a device is offline (default 15000)' },
  '--max-group-size': { key: 'maxGroupSize', env: 'CHAT_MAX_GROUP_SIZE', kind: 'int', min: 2, max: 100_000, help: 'members per group, creator included (default 100)' },
  '--region': { key: 'region', env: 'CHAT_REGION', kind: 'string', help: 'region advertised for discovery' },
  '--passivate-after-ms': { key: 'passivateAfterMs', env: 'CHAT_PASSIVATE_AFTER_MS', kind: 'int', min: 10, max: 86_400_000, help: 'idle time before an actor is unloaded (default 60000)' },
  '--heartbeat-ms': { key: 'heartbeatMs', env: 'CHAT_HEARTBEAT_MS', kind: 'int', min: 10, max: 60_000, help: 'cluster heartbeat interval (default 1000)' },
  '--dead-after-ms': { key: 'deadAfterMs', env: 'CHAT_DEAD_AFTER_MS', kind: 'int', min: 50, max: 600_000, help: 'silence after which a node is presumed down (default 3000)' },
  '--rate-limit': { key: 'rateLimitPerSec', env: 'CHAT_RATE_LIMIT', kind: 'int', min: 1, max: 1_000_000, help: 'sends per second per device (default 50)' },
  '--max-lag-ms': { key: 'maxLagMs', env: 'CHAT_MAX_LAG_MS', kind: 'int', min: 0, max: 600_000, help: 'event-loop lag past which new writes are refused with UNAVAILABLE, 0 = never (default 1000)' },
  '--max-inflight-writes': { key: 'maxInFlightWrites', env: 'CHAT_MAX_INFLIGHT_WRITES', kind: 'int', min: 0, max: 10_000_000, help: 'writes admitted and unanswered on this node past which new ones are refused with UNAVAILABLE, 0 = no bound (default 20000)' },
  '--peer-links': { key: 'peerLinks', env: 'CHAT_PEER_LINKS', kind: 'bool', help: 'node-to-node requests on a TCP (or TLS) link of their own instead of the gRPC stream, with peers that serve one: true or false (default false; see docs/PERFORMANCE.md, "Peer links")' },
  '--link-port': { key: 'linkPort', env: 'CHAT_LINK_PORT', kind: 'port', help: 'node-to-node peer link port, 0 = pick (default: the gRPC port + 1; 0 when the gRPC port is 0)' },
  '--send-concurrency': { key: 'sendConcurrency', env: 'CHAT_SEND_CONCURRENCY', kind: 'int', min: 0, max: 100_000, help: 'sessions whose sends are handled at once; the others wait their turn, 0 = no limit (default 16)' },
  '--rate-burst': { key: 'rateBurst', env: 'CHAT_RATE_BURST', kind: 'int', min: 1, max: 1_000_000, help: 'burst of sends per device (default 200)' },
  '--max-queued-bytes': { key: 'maxQueuedBytes', env: 'CHAT_MAX_QUEUED_BYTES', kind: 'int', min: 1024, max: 1 << 30, help: 'unsent bytes per socket before it is closed with 1013 (default 8 MiB)' },
  '--token-ttl-ms': { key: 'tokenTtlMs', env: 'CHAT_TOKEN_TTL_MS', kind: 'int', min: 1000, max: 10 * 365 * 86_400_000, help: 'lifetime of login tokens (default 30 days)' },
  '--log-level': { key: 'logLevel', env: 'CHAT_LOG_LEVEL', kind: 'string', help: 'pino level: fatal, error, warn, info, debug (default info)' },
  '--repair-interval-ms': { key: 'repairIntervalMs', env: 'CHAT_REPAIR_INTERVAL_MS', kind: 'int', min: 100, max: 3_600_000, help: 'how often replicas are compared and repaired (default 5000)' },
  '--compact-interval-ms': { key: 'compactIntervalMs', env: 'CHAT_COMPACT_INTERVAL_MS', kind: 'int', min: 0, max: 86_400_000, help: 'how often applied log entries are folded into the state and removed, 0 = never (default 60000)' },
  '--compact-max-lag': { key: 'compactMaxLag', env: 'CHAT_COMPACT_MAX_LAG', kind: 'int', min: 0, max: 100_000_000, help: 'log entries kept for a lagging replica before it is caught up from a snapshot (default 10000)' },
  '--write-buffer-mb': { key: 'writeBufferMb', env: 'CHAT_WRITE_BUFFER_MB', kind: 'int', min: 1, max: 1024, help: 'LevelDB memtable size in MiB; up to twice this is held in memory while one is written out (default 64)' },
  '--fsync': { key: 'fsync', env: 'CHAT_FSYNC', kind: 'fsync', help: 'never | batch | always: when a write counts as stored (default never; see docs/RELIABILITY.md)' },
  '--push-webhook': { key: 'pushWebhook', env: 'CHAT_PUSH_WEBHOOK', kind: 'url', help: 'operator webhook that receives every user\'s push notifications' },
  '--push-webhook-secret': { key: 'pushWebhookSecret', env: 'CHAT_PUSH_WEBHOOK_SECRET', kind: 'string', help: 'HMAC secret that signs --push-webhook requests (default: unsigned)' },
  '--push-https-only': { key: 'pushHttpsOnly', env: 'CHAT_PUSH_HTTPS_ONLY', kind: 'bool', help: 'accept only https push endpoints and webhook URLs: true or false (default false)' },
  '--push-concurrency': { key: 'pushConcurrency', env: 'CHAT_PUSH_CONCURRENCY', kind: 'int', min: 1, max: 4096, help: 'push requests in flight per node (default 64)' },
  '--push-queue-max': { key: 'pushQueueMax', env: 'CHAT_PUSH_QUEUE_MAX', kind: 'int', min: 1, max: 10_000_000, help: 'notifications a node holds before it drops new ones (default 50000)' },
  '--push-retry-base-ms': { key: 'pushRetryBaseMs', env: 'CHAT_PUSH_RETRY_BASE_MS', kind: 'int', min: 1, max: 60_000, help: 'first push retry delay before jitter, doubling after (default 1000)' },
  '--push-retry-max-ms': { key: 'pushRetryMaxMs', env: 'CHAT_PUSH_RETRY_MAX_MS', kind: 'int', min: 1, max: 60_000, help: 'longest pause between push retries (default 60000)' },
  '--push-give-up-ms': { key: 'pushGiveUpMs', env: 'CHAT_PUSH_GIVE_UP_MS', kind: 'int', min: 1, max: 3_600_000, help: 'push retries end this long after the first message (default 3600000)' },
  '--push-timeout-ms': { key: 'pushTimeoutMs', env: 'CHAT_PUSH_TIMEOUT_MS', kind: 'int', min: 100, max: 120_000, help: 'timeout of one push request (default 10000)' },
  '--push-coalesce-ms': { key: 'pushCoalesceMs', env: 'CHAT_PUSH_COALESCE_MS', kind: 'int', min: 0, max: 2000, help: 'messages this close to a notification\'s first are folded into it (default 2000)' },
  '--push-ttl-s': { key: 'pushTtlS', env: 'CHAT_PUSH_TTL_S', kind: 'int', min: 0, max: 2_419_200, help: 'Web Push TTL: seconds a push service keeps a notification for an offline browser (default 86400)' },
  '--vapid-public-key': { key: 'vapidPublicKey', env: 'CHAT_VAPID_PUBLIC_KEY', kind: 'string', help: 'VAPID public key, base64url (with --vapid-private-key)' },
  '--vapid-private-key': { key: 'vapidPrivateKey', env: 'CHAT_VAPID_PRIVATE_KEY', kind: 'string', help: 'VAPID private key, base64url (default: generated, see docs/PUSH.md)' },
  '--vapid-keys-file': { key: 'vapidKeysFile', env: 'CHAT_VAPID_KEYS_FILE', kind: 'string', help: 'JSON file {publicKey, privateKey} (npx web-push generate-vapid-keys --json)' },
  '--vapid-subject': { key: 'vapidSubject', env: 'CHAT_VAPID_SUBJECT', kind: 'string', help: 'VAPID contact, mailto: or https: URL (default mailto:postmaster@chat.invalid)' },
  '--admin-token': { key: 'adminToken', env: 'CHAT_ADMIN_TOKEN', kind: 'string', help: 'bearer token for /v1/internal/* (unset: they answer 404)' },
  '--max-devices': { key: 'maxDevices', env: 'CHAT_MAX_DEVICES', kind: 'int', min: 1, max: 10_000, help: 'open sockets per user; one more is closed with 4429 (default 20)' },
  '--auth-rate-limit': { key: 'authRatePerMin', env: 'CHAT_AUTH_RATE_LIMIT', kind: 'int', min: 1, max: 1_000_000, help: 'sign-ups + logins per client address per minute (default 60)' },
  '--auth-rate-burst': { key: 'authBurst', env: 'CHAT_AUTH_RATE_BURST', kind: 'int', min: 1, max: 1_000_000, help: 'burst of sign-ups + logins per client address (default 30)' },
  '--auth-allow': { key: 'authAllow', env: 'CHAT_AUTH_ALLOW', kind: 'list', help: 'addresses/CIDRs exempt from per-address limits (default 127.0.0.0/8,::1)' },
  '--hash-concurrency': { key: 'hashConcurrency', env: 'CHAT_HASH_CONCURRENCY', kind: 'int', min: 1, max: 64, help: 'password hashes computed at once, each on its own low-priority thread (default 2)' },
  '--hash-queue': { key: 'hashQueue', env: 'CHAT_HASH_QUEUE', kind: 'int', min: 0, max: 10_000, help: 'logins waiting for a hash before more are refused with 503 (default 32)' },
  '--http-request-timeout-ms': { key: 'httpRequestTimeoutMs', env: 'CHAT_HTTP_REQUEST_TIMEOUT_MS', kind: 'int', min: 100, max: 3_600_000, help: 'time to receive a whole HTTP request (default 30000)' },
  '--http-headers-timeout-ms': { key: 'httpHeadersTimeoutMs', env: 'CHAT_HTTP_HEADERS_TIMEOUT_MS', kind: 'int', min: 100, max: 3_600_000, help: 'time to receive HTTP request headers (default 10000)' },
  '--http-keepalive-timeout-ms': { key: 'httpKeepAliveTimeoutMs', env: 'CHAT_HTTP_KEEPALIVE_TIMEOUT_MS', kind: 'int', min: 100, max: 3_600_000, help: 'idle time before a keep-alive connection is closed (default 5000)' },
  '--tls-ca': { key: 'tlsCa', env: 'CHAT_TLS_CA', kind: 'file-path', help: 'CA certificate (PEM) of the cluster: mutual TLS between nodes' },
  '--tls-cert': { key: 'tlsCert', env: 'CHAT_TLS_CERT', kind: 'file-path', help: 'this node\'s certificate (PEM), signed by --tls-ca' },
  '--tls-key': { key: 'tlsKey', env: 'CHAT_TLS_KEY', kind: 'file-path', help: 'this node\'s private key (PEM)' },
  '--http-tls-cert': { key: 'httpTlsCert', env: 'CHAT_HTTP_TLS_CERT', kind: 'file-path', help: 'certificate (PEM) for HTTPS/WSS on --port' },
  '--http-tls-key': { key: 'httpTlsKey', env: 'CHAT_HTTP_TLS_KEY', kind: 'file-path', help: 'private key (PEM) for HTTPS/WSS on --port' },
  '--nats-user': { key: 'natsUser', env: 'CHAT_NATS_USER', kind: 'string', help: 'NATS user name (with --nats-pass)' },
  '--nats-pass': { key: 'natsPass', env: 'CHAT_NATS_PASS', kind: 'string', help: 'NATS password' },
  '--nats-token': { key: 'natsToken', env: 'CHAT_NATS_TOKEN', kind: 'string', help: 'NATS authentication token' },
  '--nats-creds': { key: 'natsCreds', env: 'CHAT_NATS_CREDS', kind: 'file-path', help: 'NATS credentials file (JWT + NKey seed)' },
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

function parseValue(flag: string, spec: OptionSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
      if (raw === '') throw new ConfigError(`${flag} needs a value`)
      return raw
    case 'port':
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new ConfigError(`${flag} must be a whole number, got "${raw}"`)
      const n = Number(raw)
      const [min, max] = spec.kind === 'port' ? [0, 65535] : [spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER]
      if (n < min || n > max) throw new ConfigError(`${flag} must be between ${min} and ${max}, got ${raw}`)
      return n
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter(Boolean)
      if (items.length === 0) throw new ConfigError(`${flag} needs at least one value`)
      return items
    }
    case 'fsync':
      if (!(FSYNC_MODES as readonly string[]).includes(raw)) throw new ConfigError(`${flag} must be one of ${FSYNC_MODES.join(', ')}, got "${raw}"`)
      return raw
    case 'bool':
      if (raw === 'true' || raw === '1') return true
      if (raw === 'false' || raw === '0') return false
      throw new ConfigError(`${flag} must be true or false, got "${raw}"`)
    case 'file': {
      // The value is the file's content (a secret that must not appear on a command line).
      let text: string
      try {
        text = readFileSync(raw, 'utf8')
      } catch (err) {
        throw new ConfigError(`${flag}: cannot read ${raw}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
      }
      const value = text.replace(/\r?\n$/, '')
      if (value === '') throw new ConfigError(`${flag}: ${raw} is empty`)
      return value
    }
    case 'file-path':
      if (raw === '') throw new ConfigError(`${flag} needs a value`)
      try {
        readFileSync(raw)
      } catch (err) {
        throw new ConfigError(`${flag}: cannot read ${raw}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
      }
      return raw
    case 'url':
      try {
        return new URL(raw).toString()
      } catch {
        throw new ConfigError(`${flag} must be a URL, got "${raw}"`)
      }
  }
}

/** Parses argv (without node and script) and env into a Config. Flags win over env. */
export function parseConfig(argv: readonly string[], env: Record<string, string | undefined> = {}): Config {
  const given: Partial<Record<keyof Config, unknown>> = {}
  for (const [, spec] of Object.entries(OPTIONS)) {
    const raw = env[spec.env]
    if (raw !== undefined && raw !== '') given[spec.key] = parseValue(`${spec.env}`, spec, raw)
  }
  const flagsSeen = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const spec = OPTIONS[flag]
    if (!spec) throw new ConfigError(`unknown option ${JSON.stringify(arg)} (see --help)`)
    let raw: string | undefined
    if (eq > 0 && arg.startsWith('--')) raw = arg.slice(eq + 1)
    else {
      raw = argv[i + 1]
      if (raw === undefined || (raw.startsWith('--') && raw.length > 2)) throw new ConfigError(`${flag} needs a value`)
      i++
    }
    given[spec.key] = parseValue(flag, spec, raw)
    flagsSeen.add(flag)
  }
  if (flagsSeen.has('--secret') && flagsSeen.has('--secret-file')) throw new ConfigError('give --secret or --secret-file, not both')

  const port = (given.port as number | undefined) ?? 8080
  const id = (given.id as string | undefined) ?? `${hostname()}-${port}`
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new ConfigError(`--id must be 1..64 chars of [A-Za-z0-9_.-], got "${id}"`)
  const nats = (given.nats as string[] | undefined) ?? []
  const secret = (given.secret as string | undefined) ?? null
  if (nats.length > 0 && !secret) throw new ConfigError('--secret (or CHAT_SECRET) is required with --nats: every node must sign tokens alike')
  if (secret !== null && secret.length < 16) throw new ConfigError('--secret must be at least 16 characters')
  const logLevel = (given.logLevel as string | undefined) ?? 'info'
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}`)
  const cluster = (given.cluster as string | undefined) ?? 'chat'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cluster)) throw new ConfigError('--cluster must be 1..64 chars of [A-Za-z0-9_-]')
  if ((given.vapidPublicKey === undefined) !== (given.vapidPrivateKey === undefined)) throw new ConfigError('--vapid-public-key and --vapid-private-key go together')
  const vapidSubject = (given.vapidSubject as string | undefined) ?? 'mailto:postmaster@chat.invalid'
  if (!/^(mailto:|https:\/\/)\S+$/.test(vapidSubject)) throw new ConfigError('--vapid-subject must be a mailto: or https: URL')
  const pushRetryBaseMs = (given.pushRetryBaseMs as number | undefined) ?? 1000
  const pushRetryMaxMs = (given.pushRetryMaxMs as number | undefined) ?? 60_000
  if (pushRetryBaseMs > pushRetryMaxMs) throw new ConfigError('--push-retry-base-ms may not exceed --push-retry-max-ms')
  const str = (k: keyof Config) => (given[k] as string | undefined) ?? null
  const tls = [str('tlsCa'), str('tlsCert'), str('tlsKey')]
  if (tls.some((v) => v !== null) && tls.some((v) => v === null)) throw new ConfigError('--tls-ca, --tls-cert and --tls-key go together')
  if ((str('httpTlsCert') === null) !== (str('httpTlsKey') === null)) throw new ConfigError('--http-tls-cert and --http-tls-key go together')
  if ((str('natsUser') === null) !== (str('natsPass') === null)) throw new ConfigError('--nats-user and --nats-pass go together')
  if ([str('natsUser'), str('natsToken'), str('natsCreds')].filter((v) => v !== null).length > 1) {
    throw new ConfigError('give one of --nats-user/--nats-pass, --nats-token, --nats-creds')
  }
  const adminToken = str('adminToken')
  if (adminToken !== null && adminToken.length < 16) throw new ConfigError('--admin-token must be at least 16 characters')
  const authAllow = (given.authAllow as string[] | undefined) ?? ['127.0.0.0/8', '::1']
  for (const a of authAllow) if (!isAddressOrCidr(a)) throw new ConfigError(`--auth-allow: "${a}" is not an address or CIDR range`)

  return {
    id,
    host: (given.host as string | undefined) ?? '127.0.0.1',
    port,
    grpcPort: (given.grpcPort as number | undefined) ?? 9090,
    dataDir: (given.dataDir as string | undefined) ?? join('data', id),
    nats,
    cluster,
    replicas: (given.replicas as number | undefined) ?? 3,
    secret,
    presenceTimeoutMs: (given.presenceTimeoutMs as number | undefined) ?? 15_000,
    maxGroupSize: (given.maxGroupSize as number | undefined) ?? 100,
    region: (given.region as string | undefined) ?? null,
    passivateAfterMs: (given.passivateAfterMs as number | undefined) ?? 60_000,
    heartbeatMs: (given.heartbeatMs as number | undefined) ?? 1000,
    deadAfterMs: (given.deadAfterMs as number | undefined) ?? 3000,
    rateLimitPerSec: (given.rateLimitPerSec as number | undefined) ?? 50,
    rateBurst: (given.rateBurst as number | undefined) ?? 200,
    maxLagMs: (given.maxLagMs as number | undefined) ?? 1000,
    maxInFlightWrites: (given.maxInFlightWrites as number | undefined) ?? 20_000,
    sendConcurrency: (given.sendConcurrency as number | undefined) ?? 16,
    peerLinks: (given.peerLinks as boolean | undefined) ?? false,
    linkPort: (given.linkPort as number | undefined) ?? null,
    maxQueuedBytes: (given.maxQueuedBytes as number | undefined) ?? 8 * 1024 * 1024,
    tokenTtlMs: (given.tokenTtlMs as number | undefined) ?? 30 * 86_400_000,
    logLevel,
    pushWebhook: (given.pushWebhook as string | undefined) ?? null,
    repairIntervalMs: (given.repairIntervalMs as number | undefined) ?? 5000,
    compactIntervalMs: (given.compactIntervalMs as number | undefined) ?? 60_000,
    compactMaxLag: (given.compactMaxLag as number | undefined) ?? 10_000,
    writeBufferMb: (given.writeBufferMb as number | undefined) ?? DEFAULT_WRITE_BUFFER_MB,
    fsync: (given.fsync as FsyncMode | undefined) ?? 'never',
    pushWebhookSecret: (given.pushWebhookSecret as string | undefined) ?? null,
    pushHttpsOnly: (given.pushHttpsOnly as boolean | undefined) ?? false,
    pushConcurrency: (given.pushConcurrency as number | undefined) ?? 64,
    pushQueueMax: (given.pushQueueMax as number | undefined) ?? 50_000,
    pushRetryBaseMs,
    pushRetryMaxMs,
    pushGiveUpMs: (given.pushGiveUpMs as number | undefined) ?? 3_600_000,
    pushTimeoutMs: (given.pushTimeoutMs as number | undefined) ?? 10_000,
    pushCoalesceMs: (given.pushCoalesceMs as number | undefined) ?? 2000,
    pushTtlS: (given.pushTtlS as number | undefined) ?? 86_400,
    vapidPublicKey: (given.vapidPublicKey as string | undefined) ?? null,
    vapidPrivateKey: (given.vapidPrivateKey as string | undefined) ?? null,
    vapidKeysFile: (given.vapidKeysFile as string | undefined) ?? null,
    vapidSubject,
    adminToken,
    maxDevices: (given.maxDevices as number | undefined) ?? 20,
    authRatePerMin: (given.authRatePerMin as number | undefined) ?? 60,
    authBurst: (given.authBurst as number | undefined) ?? 30,
    authAllow,
    hashConcurrency: (given.hashConcurrency as number | undefined) ?? 2,
    hashQueue: (given.hashQueue as number | undefined) ?? 32,
    httpRequestTimeoutMs: (given.httpRequestTimeoutMs as number | undefined) ?? 30_000,
    httpHeadersTimeoutMs: (given.httpHeadersTimeoutMs as number | undefined) ?? 10_000,
    httpKeepAliveTimeoutMs: (given.httpKeepAliveTimeoutMs as number | undefined) ?? 5000,
    tlsCa: tls[0]!, tlsCert: tls[1]!, tlsKey: tls[2]!,
    httpTlsCert: str('httpTlsCert'),
    httpTlsKey: str('httpTlsKey'),
    natsUser: str('natsUser'),
    natsPass: str('natsPass'),
    natsToken: str('natsToken'),
    natsCreds: str('natsCreds'),
  }
}

/** `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`. */
function isAddressOrCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/')
  if (extra !== undefined || !address) return false
  const family = isIP(address)
  if (family === 0) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

export function usage(): string {
  const lines = Object.entries(OPTIONS).map(([flag, s]) => `  ${flag.padEnd(22)} ${s.env.padEnd(26)} ${s.help}`)
  return [
    'usage: chat-node [options]              run a node (standalone without --nats)',
    '       chat-node dev-certs --out DIR --nodes ID[,ID...] [--hosts ADDR[,ADDR...]]   a development CA and node certificates',
    '       chat-node members --nats URL [--cluster NAME]          list ring members and liveness',
    '       chat-node remove NODE_ID --nats URL [--cluster NAME]   remove a dead member from the ring',
    '       chat-node backup --data-dir D --out FILE              consistent backup of a node (running or not)',
    '       chat-node restore --data-dir D --in FILE              a new data dir from a backup (docs/OPERATIONS.md)',
    '       chat-node compact --data-dir D                        compact logs and LevelDB now',
    '       chat-node status --data-dir D                         the running node\'s release, protocol, fsync, ring, storage',
    '',
    'options (flag, environment variable, meaning):',
    ...lines,
  ].join('\n')
}

/**
 * The port the node's peer link is served on: `--link-port`, else beside the gRPC port (picked
 * when that one is; a node falls back to picking one if the port beside is taken).
 */
export function linkPortOf(config: Pick<Config, 'linkPort' | 'grpcPort'>): number {
  if (config.linkPort !== null) return config.linkPort
  return config.grpcPort === 0 || config.grpcPort === 65535 ? 0 : config.grpcPort + 1
}
