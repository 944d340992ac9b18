/**
 * The binary's flags end to end: a bad value is one line on stderr and exit code 2 before anything
 * starts (no data dir is created), --help prints every flag, and a node configured through
 * environment variables alone starts and obeys them, with a flag winning over its variable.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BIN, api, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

interface Run { code: number | null; stdout: string; stderr: string }

const scratch = mkdtempSync(join(tmpdir(), 'chat-flags-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

/** Every process this file starts, killed by pid at the end whatever happens. */
const started = new Set<ChildProcess>()
t.teardown(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
})

function launch(args: string[], env: Record<string, string> = {}, cwd = scratch): { proc: ChildProcess; out: { stdout: string; stderr: string } } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHAT_')))
  // `env -u NODE_OPTIONS` keeps the test runner's loader hooks out of the binary (exec, same pid).
  const proc = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  started.add(proc)
  const out = { stdout: '', stderr: '' }
  proc.stdout!.on('data', (c: Buffer) => (out.stdout += c.toString()))
  proc.stderr!.on('data', (c: Buffer) => (out.stderr += c.toString()))
  return { proc, out }
}

/** Runs the binary to its end; SIGKILL after `timeoutMs` (a bad flag must exit long before). */
function run(args: string[], env: Record<string, string> = {}, cwd = scratch, timeoutMs = 30_000): Promise<Run> {
  const { proc, out } = launch(args, env, cwd)
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) => proc.once('exit', (code) => {
    clearTimeout(timer)
    resolve({ code, ...out })
  }))
}

t.test('bad flags and variables: one line on stderr, exit 2, nothing created', async (t) => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['port out of range', ['--port', '70000'], {}, /--port/],
    ['unknown flag', ['--bogus', '1'], {}, /unknown option "--bogus"/],
    ['non-numeric timeout', ['--presence-timeout-ms', 'soon'], {}, /--presence-timeout-ms/],
    ['group size too small', ['--max-group-size', '1'], {}, /--max-group-size/],
    ['a flag without its value', ['--port'], {}, /--port needs a value/],
    ['--nats without --secret', ['--nats', 'nats://127.0.0.1:4222'], {}, /--secret/],
    ['env port not a number', [], { CHAT_PORT: 'abc' }, /CHAT_PORT/],
    ['env timeout not a number', [], { CHAT_PRESENCE_TIMEOUT_MS: 'fast' }, /CHAT_PRESENCE_TIMEOUT_MS/],
    ['env group size out of range', [], { CHAT_MAX_GROUP_SIZE: '0' }, /CHAT_MAX_GROUP_SIZE/],
  ]
  const results = await Promise.all(cases.map(async ([what, args, env], i) => {
    const cwd = mkdtempSync(join(scratch, 'cwd-'))
    const dataDir = join(scratch, `never-${i}`)
    return { cwd, dataDir, result: await run(['--data-dir', dataDir, '--grpc-port', '0', ...args], env, cwd) }
  }))
  cases.forEach(([what, , , message], i) => {
    const { cwd, dataDir, result } = results[i]!
    t.equal(result.code, 2, `${what}: exit code 2`)
    const lines = result.stderr.split('\n').filter(Boolean)
    t.equal(lines.length, 1, `${what}: one line on stderr (${JSON.stringify(result.stderr)})`)
    t.match(lines[0], /^chat-node: /, `${what}: says who speaks`)
    t.match(lines[0], message, `${what}: names the problem`)
    t.equal(result.stdout, '', `${what}: nothing on stdout (no log: nothing started)`)
    t.notOk(existsSync(dataDir), `${what}: no data dir`)
    t.same(readdirSync(cwd), [], `${what}: nothing created in the working dir`)
  })
})

t.test('--help prints every flag and its variable and exits 0', async (t) => {
  const result = await run(['--help'])
  t.equal(result.code, 0)
  for (const [flag, env] of [['--id', 'CHAT_NODE_ID'], ['--port', 'CHAT_PORT'], ['--grpc-port', 'CHAT_GRPC_PORT'], ['--data-dir', 'CHAT_DATA_DIR'], ['--nats', 'CHAT_NATS_URL'], ['--cluster', 'CHAT_CLUSTER'], ['--replicas', 'CHAT_REPLICAS'], ['--secret', 'CHAT_SECRET'], ['--presence-timeout-ms', 'CHAT_PRESENCE_TIMEOUT_MS'], ['--max-group-size', 'CHAT_MAX_GROUP_SIZE'], ['--host', 'CHAT_HOST']]) {
    t.ok(result.stdout.includes(flag) && result.stdout.includes(env), `${flag} ${env}`)
  }
})

t.test('a node configured by environment variables; a flag wins over its variable', async (t) => {
  const dataDir = join(scratch, 'env-node')
  const env = {
    CHAT_NODE_ID: 'from-env', CHAT_HOST: '127.0.0.1', CHAT_PORT: '0', CHAT_GRPC_PORT: '0', CHAT_DATA_DIR: dataDir,
    CHAT_MAX_GROUP_SIZE: '2', CHAT_SECRET: 'env-secret-0123456789abcdef', CHAT_LOG_LEVEL: 'info',
  }
  const { proc, out } = launch(['--id', 'from-flag'], env)
  const ready = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${out.stderr}${out.stdout}`)
    const line = out.stdout.split('\n').find((l) => l.includes('"msg":"ready"'))
    return line ? JSON.parse(line) : null
  }, { timeout: 20_000, what: 'ready' })
  t.match(ready.http, /^http:\/\/127\.0\.0\.1:\d+$/, 'the ready line gives the chosen port')
  t.not(ready.http, 'http://127.0.0.1:0')
  t.equal(ready.nodeId, 'from-flag', 'the flag won over CHAT_NODE_ID')
  t.same(await (await fetch(`${ready.http}/healthz`)).json(), { status: 'ok', nodeId: 'from-flag' })
  t.ok(existsSync(dataDir), 'CHAT_DATA_DIR holds the data')

  const alice = await login(ready.http, 'alice')
  await login(ready.http, 'bob')
  await login(ready.http, 'carol')
  t.equal((await api(ready.http, 'POST', '/v1/groups', { name: 'two', members: ['bob'] }, alice)).status, 201)
  t.equal((await api(ready.http, 'POST', '/v1/groups', { name: 'three', members: ['bob', 'carol'] }, alice)).status, 422, 'CHAT_MAX_GROUP_SIZE=2 is obeyed')

  proc.kill('SIGTERM')
  const code = await new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', (c) => r(c))))
  t.equal(code, 0, 'SIGTERM: exit 0')
})
