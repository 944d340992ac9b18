#!/usr/bin/env node
/**
 * `npm run bench:peer-rtt [-- --rounds N --gaps 0,10]`: what one request costs between two nodes,
 * below everything the actors do. Two processes (run it under `taskset -c 0` for one core, as the
 * benchmark's cluster runs):
 * one asks, the other answers, one request at a time. Measured two ways, each back to back
 * (gap 0) and paced (a pause between requests, as an unloaded cluster sends them):
 *
 * - `stream`: the node transport's stream (src/cluster/grpc-stream.ts over @grpc/grpc-js, frames
 *   signed), with a replication append of one message as the body;
 * - `tcp`: the same number of bytes echoed over a bare TCP socket, as a floor: what the
 *   processes, the kernel and the event loop cost with no protocol at all.
 *
 * CPU is each process's main thread, read from /proc/<pid>/task/<pid>/schedstat (the scheduler's
 * own nanoseconds, exact even for short bursts), divided by the requests. It reports; it asserts
 * nothing. docs/PERFORMANCE.md ("Cluster hot path") says what the figures mean.
 */
import { execFileSync, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

const SECRET = 'peer-rtt-benchmark-secret-0123456789'
const BODY = {
  key: 'channel:dm:u0000:u0001', epoch: { n: 3, node: 'n1' }, prevP: 10, prevE: { n: 3, node: 'n1' }, commit: 10,
  entries: [{ p: 11, e: { n: 3, node: 'n1' }, ops: [{ type: 'put', key: 'm\u00000000000000000011', value: { from: 'u0000', text: 'x'.repeat(100), ts: 1796190000000, clientMsgId: 'c-0001', ev: 11 } }] }],
}

/** Nanoseconds the thread `tid` of `pid` has run. */
function threadNs(pid, tid = pid) {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function answerer(kind) {
  if (kind === 'tcp') {
    const server = net.createServer((c) => c.on('data', (d) => c.write(d)))
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    return server.address().port
  }
  const { GrpcTransport } = await import('../dist/cluster/transport-grpc.js')
  const t = new GrpcTransport({ auth: { secret: SECRET, self: 'n2' } })
  return t.listen('127.0.0.1', 0, {
    call: async () => ({ ok: true, body: null }),
    callMany: async (r) => r.keys.map(() => ({ ok: true, body: null })),
    push: async () => {},
    peer: async () => ({ ok: true, body: { ok: true, last: 11 } }),
  })
}

/** A function that sends one request and resolves with its answer. */
async function asker(kind, port) {
  if (kind === 'tcp') {
    const bytes = Buffer.alloc(Buffer.byteLength(JSON.stringify(BODY)) + 64, 1)
    const sock = net.connect(port, '127.0.0.1')
    sock.setNoDelay(true)
    await new Promise((r) => sock.once('connect', r))
    let waiting = null
    let got = 0
    sock.on('data', (d) => {
      got += d.length
      if (got >= bytes.length && waiting) {
        got -= bytes.length
        const w = waiting
        waiting = null
        w()
      }
    })
    return { once: () => new Promise((r) => { waiting = r; sock.write(bytes) }), close: () => sock.destroy() }
  }
  const { GrpcTransport } = await import('../dist/cluster/transport-grpc.js')
  const t = new GrpcTransport({ auth: { secret: SECRET, self: 'n1' } })
  const peer = t.peer(`127.0.0.1:${port}`)
  return { once: () => peer.peer({ kind: 'repl.batch', body: BODY, ringVersion: 1, from: 'n1' }, 5000), close: () => t.close() }
}

if (process.argv[2] === '--answer') {
  const port = await answerer(process.argv[3])
  process.send({ port })
} else {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2000' }, gaps: { type: 'string', default: '0,10' } } })
  const rounds = Number(values.rounds)
  const gaps = values.gaps.split(',').map(Number)
  // The answerer inherits this process's CPU affinity: run under `taskset -c 0` for one core.
  let cpus = 'any CPU'
  try {
    cpus = `CPUs ${execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' }).match(/list:\s*(\S+)/)?.[1] ?? '?'}`
  } catch {
    // no taskset: say nothing of affinity
  }
  console.log(`one request at a time between two processes on ${cpus}; main-thread CPU per request`)
  console.log('transport  gap ms  requests  asker µs  answerer µs  together µs  wall µs')
  for (const kind of ['stream', 'tcp']) {
    const child = fork(fileURLToPath(import.meta.url), ['--answer', kind], { stdio: 'inherit' })
    try {
      const { port } = await new Promise((resolve, reject) => {
        child.once('message', resolve)
        child.once('exit', (code) => reject(new Error(`answerer exited (${code})`)))
      })
      const ask = await asker(kind, port)
      for (let i = 0; i < 300; i++) await ask.once() // warm up: JIT, connection
      for (const gap of gaps) {
        const n = gap > 0 ? Math.min(rounds, Math.ceil(10_000 / gap)) : rounds
        const a0 = threadNs(process.pid)
        const b0 = threadNs(child.pid)
        const t0 = performance.now()
        let waited = 0
        for (let i = 0; i < n; i++) {
          await ask.once()
          if (gap > 0) {
            const s = performance.now()
            await sleep(gap)
            waited += performance.now() - s
          }
        }
        const wall = performance.now() - t0 - waited
        const a = (threadNs(process.pid) - a0) / 1000 / n
        const b = (threadNs(child.pid) - b0) / 1000 / n
        console.log(`${kind.padEnd(9)}  ${String(gap).padStart(6)}  ${String(n).padStart(8)}  ${a.toFixed(0).padStart(8)}  ${b.toFixed(0).padStart(11)}  ${(a + b).toFixed(0).padStart(11)}  ${((wall * 1000) / n).toFixed(0).padStart(7)}`)
      }
      await ask.close()
    } finally {
      child.kill('SIGKILL')
    }
  }
  console.log('(µs of CPU per request on each side, from the scheduler; wall = time from send to answer, pauses left out)')
}
