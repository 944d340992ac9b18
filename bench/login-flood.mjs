// Ack latency of one user's messages while 64 clients hammer the node with wrong-password logins
// (issue: hashing on the thread pool LevelDB needs used to delay other users' chat). Measures the
// same user's send->ack latency with no logins running, then during the flood, on a standalone
// node built from `--root DIR` (default: this checkout), and prints both.
//
//   node bench/login-flood.mjs [--root DIR] [--seconds 15] [--parallel 64]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import WebSocket from 'ws'

const args = process.argv.slice(2)
const opt = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback)
const ROOT = resolve(opt('--root', join(import.meta.dirname, '..')))
const SECONDS = Number(opt('--seconds', '15'))
const PARALLEL = Number(opt('--parallel', '64'))
// `--flood healthz` sends the same number of clients at GET /healthz instead: what the machine's
// own load costs the measurement, without any password hashing.
const FLOOD = opt('--flood', 'login')

const dir = mkdtempSync(join(tmpdir(), 'chat-login-flood-'))
const env = { ...process.env }
delete env.NODE_OPTIONS
const node = spawn(process.execPath, [join(ROOT, 'bin', 'chat-node'), '--port', '0', '--data-dir', join(dir, 'data'), '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
const cleanup = () => {
  if (node.exitCode === null) node.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)

const base = await new Promise((res, rej) => {
  let out = ''
  const timer = setTimeout(() => rej(new Error('node not ready')), 30_000)
  node.stdout.on('data', (c) => {
    out += c
    const m = /"http":"([^"]+)"/.exec(out)
    if (m) { clearTimeout(timer); res(m[1]) }
  })
})

async function post(path, body) {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: r.status, body: await r.json().catch(() => null) }
}

await post('/v1/users', { username: 'sender', password: 'password-123' })
await post('/v1/users', { username: 'reader', password: 'password-123' })
const token = (await post('/v1/sessions', { username: 'sender', password: 'password-123' })).body.token
const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`)
await new Promise((r) => ws.once('message', r))
const waiting = new Map()
ws.on('message', (d) => {
  const f = JSON.parse(d)
  if (f.op === 'ack' && waiting.has(f.clientMsgId)) waiting.get(f.clientMsgId)()
})

let n = 0
async function measure(seconds) {
  const lat = []
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    const id = `m${++n}`
    const t0 = performance.now()
    await new Promise((r) => { waiting.set(id, r); ws.send(JSON.stringify({ op: 'send', channel: 'dm:reader:sender', clientMsgId: id, text: 'hello' })) })
    lat.push(performance.now() - t0)
    waiting.delete(id)
    await new Promise((r) => setTimeout(r, 20))
  }
  lat.sort((a, b) => a - b)
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1)
  return { sends: lat.length, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1].toFixed(1) }
}

const quiet = await measure(Math.min(5, SECONDS))
let flooding = true
const statuses = {}
const attackers = Array.from({ length: PARALLEL }, async (_, i) => {
  // A different name each time: a per-username throttle alone would stop a single-name flood.
  for (let k = 0; flooding; k++) {
    const r = FLOOD === 'healthz'
      ? await fetch(`${base}/healthz`).then(async (x) => ({ status: x.status, body: await x.text() }), () => ({ status: 'error' }))
      : await post('/v1/sessions', { username: `guess_${i}_${k}`, password: 'wrong-password' }).catch(() => ({ status: 'error' }))
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
  }
})
const loaded = await measure(SECONDS)
flooding = false
await Promise.all(attackers)
ws.close()
console.log(JSON.stringify({ root: ROOT, flood: FLOOD, parallel: PARALLEL, quiet, during: loaded, loginAnswers: statuses }))
cleanup()
process.exit(0)
