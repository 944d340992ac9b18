/**
 * Flags and environment (PROTOCOL.md section 1): every flag and its env variable parse, flags win
 * over env, defaults are the contract's, and each bad value is a one-line ConfigError naming the
 * flag (the binary turns it into exit code 2; test/http/flags.test.ts checks that end to end).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type Config, ConfigError, OPTIONS, linkPortOf, parseConfig, usage } from '../../src/config.js'

/** The contract's table: flag, env variable. */
const CONTRACT: Array<[string, string]> = [
  ['--id', 'CHAT_NODE_ID'],
  ['--host', 'CHAT_HOST'],
  ['--port', 'CHAT_PORT'],
  ['--grpc-port', 'CHAT_GRPC_PORT'],
  ['--data-dir', 'CHAT_DATA_DIR'],
  ['--nats', 'CHAT_NATS_URL'],
  ['--cluster', 'CHAT_CLUSTER'],
  ['--replicas', 'CHAT_REPLICAS'],
  ['--secret', 'CHAT_SECRET'],
  ['--presence-timeout-ms', 'CHAT_PRESENCE_TIMEOUT_MS'],
  ['--max-group-size', 'CHAT_MAX_GROUP_SIZE'],
]

/** Files for the options that name one (certificates, keys, secrets). */
const FILES = mkdtempSync(join(tmpdir(), 'chat-config-'))
t.teardown(() => rmSync(FILES, { recursive: true, force: true }))
const PEM = join(FILES, 'some.pem')
writeFileSync(PEM, '-----BEGIN CERTIFICATE-----\n')
const SECRET_FILE = join(FILES, 'secret')
writeFileSync(SECRET_FILE, 'a-secret-from-a-file-0123\n')

/** Options that are only accepted together with others, and those others. */
const COMPANIONS: Record<string, string[]> = {
  '--tls-ca': ['--tls-cert', PEM, '--tls-key', PEM],
  '--tls-cert': ['--tls-ca', PEM, '--tls-key', PEM],
  '--tls-key': ['--tls-ca', PEM, '--tls-cert', PEM],
  '--http-tls-cert': ['--http-tls-key', PEM],
  '--http-tls-key': ['--http-tls-cert', PEM],
  '--nats-user': ['--nats-pass', 'pw'],
  '--nats-pass': ['--nats-user', 'me'],
  '--vapid-public-key': ['--vapid-private-key', 'x'],
  '--vapid-private-key': ['--vapid-public-key', 'x'],
}

/** A valid raw value for every option, and what it parses to. */
const SAMPLES: Record<string, [string, unknown]> = {
  '--id': ['node-7', 'node-7'],
  '--host': ['0.0.0.0', '0.0.0.0'],
  '--port': ['8123', 8123],
  '--grpc-port': ['0', 0],
  '--data-dir': ['/tmp/chat-x', '/tmp/chat-x'],
  '--nats': ['nats://a:4222, nats://b:4222', ['nats://a:4222', 'nats://b:4222']],
  '--cluster': ['blue', 'blue'],
  '--replicas': ['5', 5],
  '--secret': ['0123456789abcdef-secret', '0123456789abcdef-secret'],
  '--presence-timeout-ms': ['2500', 2500],
  '--max-group-size': ['3', 3],
  '--region': ['eu-west', 'eu-west'],
  '--passivate-after-ms': ['1000', 1000],
  '--heartbeat-ms': ['250', 250],
  '--dead-after-ms': ['900', 900],
  '--rate-limit': ['10', 10],
  '--rate-burst': ['20', 20],
  '--max-queued-bytes': ['65536', 65536],
  '--token-ttl-ms': ['60000', 60000],
  '--log-level': ['warn', 'warn'],
  '--repair-interval-ms': ['750', 750],
  '--push-webhook': ['http://127.0.0.1:9/push', 'http://127.0.0.1:9/push'],
  '--compact-interval-ms': ['0', 0],
  '--compact-max-lag': ['250', 250],
  '--write-buffer-mb': ['8', 8],
  '--fsync': ['batch', 'batch'],
  '--push-webhook-secret': ['hook-secret', 'hook-secret'],
  '--push-https-only': ['true', true],
  '--push-concurrency': ['8', 8],
  '--push-queue-max': ['500', 500],
  '--push-retry-base-ms': ['50', 50],
  '--push-retry-max-ms': ['60000', 60000],
  '--push-give-up-ms': ['5000', 5000],
  '--push-timeout-ms': ['2000', 2000],
  '--push-coalesce-ms': ['0', 0],
  '--push-ttl-s': ['3600', 3600],
  '--vapid-public-key': ['BPub', 'BPub'],
  '--vapid-private-key': ['priv', 'priv'],
  '--vapid-keys-file': ['/etc/chat/vapid.json', '/etc/chat/vapid.json'],
  '--vapid-subject': ['https://chat.example/contact', 'https://chat.example/contact'],
  '--secret-file': [SECRET_FILE, 'a-secret-from-a-file-0123'],
  '--admin-token': ['an-admin-token-0123456789', 'an-admin-token-0123456789'],
  '--max-devices': ['5', 5],
  '--max-lag-ms': ['0', 0],
  '--max-inflight-writes': ['5000', 5000],
  '--send-concurrency': ['0', 0],
  '--peer-links': ['true', true],
  '--link-port': ['7001', 7001],
  '--auth-rate-limit': ['120', 120],
  '--auth-rate-burst': ['7', 7],
  '--auth-allow': ['10.0.0.0/8, 192.0.2.7, fd00::/8', ['10.0.0.0/8', '192.0.2.7', 'fd00::/8']],
  '--hash-concurrency': ['2', 2],
  '--hash-queue': ['0', 0],
  '--http-request-timeout-ms': ['5000', 5000],
  '--http-headers-timeout-ms': ['4000', 4000],
  '--http-keepalive-timeout-ms': ['3000', 3000],
  '--tls-ca': [PEM, PEM],
  '--tls-cert': [PEM, PEM],
  '--tls-key': [PEM, PEM],
  '--http-tls-cert': [PEM, PEM],
  '--http-tls-key': [PEM, PEM],
  '--nats-user': ['chat', 'chat'],
  '--nats-pass': ['s3cret', 's3cret'],
  '--nats-token': ['tok-123', 'tok-123'],
  '--nats-creds': [PEM, PEM],
}

t.test('every flag and env variable of the contract exists', async (t) => {
  for (const [flag, env] of CONTRACT) t.equal(OPTIONS[flag]?.env, env, `${flag} reads ${env}`)
  // A new flag fails here until it gets a sample below, so that every flag is tried.
  t.same(Object.keys(SAMPLES).sort(), Object.keys(OPTIONS).sort(), 'this test has a sample for every option')
  const help = usage()
  for (const [flag, spec] of Object.entries(OPTIONS)) {
    t.ok(help.includes(flag) && help.includes(spec.env), `--help lists ${flag} and ${spec.env}`)
  }
})

t.test('defaults are the contract\'s', async (t) => {
  const c = parseConfig([], {})
  t.match(c, {
    id: `${hostname()}-8080`, host: '127.0.0.1', port: 8080, grpcPort: 9090, nats: [], cluster: 'chat',
    replicas: 3, secret: null, presenceTimeoutMs: 15_000, maxGroupSize: 100, tokenTtlMs: 30 * 86_400_000, logLevel: 'info',
    fsync: 'never', compactIntervalMs: 60_000, compactMaxLag: 10_000, writeBufferMb: 64, peerLinks: false, linkPort: null,
    adminToken: null, maxDevices: 20, authAllow: ['127.0.0.0/8', '::1'], tlsCa: null, httpTlsCert: null, natsUser: null,
  })
  t.equal(c.dataDir, join('data', c.id), 'data dir defaults to ./data/<id>')
  t.equal(linkPortOf(c), 9091, 'the peer link beside the gRPC port')
  t.equal(linkPortOf(parseConfig(['--grpc-port', '0'])), 0, 'picked when the gRPC port is')
  t.equal(linkPortOf(parseConfig(['--link-port', '7001'])), 7001)
  t.equal(parseConfig(['--id', 'x1']).dataDir, join('data', 'x1'))
})

t.test('every flag parses, as `--flag value` and `--flag=value`', async (t) => {
  // --nats needs --secret; give it everywhere so each flag can be tried alone.
  for (const [flag, [raw, want]] of Object.entries(SAMPLES)) {
    const key = OPTIONS[flag]!.key
    const base = [...(flag === '--secret-file' ? [] : ['--secret', '0123456789abcdef-secret']), ...(COMPANIONS[flag] ?? [])]
    t.same(parseConfig([...base, flag, raw])[key], want, `${flag} ${raw}`)
    t.same(parseConfig([...base, `${flag}=${raw}`])[key], want, `${flag}=${raw}`)
  }
})

t.test('every env variable parses', async (t) => {
  for (const [flag, [raw, want]] of Object.entries(SAMPLES)) {
    const spec = OPTIONS[flag]!
    const env = { ...(flag === '--secret-file' ? {} : { CHAT_SECRET: '0123456789abcdef-secret' }), [spec.env]: raw }
    t.same(parseConfig(COMPANIONS[flag] ?? [], env)[spec.key], want, `${spec.env}=${raw}`)
  }
  t.equal(parseConfig([], { CHAT_PORT: '' }).port, 8080, 'an empty variable counts as unset')
})

t.test('flags win over env', async (t) => {
  const env = { CHAT_PORT: '1111', CHAT_MAX_GROUP_SIZE: '50', CHAT_NODE_ID: 'from-env', CHAT_HOST: '10.0.0.1' }
  const c: Config = parseConfig(['--port', '2222', '--max-group-size=7', '--id', 'from-flag'], env)
  t.equal(c.port, 2222)
  t.equal(c.maxGroupSize, 7)
  t.equal(c.id, 'from-flag')
  t.equal(c.host, '10.0.0.1', 'env still applies where no flag is given')
})

t.test('bad values are one-line ConfigErrors naming the flag', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--port', '70000'], {}, /--port must be between 0 and 65535/],
    [['--port', '-1'], {}, /--port/],
    [['--port', '80.5'], {}, /--port must be a whole number/],
    [['--grpc-port', 'x'], {}, /--grpc-port/],
    [['--bogus', '1'], {}, /unknown option "--bogus"/],
    [['stray'], {}, /unknown option "stray"/],
    [['--presence-timeout-ms', 'soon'], {}, /--presence-timeout-ms must be a whole number/],
    [['--presence-timeout-ms', '5'], {}, /--presence-timeout-ms must be between/],
    [['--max-group-size', '1'], {}, /--max-group-size must be between 2/],
    [['--replicas', '0'], {}, /--replicas/],
    [['--port'], {}, /--port needs a value/],
    [['--port', '--host', 'x'], {}, /--port needs a value/],
    [['--id', 'has space'], {}, /--id must be/],
    [['--cluster', 'a.b'], {}, /--cluster must be/],
    [['--log-level', 'loud'], {}, /--log-level must be one of/],
    [['--push-webhook', 'not a url'], {}, /--push-webhook must be a URL/],
    [['--fsync', 'sometimes'], {}, /--fsync must be one of never, batch, always/],
    [[], { CHAT_FSYNC: 'yes' }, /CHAT_FSYNC must be one of/],
    [['--push-https-only', 'yes'], {}, /--push-https-only must be true or false/],
    [['--push-coalesce-ms', '5000'], {}, /--push-coalesce-ms must be between 0 and 2000/],
    [['--push-retry-max-ms', '61000'], {}, /--push-retry-max-ms must be between 1 and 60000/],
    [['--push-give-up-ms', '3600001'], {}, /--push-give-up-ms must be between/],
    [['--push-retry-base-ms', '5000', '--push-retry-max-ms', '1000'], {}, /--push-retry-base-ms may not exceed/],
    [['--vapid-public-key', 'BPub'], {}, /--vapid-public-key and --vapid-private-key go together/],
    [['--vapid-subject', 'admin@example.com'], {}, /--vapid-subject must be a mailto: or https: URL/],
    [['--nats', 'nats://127.0.0.1:4222'], {}, /--secret .* is required with --nats/],
    [['--nats', ' , '], {}, /--nats needs at least one value/],
    [['--secret', 'short'], {}, /--secret must be at least 16/],
    [['--host', ''], {}, /--host needs a value/],
    [[], { CHAT_PORT: 'abc' }, /CHAT_PORT must be a whole number/],
    [[], { CHAT_MAX_GROUP_SIZE: '1' }, /CHAT_MAX_GROUP_SIZE must be between/],
    [[], { CHAT_PRESENCE_TIMEOUT_MS: '1e3' }, /CHAT_PRESENCE_TIMEOUT_MS/],
    [[], { CHAT_NATS_URL: 'nats://127.0.0.1:4222' }, /required with --nats/],
    [['--secret', '0123456789abcdef-secret', '--secret-file', SECRET_FILE], {}, /not both/],
    [['--secret-file', join(FILES, 'missing')], {}, /--secret-file: cannot read/],
    [['--tls-ca', PEM], {}, /--tls-ca, --tls-cert and --tls-key go together/],
    [['--tls-ca', join(FILES, 'missing'), '--tls-cert', PEM, '--tls-key', PEM], {}, /--tls-ca: cannot read/],
    [['--http-tls-cert', PEM], {}, /go together/],
    [['--nats-user', 'u'], {}, /--nats-user and --nats-pass go together/],
    [['--nats-token', 't', '--nats-user', 'u', '--nats-pass', 'p'], {}, /one of/],
    [['--admin-token', 'short'], {}, /--admin-token must be at least 16/],
    [['--auth-allow', '10.0.0.0/33'], {}, /--auth-allow/],
    [['--auth-allow', 'example.com'], {}, /--auth-allow/],
    [['--max-devices', '0'], {}, /--max-devices must be between 1/],
  ]
  for (const [argv, env, message] of cases) {
    const what = `${argv.join(' ')} ${JSON.stringify(env)}`
    try {
      parseConfig(argv, env)
      t.fail(`${what} was accepted`)
    } catch (err) {
      t.ok(err instanceof ConfigError, `${what} is a ConfigError`)
      t.match((err as Error).message, message, what)
      t.notOk((err as Error).message.includes('\n'), `${what}: one line`)
    }
  }
})

