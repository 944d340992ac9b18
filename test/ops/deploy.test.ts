/**
 * deploy/ is usable as shipped: the systemd units pass `systemd-analyze verify` (skipped, saying
 * so, where systemd-analyze is missing), the NATS configurations of the three-machine example
 * are valid for nats-server with the example secrets, and each machine's node settings parse as
 * the node would parse them.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parseConfig } from '../../src/config.js'
import { ROOT } from '../helpers/node-process.js'

const run = promisify(execFile)
const DEPLOY = join(ROOT, 'deploy')

async function which(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false)
}

/** KEY=value lines of an environment file. */
function envFile(path: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m) env[m[1]!] = m[2]!
  }
  return env
}

t.test('the systemd units verify', async (t) => {
  if (!(await which('systemd-analyze'))) {
    t.skip('systemd-analyze is not installed here: the units were not verified (apt-get install systemd to check them)', () => {})
    return
  }
  for (const unit of ['chat-node.service', 'nats-server.service']) {
    const path = join(DEPLOY, 'systemd', unit)
    const r = await run('systemd-analyze', ['verify', path]).then((o) => ({ code: 0, out: o.stdout + o.stderr }), (e) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }))
    // Warnings about units of the machine running the test are not ours; lines naming ours are.
    const ours = r.out.split('\n').filter((l) => l.includes(unit))
    t.equal(r.code, 0, `systemd-analyze verify ${unit} exits 0`)
    t.same(ours, [], `no complaint about ${unit}`)
  }
})

t.test('the example NATS configurations are valid', async (t) => {
  if (!(await which('nats-server'))) {
    t.skip('nats-server is not installed here: the NATS configurations were not checked', () => {})
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'chat-deploy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  copyFileSync(join(DEPLOY, 'example/nats/secrets.conf.example'), join(dir, 'secrets.conf'))
  for (const m of ['a', 'b', 'c']) {
    copyFileSync(join(DEPLOY, `example/nats/nats-${m}.conf`), join(dir, `nats-${m}.conf`))
    const r = await run('nats-server', ['-t', '-c', join(dir, `nats-${m}.conf`)]).then((o) => o.stdout + o.stderr, (e) => `FAILED ${e.stdout}${e.stderr}`)
    t.match(r, /is valid/, `nats-${m}.conf: ${r.trim()}`)
  }
})

t.test('each machine\'s node settings parse, with the example secrets and the unit\'s secret files', async (t) => {
  const unit = readFileSync(join(DEPLOY, 'systemd/chat-node.service'), 'utf8')
  // The unit hands the secret files to the node through systemd's credentials directory (%d):
  // stand-ins for them in a temp dir, and the unit's Environment= lines pointed there.
  const credentials = mkdtempSync(join(tmpdir(), 'chat-credentials-'))
  t.teardown(() => rmSync(credentials, { recursive: true, force: true }))
  const loaded = [...unit.matchAll(/^LoadCredential=([^:\n]+):(\S+)$/gm)].map((m) => ({ name: m[1]!, from: m[2]! }))
  t.ok(loaded.length >= 5, `the unit loads the secret files as credentials (${loaded.map((l) => l.name).join(', ')})`)
  for (const { name, from } of loaded) {
    t.match(from, /^\/etc\/chat-cluster\//, `${name} comes from /etc/chat-cluster`)
    writeFileSync(join(credentials, name), name === 'cluster-secret' ? 'an-example-cluster-secret-0123456789abcdef\n' : 'stand-in\n')
  }
  const unitEnv: Record<string, string> = {}
  for (const m of unit.matchAll(/^Environment=([A-Z_][A-Z0-9_]*)=(\S+)$/gm)) unitEnv[m[1]!] = m[2]!.replace('%d', credentials)
  const secrets = envFile(join(DEPLOY, 'example/chat/secrets.env.example'))
  const configs = ['a', 'b', 'c'].map((m) => parseConfig([], { ...envFile(join(DEPLOY, `example/chat/node-${m}.env`)), ...secrets, ...unitEnv }))
  t.same(configs.map((c) => c.id), ['chat-a', 'chat-b', 'chat-c'], 'distinct node ids')
  t.same(new Set(configs.map((c) => c.region)).size, 3, 'one region (zone) per machine')
  for (const c of configs) {
    t.equal(c.nats.length, 3, `${c.id} knows all three NATS servers`)
    t.equal(c.replicas, 3, `${c.id}: three replicas, one per machine`)
    t.equal(c.fsync, 'batch', `${c.id} syncs every group commit`)
    t.equal(c.dataDir, '/var/lib/chat-cluster', `${c.id} keeps its data where the unit's StateDirectory is`)
    t.equal(c.secret, 'an-example-cluster-secret-0123456789abcdef', `${c.id} reads the cluster secret from its file`)
    t.ok(c.tlsCa && c.tlsCert && c.tlsKey, `${c.id} talks to its peers over mutual TLS`)
    t.ok(c.vapidKeysFile, `${c.id} uses the cluster's own Web Push key pair, kept with the secrets`)
    t.ok(c.natsUser && c.natsPass && c.adminToken, `${c.id} has NATS credentials and an admin token`)
  }
  t.match(unit, /EnvironmentFile=\/etc\/chat-cluster\/secrets\.env/, 'the unit reads the other secrets from their file')
  t.notMatch(unit, /CHAT_SECRET=|CHAT_NATS_PASS=|CHAT_ADMIN_TOKEN=/, 'and holds none itself')
  for (const m of ['a', 'b', 'c']) {
    t.notMatch(readFileSync(join(DEPLOY, `example/chat/node-${m}.env`), 'utf8'), /SECRET|PASS|TOKEN/, `node-${m}.env holds no secret`)
  }
})
