#!/usr/bin/env node
// Starts a local cluster for trying things out: nats-server with JetStream plus three chat nodes,
// all on 127.0.0.1, data under ./data/local-cluster. Ctrl-C stops every node gracefully, then NATS.
//   npm run cluster                 (after npm ci; builds first)
//   npm run cluster -- --nodes 5    (up to 9 nodes)
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const args = process.argv.slice(2)
const count = Math.min(9, Math.max(1, Number(args[args.indexOf('--nodes') + 1]) || 3))
const base = join('data', 'local-cluster')
const natsPort = 4222
const secret = process.env.CHAT_SECRET ?? 'local-cluster-secret-change-me'
mkdirSync(base, { recursive: true })

const children = []
const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(base, 'nats')], { stdio: 'ignore' })
nats.on('error', (err) => {
  console.error(`cannot start nats-server (${err.message}); install it with: sudo apt-get install -y nats-server`)
  process.exit(1)
})
await new Promise((r) => setTimeout(r, 500))

for (let i = 1; i <= count; i++) {
  const node = spawn(process.execPath, [
    'bin/chat-node', '--id', `n${i}`, '--port', String(8080 + i), '--grpc-port', String(9090 + i),
    '--data-dir', join(base, `n${i}`), '--nats', `nats://127.0.0.1:${natsPort}`, '--secret', secret,
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  node.stdout.on('data', (d) => {
    for (const line of d.toString().split('\n')) {
      if (line.includes('"msg":"ready"')) console.log(`n${i} ready: http://127.0.0.1:${8080 + i}  ws://127.0.0.1:${8080 + i}/ws`)
    }
  })
  children.push(node)
  // Joins are compare-and-set on one record; one at a time keeps the log quiet.
  await new Promise((r) => setTimeout(r, 400))
}
console.log(`cluster of ${count} on NATS nats://127.0.0.1:${natsPort}; try: curl -s http://127.0.0.1:8081/v1/cluster`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  console.log('stopping: every node leaves the ring gracefully, then NATS stops')
  await Promise.all(children.map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM') })))
  nats.kill('SIGTERM')
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
