#!/usr/bin/env node
/**
 * `node bench/send-cpu.mjs [--root DIR] [--sends N]`: the server's CPU time per acknowledged
 * 1:1 send, with chat-like texts of 13 words (the search index writes one posting per distinct
 * word). CPU time, read from /proc, is what a send costs the node whatever else runs on the
 * machine, so two builds compare even on a busy one. `--root` points at another checkout (built)
 * to compare with, e.g. the commit before a change:
 *
 *   git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npx tsc)
 *   node bench/send-cpu.mjs --root /tmp/base; node bench/send-cpu.mjs
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect, dmId, makeUsers } from './clients.mjs'
import { Procs, ROOT, cpuSeconds } from './procs.mjs'

const { values } = parseArgs({ options: { root: { type: 'string', default: ROOT }, sends: { type: 'string', default: '20000' }, window: { type: 'string', default: '16' } } })
const SENDS = Number(values.sends)
const WARMUP = Math.floor(SENDS / 10)
const WORDS = 'hey are we still meeting tomorrow at the usual place I think works for everyone café déjà vu lunch'.split(' ')
const text = (i) => `${Array.from({ length: 12 }, (_, k) => WORDS[(i * 7 + k * 5) % WORDS.length]).join(' ')} ${i}`

const procs = new Procs()
try {
  const dataDir = procs.tempDir('chat-bench-cpu-')
  const node = await procs.spawnReady('node', process.execPath, [join(values.root, 'bin', 'chat-node'), '--port', '0', '--data-dir', dataDir,
    '--log-level', 'warn', '--rate-limit', '1000000', '--rate-burst', '1000000'], (line) => (line.includes('"msg":"ready"') ? JSON.parse(line) : null))
  const target = { kind: 'node', nodes: [{ http: node.ready.http }] }
  const [a, b] = await makeUsers(target, 2)
  const conn = await connect(node.ready.http.replace(/^http/, 'ws') + '/ws', a, 'cpu')
  const channel = dmId(a.username, b.username)
  let sent = 0
  let acked = 0
  let cpuAtWarm = 0
  await new Promise((resolve, reject) => {
    const send = () => {
      const i = sent++
      conn.ws.send(JSON.stringify({ op: 'send', ref: i, channel, clientMsgId: `c${i}`, text: text(i) }))
    }
    conn.onFrame = (f) => {
      if (f.ref === undefined) return
      if (f.op !== 'ack') return reject(new Error(JSON.stringify(f)))
      acked++
      if (acked === WARMUP) void cpuSeconds(node.pid).then((s) => { cpuAtWarm = s })
      if (sent < SENDS) send()
      else if (acked === SENDS) resolve()
    }
    for (let k = 0; k < Number(values.window); k++) send()
  })
  // Let the fan-out to both inboxes finish: it is part of what a send costs.
  await new Promise((r) => setTimeout(r, 1500))
  const used = (await cpuSeconds(node.pid)) - cpuAtWarm
  console.log(`${values.root}: ${Math.round((used * 1e6) / (SENDS - WARMUP))} µs of server CPU per send (${SENDS - WARMUP} sends of 13 words, 1:1, after ${WARMUP} to warm up)`)
} finally {
  await procs.killAll()
}
