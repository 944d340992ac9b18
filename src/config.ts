/**
 * Node configuration from flags and environment (PROTOCOL.md section 1). Pure: it reads the
 * arguments and environment it is given and throws ConfigError on anything it cannot accept, so
 * the binary can print one line and exit 2 before anything starts.
 */
import { hostname } from 'node:os'
import { join } from 'node:path'
import { FSYNC_MODES, type FsyncMode } from './storage/kv.js'

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
  maxQueuedBytes: number
  tokenTtlMs: number
  logLevel: string
  pushWebhook: string | null
  repairIntervalMs: number
  /** How often applied log entries are compacted into the state; 0 never. */
  compactIntervalMs: number
  /** Log entries kept for a lagging or unreachable replica before it is caught up by snapshot. */
  compactMaxLag: number
  /** When a storage write counts as done: never (OS), batch (fsync per group commit), always (fsync per write). */
  fsync: FsyncMode
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

type Kind = 'string' | 'port' | 'int' | 'list' | 'url' | 'fsync'

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
  '--secret': { key: 'secret', env: 'CHAT_SECRET', kind: 'string', help: 'token-signing secret; required with --nats' },
  '--presence-timeout-ms': { key: 'presenceTimeoutMs', env: 'CHAT_PRESENCE_TIMEOUT_MS', kind: 'int', min: 100, max: 86_400_000, help: 'silence after which a device is offline (default 15000)' },
  '--max-group-size': { key: 'maxGroupSize', env: 'CHAT_MAX_GROUP_SIZE', kind: 'int', min: 2, max: 100_000, help: 'members per group, creator included (default 100)' },
  '--region': { key: 'region', env: 'CHAT_REGION', kind: 'string', help: 'region advertised for discovery' },
  '--passivate-after-ms': { key: 'passivateAfterMs', env: 'CHAT_PASSIVATE_AFTER_MS', kind: 'int', min: 10, max: 86_400_000, help: 'idle time before an actor is unloaded (default 60000)' },
  '--heartbeat-ms': { key: 'heartbeatMs', env: 'CHAT_HEARTBEAT_MS', kind: 'int', min: 10, max: 60_000, help: 'cluster heartbeat interval (default 1000)' },
  '--dead-after-ms': { key: 'deadAfterMs', env: 'CHAT_DEAD_AFTER_MS', kind: 'int', min: 50, max: 600_000, help: 'silence after which a node is presumed down (default 3000)' },
  '--rate-limit': { key: 'rateLimitPerSec', env: 'CHAT_RATE_LIMIT', kind: 'int', min: 1, max: 1_000_000, help: 'sends per second per device (default 50)' },
  '--rate-burst': { key: 'rateBurst', env: 'CHAT_RATE_BURST', kind: 'int', min: 1, max: 1_000_000, help: 'burst of sends per device (default 200)' },
  '--max-queued-bytes': { key: 'maxQueuedBytes', env: 'CHAT_MAX_QUEUED_BYTES', kind: 'int', min: 1024, max: 1 << 30, help: 'unsent bytes per socket before it is closed with 1013 (default 8 MiB)' },
  '--token-ttl-ms': { key: 'tokenTtlMs', env: 'CHAT_TOKEN_TTL_MS', kind: 'int', min: 1000, max: 10 * 365 * 86_400_000, help: 'lifetime of login tokens (default 30 days)' },
  '--log-level': { key: 'logLevel', env: 'CHAT_LOG_LEVEL', kind: 'string', help: 'pino level: fatal, error, warn, info, debug (default info)' },
  '--repair-interval-ms': { key: 'repairIntervalMs', env: 'CHAT_REPAIR_INTERVAL_MS', kind: 'int', min: 100, max: 3_600_000, help: 'how often replicas are compared and repaired (default 5000)' },
  '--push-webhook': { key: 'pushWebhook', env: 'CHAT_PUSH_WEBHOOK', kind: 'url', help: 'URL that receives push notifications for offline users' },
  '--compact-interval-ms': { key: 'compactIntervalMs', env: 'CHAT_COMPACT_INTERVAL_MS', kind: 'int', min: 0, max: 86_400_000, help: 'how often applied log entries are folded into the state and removed, 0 = never (default 60000)' },
  '--compact-max-lag': { key: 'compactMaxLag', env: 'CHAT_COMPACT_MAX_LAG', kind: 'int', min: 0, max: 100_000_000, help: 'log entries kept for a lagging replica before it is caught up from a snapshot (default 10000)' },
  '--fsync': { key: 'fsync', env: 'CHAT_FSYNC', kind: 'fsync', help: 'never | batch | always: when a write counts as stored (default never; see docs/RELIABILITY.md)' },
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
  for (const [flag, spec] of Object.entries(OPTIONS)) {
    const raw = env[spec.env]
    if (raw !== undefined && raw !== '') given[spec.key] = parseValue(`${spec.env}`, spec, raw)
  }
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
  }

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
    maxQueuedBytes: (given.maxQueuedBytes as number | undefined) ?? 8 * 1024 * 1024,
    tokenTtlMs: (given.tokenTtlMs as number | undefined) ?? 30 * 86_400_000,
    logLevel,
    pushWebhook: (given.pushWebhook as string | undefined) ?? null,
    repairIntervalMs: (given.repairIntervalMs as number | undefined) ?? 5000,
    compactIntervalMs: (given.compactIntervalMs as number | undefined) ?? 60_000,
    compactMaxLag: (given.compactMaxLag as number | undefined) ?? 10_000,
    fsync: (given.fsync as FsyncMode | undefined) ?? 'never',
  }
}

export function usage(): string {
  const lines = Object.entries(OPTIONS).map(([flag, s]) => `  ${flag.padEnd(22)} ${s.env.padEnd(26)} ${s.help}`)
  return [
    'usage: chat-node [options]              run a node (standalone without --nats)',
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
