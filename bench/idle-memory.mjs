/**
 * Memory per idle logged-in socket: the server's RSS before and after `count` WebSockets are
 * connected (spread over `users`, several devices each, since signing up thousands of users
 * would cost minutes of password hashing), read from /proc/<pid>/status once it has settled.
 * The caller gives a freshly started process each run: a heap that already held thousands of
 * sockets keeps its grown size, and a second run in it would look cheaper than the first.
 * One socket per user is opened and closed first, so neither code loaded on the first connection
 * nor the user actors' activation (on a chat node; they stay active a minute) counts as memory
 * per socket: the figure is what one more device of an online user costs.
 */
import { closeAll, connect, pool } from './clients.mjs'
import { rssBytes } from './procs.mjs'
import { sleep } from './workload.mjs'

const SETTLE_MS = 1500

export async function idleMemory({ server, users, count }) {
  const warm = await pool(Array.from({ length: Math.min(users.length, count) }, (_, i) => i), 32, (i) =>
    connect(server.ws, users[i % users.length], `warm-${i}`))
  await closeAll(warm)
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
    users: Math.min(users.length, count),
    rssBefore: before,
    rssAfter: after,
    rssDelta: after - before,
    bytesPerConnection: (after - before) / count,
    connectsPerSec: count / connectSecs,
  }
}
