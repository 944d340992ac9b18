#!/usr/bin/env node
/**
 * `npm run bench:storage [-- flags]`: bytes on disk per stored message per replica, with the
 * replication log kept beside the state (compaction off: how it was before) and with it compacted
 * away, against the state alone.
 *
 * A cluster of `--nodes` (3 by default, replicas min(3, N), so every node holds a full copy; one
 * node with replicas 1 keeps the same log and state for a third of the work) runs with compaction
 * off while senders store `--messages` 1:1 messages (chat-like texts of `--text-bytes` characters,
 * texts.mjs: LevelDB's compression and the search index see what people write). The nodes are then
 * stopped and each data dir is compacted by LevelDB and measured ("log + state"). They are
 * started again on the same data dirs, `chat-node compact` folds every applied log entry away,
 * and they are stopped and measured again ("compacted"). Finally each node's state rows alone are
 * copied into a fresh LevelDB and measured ("state alone"): what a node with no replication
 * bookkeeping would store. Every size is after LevelDB's own compaction (compactRange), so
 * deleted entries and overwritten values no longer count. Reports; asserts nothing.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Level } from 'level'
import { connect, closeAll, dmId, makeUsers, pool } from './clients.mjs'
import { Procs, ROOT } from './procs.mjs'
import { messageTexts } from './texts.mjs'

const run = promisify(execFile)
const DEFAULTS = { messages: 1_000_000, pairs: 100, window: 8, textBytes: 100, nodes: 3 }
const HELP = `usage: npm run bench:storage -- [--messages N] [--pairs N] [--window N] [--text-bytes N]
  --messages N     1:1 messages to store (default ${DEFAULTS.messages}; 20000 is a quick check)
  --pairs N        sender/receiver pairs, each its own channel (default ${DEFAULTS.pairs})
  --window N       unacknowledged sends per sender (default ${DEFAULTS.window})
  --nodes N        cluster nodes, replicas min(3, N) (default ${DEFAULTS.nodes}); every replica stores the
                   same log and state, so --nodes 1 measures the same bytes per replica for a third of the work
  --text-bytes N   length of each message text (default ${DEFAULTS.textBytes})`

function parseArgs(argv) {
  const o = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(HELP)
      process.exit(0)
    }
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    const v = Number(argv[++i])
    if (!(key in DEFAULTS) || !Number.isInteger(v) || v <= 0) throw new Error(`bad flag ${argv[i - 1]}\n${HELP}`)
    o[key] = v
  }
  return o
}

const log = (msg) => process.stderr.write(`[storage ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

async function dirBytes(dir) {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await dirBytes(p)
    else if (e.isFile()) total += (await stat(p)).blocks * 512
  }
  return total
}

/** Opens a stopped node's LevelDB, compacts it, and returns its size and a logical breakdown by key prefix. */
async function measure(dir) {
  const db = new Level(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  await db.open()
  const logical = {}
  let messages = 0
  for await (const [k, v] of db.iterator()) {
    // A channel's message rows: a\0channel:<id>\0m\0<seq> (docs/STORAGE.md).
    if (k.startsWith('a\x00channel:') && k.includes('\x00m\x00')) messages++
    const prefix = k[0]
    logical[prefix] ??= { rows: 0, bytes: 0 }
    logical[prefix].rows++
    logical[prefix].bytes += Buffer.byteLength(k) + Buffer.byteLength(v)
  }
  await db.compactRange('\x00', '\uffff')
  await db.close()
  return { bytes: await dirBytes(dir), logical, messages }
}

/** The node's state rows alone (actor state and its wake index), in a fresh LevelDB, compacted. */
async function stateAlone(dir, procs) {
  const out = procs.tempDir('chat-state-alone-')
  const src = new Level(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const dst = new Level(out, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  await src.open()
  await dst.open()
  let batch = []
  for await (const [k, v] of src.iterator()) {
    if (k[0] !== 'a' && k[0] !== 'w' && k[0] !== 'n') continue
    batch.push({ type: 'put', key: k, value: v })
    if (batch.length >= 5000) {
      await dst.batch(batch)
      batch = []
    }
  }
  if (batch.length) await dst.batch(batch)
  await dst.compactRange('\x00', '\uffff')
  await src.close()
  await dst.close()
  return dirBytes(out)
}

/** Sends `total` messages over `pairs` 1:1 channels (receivers offline: their inboxes still fill). */
async function store(target, users, o) {
  const n = target.nodes.length
  const senders = await pool(Array.from({ length: o.pairs }, (_, i) => i), 16, async (i) => {
    const conn = await connect(target.nodes[i % n].ws, users[2 * i], 'storage')
    return { conn, channel: dmId(users[2 * i].username, users[2 * i + 1].username), count: 0 }
  })
  let issued = 0
  let acked = 0
  let refused = 0
  let textBytes = 0
  const texts = messageTexts(o.textBytes)
  const makeText = () => texts[issued % texts.length]
  const started = performance.now()
  let lastReport = started
  await new Promise((resolve, reject) => {
    // A send refused with UNAVAILABLE may still have been stored (it is decided later): it is
    // retried with the same clientMsgId, which the channel de-duplicates, as a client does.
    const send = (s, id) => s.conn.ws.send(JSON.stringify({ op: 'send', channel: s.channel, clientMsgId: id, text: s.texts.get(id), ref: id }))
    const sendNext = (s) => {
      if (issued >= o.messages) return
      issued++
      const id = `${s.conn.user}-${++s.count}`
      const text = makeText()
      textBytes += Buffer.byteLength(text)
      s.texts.set(id, text)
      send(s, id)
    }
    for (const s of senders) {
      s.texts = new Map()
      s.conn.onFrame = (f) => {
        if (f.op === 'ack') {
          s.texts.delete(f.clientMsgId)
          acked++
          if (acked >= o.messages) return resolve()
          const now = performance.now()
          if (now - lastReport > 10_000) {
            lastReport = now
            log(`${acked} stored (${Math.round(acked / ((now - started) / 1000))} msg/s, ${refused} sends refused and retried)`)
          }
          sendNext(s)
        } else if (f.op === 'error') {
          if (f.code !== 'UNAVAILABLE' && f.code !== 'RATE_LIMITED') return reject(new Error(`send refused: ${f.code} ${f.message}`))
          refused++
          setTimeout(() => send(s, f.ref), 200)
        }
      }
      for (let w = 0; w < o.window; w++) sendNext(s)
    }
  })
  const secs = (performance.now() - started) / 1000
  await closeAll(senders.map((s) => s.conn))
  return { secs, perSec: o.messages / secs, meanTextBytes: textBytes / issued }
}

async function compactRunning(node) {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await run(process.execPath, [join(ROOT, 'bin', 'chat-node'), 'compact', '--data-dir', node.dataDir], { timeout: 30 * 60_000, env })
  return stdout.trim()
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  const procs = new Procs()
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      await procs.killAll()
      process.exit(130)
    })
  }
  const loadBefore = loadavg()
  try {
    const nats = await procs.startNats()
    const secret = randomBytes(24).toString('hex')
    const flags = (off) => ['--nats', nats.url, '--secret', secret, '--replicas', String(Math.min(3, o.nodes)), '--rate-limit', '1000000', '--rate-burst', '1000000',
      '--log-level', 'warn', '--compact-interval-ms', off ? '0' : '3600000', '--repair-interval-ms', '60000',
      // Generous timeouts: on a CPU-starved machine an owner would otherwise give up on slow
      // followers and step down, and the run would spend its time on takeovers.
      '--heartbeat-ms', '2000', '--dead-after-ms', '15000']
    const nodes = []
    for (let i = 1; i <= o.nodes; i++) nodes.push(await procs.startNode(`n${i}`, flags(true)))
    await new Promise((r) => setTimeout(r, 2000))
    const target = { kind: 'node', nodes }
    const users = await makeUsers(target, 2 * o.pairs)
    log(`cluster of ${o.nodes} up, ${users.length} users; storing ${o.messages} messages with compaction off`)
    const load = await store(target, users, o)
    log(`stored ${o.messages} in ${load.secs.toFixed(0)} s (${Math.round(load.perSec)} msg/s)`)
    // Followers apply the last entries with the next commit notice; give them a moment.
    await new Promise((r) => setTimeout(r, 3000))

    const kill = async () => {
      for (const n of nodes) {
        const exited = new Promise((r) => n.child.once('exit', r))
        n.child.kill('SIGKILL')
        await exited
      }
    }
    await kill()
    const before = []
    for (const n of nodes) before.push(await measure(n.dataDir))
    log(`log + state measured: ${before.map((b) => b.bytes).join(', ')} bytes`)

    // Same data dirs, compaction on: fold every applied entry into the state now.
    const restarted = []
    for (const n of nodes) restarted.push(await procs.startNode(n.id, flags(false), n.dataDir))
    nodes.splice(0, nodes.length, ...restarted)
    await new Promise((r) => setTimeout(r, 3000))
    for (const n of nodes) log(`${n.id}: ${await compactRunning(n)}`)
    await kill()
    const after = []
    const alone = []
    for (const n of nodes) {
      after.push(await measure(n.dataDir))
      alone.push(await stateAlone(n.dataDir, procs))
    }
    report(o, load, before, after, alone, loadBefore)
  } finally {
    await procs.killAll()
  }
}

function report(o, load, before, after, alone, loadBefore) {
  const stored = after[0].messages
  const per = (b, n = stored) => (b / n).toFixed(1)
  console.log(`\nstorage per message, ${o.messages} 1:1 messages acknowledged (${after.map((a) => a.messages).join(' / ')} stored on ${after.map((_, i) => `n${i + 1}`).join(' / ')}) of ${load.meanTextBytes.toFixed(1)} B text on average (words with Zipf frequencies) over ${o.pairs} channels, ${o.nodes} node(s), replicas ${Math.min(3, o.nodes)}`)
  console.log(`${cpus().length} CPUs, Node ${process.version}; load average before ${loadBefore.map((x) => x.toFixed(1)).join(' ')}, after ${loadavg().map((x) => x.toFixed(1)).join(' ')}; stored at ${Math.round(load.perSec)} msg/s`)
  console.log('\nnode | log + state (before) | compacted (after) | state alone | after / state alone')
  console.log('---|---|---|---|---')
  before.forEach((b, i) => {
    const n = after[i].messages
    console.log(`n${i + 1} | ${b.bytes} B = ${per(b.bytes, n)} B/msg | ${after[i].bytes} B = ${per(after[i].bytes, n)} B/msg | ${alone[i]} B = ${per(alone[i], n)} B/msg | ${(after[i].bytes / alone[i]).toFixed(3)}x (before: ${(b.bytes / alone[i]).toFixed(3)}x)`)
  })
  console.log('\nlogical bytes (keys + values, before LevelDB compression) by prefix, node n1:')
  for (const [label, m] of [['before', before[0]], ['after', after[0]]]) {
    console.log(`  ${label}: ${Object.entries(m.logical).map(([p, v]) => `${p}: ${v.rows} rows ${per(v.bytes)} B/msg`).join('; ')}`)
  }
}

main().catch((err) => {
  console.error(err.stack ?? String(err))
  process.exitCode = 1
})
