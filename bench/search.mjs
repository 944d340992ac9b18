#!/usr/bin/env node
/**
 * `npm run bench:search [-- flags]`: query time of `GET /v1/search` for one user with many
 * channels and many messages, built through a real node (or a 3-node cluster with `--cluster`):
 * every message is a real `send`, so the index is the one the channel actors keep. Most messages
 * go to all channels alike; then, after a pause, the last `--recent` percent go to ten channels
 * only, as in real life, where a few of a user's channels are active at any time. Reports p50 /
 * p99 and the server's CPU time per kind of query, a first query on cold actors after a restart,
 * queries per second with several clients, and the data dir's size. Reports; asserts nothing.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { closeAll, connect, createGroup, makeUsers, pool } from './clients.mjs'
import { join } from 'node:path'
import { Procs, ROOT, cpuSeconds } from './procs.mjs'
import { Samples } from './stats.mjs'
import { startCluster, startStandalone } from './targets.mjs'

const DEFAULTS = { channels: 200, messages: 100_000, recent: 5, runs: 60, partners: 10, senders: 8, window: 64, clients: 4, cluster: false, seed: 7 }
/** Longer than the search's allowance for clock skew (src/actors/search.ts), so the bulk is "older". */
const PAUSE_MS = 11_000
const ACTIVE_CHANNELS = 10

const HELP = `usage: npm run bench:search -- [flags]
  --channels N   groups of the searching user (default ${DEFAULTS.channels})
  --messages N   messages over all of them (default ${DEFAULTS.messages})
  --recent N     percent of them sent last, after a pause, to ${ACTIVE_CHANNELS} channels only (default ${DEFAULTS.recent})
  --runs N       timed runs of each query (default ${DEFAULTS.runs})
  --partners N   other users, one or two in each group, who send most messages (default ${DEFAULTS.partners})
  --senders N    sending sockets (default ${DEFAULTS.senders})
  --window N     unacknowledged sends per socket while building (default ${DEFAULTS.window})
  --clients N    concurrent searching clients for the throughput figure (default ${DEFAULTS.clients})
  --seed N       seed of the generated texts (default ${DEFAULTS.seed})
  --cluster      build and search on 3 nodes with --replicas 3 instead of one standalone node`

function parseArgs(argv) {
  const opts = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      console.log(HELP)
      process.exit(0)
    }
    const key = arg.replace(/^--/, '')
    if (!(key in DEFAULTS)) throw new Error(`unknown flag ${arg}\n${HELP}`)
    if (typeof DEFAULTS[key] === 'boolean') opts[key] = true
    else opts[key] = Number(argv[++i])
  }
  return opts
}

/** mulberry32: the texts are the same for a seed, so runs compare. */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Message texts: 4 to 20 words drawn from a 20,000-word vocabulary with Zipf frequencies (as
 * words are in real chat: a few very common, most rare), some with accents, plus planted words of
 * known frequency so the queries below have known result sizes.
 */
function textMaker(seed) {
  const random = rng(seed)
  const syllables = ['ka', 'lo', 'mi', 'ra', 'te', 'su', 'no', 'vi', 'de', 'po', 'chu', 'bre', 'fé', 'zä', 'ñu', 'gri']
  const vocabulary = Array.from({ length: 20_000 }, (_, i) => {
    let w = ''
    for (let n = i + 1; n > 0; n = Math.floor(n / syllables.length)) w += syllables[n % syllables.length]
    return w
  })
  // Zipf(s=1) by inverse CDF over the harmonic sums.
  const cdf = new Float64Array(vocabulary.length)
  let sum = 0
  for (let i = 0; i < vocabulary.length; i++) cdf[i] = sum += 1 / (i + 1)
  const zipf = () => {
    const x = random() * sum
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] < x) lo = mid + 1
      else hi = mid
    }
    return vocabulary[lo]
  }
  const text = (i) => {
    const words = Array.from({ length: 4 + Math.floor(random() * 17) }, zipf)
    if (random() < 0.30) words.push('Café') // 30% of messages
    if (random() < 0.30) words.push('meeting')
    if (random() < 0.01) words.push('déjà') // 1%
    if (i % 10_000 === 0) words.push('zanzibar') // 1 in 10,000
    return words.join(' ')
  }
  return { text, top: vocabulary[0] }
}

async function getJson(url, token) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  const body = await res.json()
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** Sends `count` messages over the sockets, each keeping `window` unacknowledged; resolves when all are acked. */
async function build(conns, channelsOf, from, count, window, text) {
  let next = from
  let acked = 0
  const started = performance.now()
  await Promise.all(conns.map((conn, c) => new Promise((resolve, reject) => {
    const mine = channelsOf(conn)
    let open = 0
    const pump = () => {
      while (open < window && next < count) {
        const i = next++
        open++
        if (mine.length === 0) break
        conn.ws.send(JSON.stringify({ op: 'send', ref: i, channel: mine[i % mine.length], clientMsgId: `b${c}-${i}`, text: text(i) }))
      }
      if (open === 0 && (next >= count || mine.length === 0)) resolve()
    }
    conn.onFrame = (f) => {
      if (f.ref === undefined) return
      if (f.op !== 'ack') return reject(new Error(`send refused: ${JSON.stringify(f)}`))
      open--
      acked++
      pump()
    }
    pump()
  })))
  return { acked, seconds: (performance.now() - started) / 1000 }
}

/** Latency samples of `runs` calls, and the server's CPU time per call (robust on a busy machine). */
async function time(runs, fn, pids) {
  const samples = new Samples()
  for (let i = 0; i < 3; i++) await fn() // warm-up
  let size = 0
  const cpu0 = await serverCpu(pids)
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    size = await fn()
    samples.add(performance.now() - t0)
  }
  const cpuMs = ((await serverCpu(pids)) - cpu0) * 1000 / runs
  return { ...samples.summary(), size, cpuMs }
}

async function serverCpu(pids) {
  return (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0)
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const procs = new Procs()
  const flagOpts = { groupSize: 100 }
  try {
    const target = opts.cluster ? await startCluster(procs, { ...flagOpts, clusterNodes: 3, replicas: 3 }) : await startStandalone(procs, flagOpts)
    const base = target.nodes[0].http
    const users = await makeUsers(target, 1 + opts.partners)
    const [me, ...partners] = users
    console.log(`# search benchmark: ${opts.channels} channels, ${opts.messages} messages, ${opts.cluster ? '3-node cluster' : 'standalone node'}; ${cpus().length} cpus, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    const channels = await pool(Array.from({ length: opts.channels }, (_, i) => i), 8, (i) =>
      createGroup(target, me, [...new Set([partners[i % partners.length].username, partners[(i * 7 + 3) % partners.length].username])]))
    // The senders: the searching user and partners, spread over the nodes; each sends to its groups.
    const senders = [me, ...partners].slice(0, opts.senders)
    const conns = await pool(senders, 8, (u, i) => connect(target.nodes[i % target.nodes.length].ws, u, 'bench-search'))
    const groupsOf = new Map(senders.map((u) => [u.username, channels.filter((_, i) => u === me || [i % partners.length, (i * 7 + 3) % partners.length].some((p) => partners[p] === u))]))
    const texts = textMaker(opts.seed)
    const bulk = Math.round(opts.messages * (1 - opts.recent / 100))
    const built = await build(conns, (conn) => groupsOf.get(conn.user), 0, bulk, opts.window, texts.text)
    console.log(`built: ${built.acked} messages to all ${opts.channels} channels in ${built.seconds.toFixed(1)} s (${Math.round(built.acked / built.seconds)} msg/s, indexed as they are stored)`)
    await new Promise((r) => setTimeout(r, PAUSE_MS))
    const active = new Set(channels.slice(0, ACTIVE_CHANNELS))
    const recent = await build(conns, (conn) => groupsOf.get(conn.user).filter((c) => active.has(c)), bulk, opts.messages, opts.window, texts.text)
    console.log(`then ${recent.acked} messages to ${ACTIVE_CHANNELS} channels only, ${PAUSE_MS / 1000} s later`)
    await closeAll(conns)
    // Wait until the searching user's inbox has every message (and the member_added of each
    // group): fan-out done, the node idle again before anything is timed.
    const total = (await getJson(`${base}/v1/channels`, me.token)).channels.reduce((n, c) => n + c.lastSeq, 0)
    await waitInbox(target.nodes[0].ws, me, total + channels.length)

    const search = (q, extra = '') => async () => (await getJson(`${base}/v1/search?q=${encodeURIComponent(q)}${extra}`, me.token)).messages.length
    const deep = await pageDown(base, me.token, 'cafe', 50, 20)
    const queries = [
      ['one common word (30% of messages)', search('cafe')],
      ['one common word, limit 100', search('cafe', '&limit=100')],
      ['one word in 1% of messages', search('deja')],
      ['one rare word (10 messages)', search('zanzibar')],
      ['a word that is nowhere', search('xylophonic')],
      ['two common words (9%)', search('cafe meeting')],
      ['common + 1% words (0.3%)', search('cafe deja')],
      ['common + rare words', search('CAFÉ zanzibar')],
      ['three words, common/common/1%', search('cafe meeting deja')],
      ['the most frequent word (about 10%)', search(texts.top)],
      ['one channel, common word', search('cafe', `&channel=${encodeURIComponent(channels[0])}`)],
      ['page 51 of a common word (before=cursor)', search('cafe', `&before=${encodeURIComponent(deep)}`)],
    ]
    const rows = []
    for (const [name, fn] of queries) rows.push([name, await time(opts.runs, fn, target.pids)])
    console.log('\n| query | results | p50 ms | p99 ms | max ms | server CPU ms/query |\n|---|---|---|---|---|---|')
    for (const [name, s] of rows) console.log(`| ${name} | ${s.size} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} | ${s.cpuMs.toFixed(1)} |`)

    // Several clients at once: queries per second of the common-word query.
    const perClient = Math.max(10, Math.floor(opts.runs / 2))
    const t0 = performance.now()
    const concurrent = new Samples()
    await Promise.all(Array.from({ length: opts.clients }, async () => {
      for (let i = 0; i < perClient; i++) {
        const s = performance.now()
        await search('cafe meeting')()
        concurrent.add(performance.now() - s)
      }
    }))
    const c = concurrent.summary()
    console.log(`\n${opts.clients} clients at once, 'cafe meeting': ${Math.round((opts.clients * perClient) / ((performance.now() - t0) / 1000))} queries/s, p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms`)

    if (!opts.cluster) {
      const node = target.nodes[0]
      const du = execFileSync('du', ['-sk', dataDirOf(procs)]).toString().split('\t')[0]
      console.log(`data dir: ${(Number(du) / 1024).toFixed(0)} MiB for ${built.acked} messages (messages, inboxes, events and index)`)
      const cold = await coldQuery(procs, node, me, search)
      console.log(`first query after a restart (${opts.channels} channel actors activated by it): ${cold.toFixed(0)} ms`)
    }
  } finally {
    await procs.killAll()
  }
}

function dataDirOf(procs) {
  return [...procs.dirs].find((d) => d.includes('chat-bench-s1-'))
}

/** Follows `before` cursors `pages` pages down and returns the cursor there. */
async function pageDown(base, token, q, pages, limit) {
  let before = ''
  for (let i = 0; i < pages; i++) {
    const r = await getJson(`${base}/v1/search?q=${q}&limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`, token)
    if (!r.more) break
    before = r.next
  }
  return before
}

async function waitInbox(ws, user, want) {
  const deadline = Date.now() + 300_000
  for (;;) {
    const conn = await connect(ws, user, 'bench-wait')
    await closeAll([conn])
    if (conn.inboxSeq >= want) return
    if (Date.now() > deadline) throw new Error(`inbox of ${user.username} stuck at ${conn.inboxSeq} of ${want}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** Restarts the standalone node on its data dir and times the first query (every actor cold). */
async function coldQuery(procs, node, me, search) {
  const dir = dataDirOf(procs)
  node.child.kill('SIGTERM')
  await new Promise((r) => node.child.once('exit', r))
  const port = new URL(node.http).port
  const args = [join(ROOT, 'bin', 'chat-node'), '--id', 's1', '--host', '127.0.0.1', '--port', port, '--data-dir', dir, '--log-level', 'warn']
  await procs.spawnReady('node s1 (restarted)', process.execPath, args, (line) => line.includes('"msg":"ready"'))
  const t0 = performance.now()
  await search('cafe')()
  return performance.now() - t0
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
