/**
 * Memory per idle connection: the server's RSS before and after `count` WebSockets are connected
 * (spread over `users`, several devices each, since signing up thousands of users would cost
 * minutes of password hashing), read from /proc/<pid>/status once it has settled.
 */
import { closeAll, connect, pool } from './clients.mjs'
import { rssBytes } from './procs.mjs'

const SETTLE_MS = 2000

export async function idleMemory({ server, users, count }) {
  await sleep(SETTLE_MS)
  const before = await rssBytes(server.pid)
  const started = performance.now()
  const conns = await pool(Array.from({ length: count }, (_, i) => i), 32, (i) =>
    connect(server.ws, users[i % users.length], `idle-${i}`))
  const connectSecs = (performance.now() - started) / 1000
  await sleep(SETTLE_MS)
  const after = await rssBytes(server.pid)
  await closeAll(conns)
  return {
    connections: count,
    rssBefore: before,
    rssAfter: after,
    rssDelta: after - before,
    bytesPerConnection: (after - before) / count,
    connectsPerSec: count / connectSecs,
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}
