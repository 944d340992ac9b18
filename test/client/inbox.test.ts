import t from 'tap'
import WebSocket from 'ws'
import { ChatClient, type ChatClientOptions, type InboxEvent, type MemberEvent } from '../../src/client/index.js'
import { FakeServer, type FakeServerOptions } from '../helpers/fake-server.js'
import { waitFor } from '../helpers/wait.js'

/** The part of a tap test the setup helper needs. */
type Test = { teardown(fn: () => unknown): void }
const DM = 'dm:alice:bob'

async function setup(t: Test, serverOptions: FakeServerOptions = {}, options: Partial<ChatClientOptions> = {}) {
  const server = await FakeServer.start(serverOptions)
  t.teardown(() => server.close())
  const client = new ChatClient({
    token: 'tok-alice', url: server.wsUrl, WebSocket, keepAliveMs: 0, backoff: { baseMs: 20, capMs: 200 }, ...options,
  })
  t.teardown(() => client.close())
  const events: InboxEvent[] = []
  client.on('event', (e) => events.push(e))
  return { server, client, events, seqs: () => events.map((e) => e.inboxSeq) }
}

/** Bob sends `n` messages to alice while she is offline (events land in her inbox, unpushed). */
function backlog(server: FakeServer, n: number): void {
  for (let i = 1; i <= n; i++) server.store('bob', { op: 'send', channel: DM, clientMsgId: `b${i}`, text: `msg ${i}` }, false)
}

t.test('an event that arrives by push and by sync is delivered once, in order', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 0 })
  backlog(server, 3)
  const [e1, e2, e3] = server.inbox('alice')
  // Pushes race the catch-up sync: 1 and 2 arrive before the sync reply, 3 again after it.
  server.onReady = (conn) => { conn.send(e1!); conn.send(e2!) }
  server.onFrame = (conn, frame) => {
    if (frame.op !== 'sync') return false
    const events = server.inbox(conn.user).filter((e) => e.inboxSeq > frame.since)
    conn.send({ op: 'sync', ref: frame.ref, events, next: events.at(-1)?.inboxSeq ?? frame.since, more: false })
    conn.send(e3!)
    conn.send(e1!)
    return true
  }
  await client.connect()
  await waitFor(() => seqs().length >= 3)
  server.onFrame = undefined
  server.store('bob', { op: 'send', channel: DM, clientMsgId: 'b4', text: 'msg 4' })
  await waitFor(() => seqs().length >= 4)
  t.same(seqs(), [1, 2, 3, 4], 'each event once, in inboxSeq order')
  t.equal(client.inboxSeq, 4)
  t.same(client.cachedMessages(DM).map((m) => m.seq), [1, 2, 3, 4])
})

t.test('a gap in pushes triggers a sync instead of applying out of order', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 0 })
  const synced = new Promise((resolve) => client.once('synced', resolve))
  await client.connect()
  await synced
  t.equal(server.framesOf('sync').length, 1)
  server.appendEvent('alice', { op: 'member_added', channel: 'g:1', user: 'alice', by: 'bob', ts: 1 }, false) // push lost
  server.appendEvent('alice', { op: 'member_added', channel: 'g:2', user: 'alice', by: 'bob', ts: 2 }) // pushed: a gap
  await waitFor(() => seqs().length === 2, { what: 'both events' })
  t.same(seqs(), [1, 2], 'the missing event first')
  t.equal(server.framesOf('sync').length, 2, 'the gap caused one sync')
  t.same(server.framesOf('sync')[1]?.since, 0)
})

t.test('sync pages with more/next until done', async (t) => {
  const { server, client, seqs } = await setup(t, { syncPageMax: 2 }, { inboxSeq: 0 })
  backlog(server, 7)
  const synced = new Promise((resolve) => client.once('synced', resolve))
  await client.connect()
  t.same(await synced, { inboxSeq: 7 })
  t.same(seqs(), [1, 2, 3, 4, 5, 6, 7])
  t.same(server.framesOf('sync').map((f) => f.since), [0, 2, 4, 6])
})

t.test('a cursor given at construction resumes after it; without one the client starts at the newest', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 3 })
  backlog(server, 5)
  await client.connect()
  await waitFor(() => client.inboxSeq === 5)
  t.same(seqs(), [4, 5], 'only events after the cursor')

  const fresh = new ChatClient({ token: 'tok-alice', url: server.wsUrl, WebSocket, keepAliveMs: 0 })
  t.teardown(() => fresh.close())
  const freshSeqs: number[] = []
  fresh.on('event', (e) => freshSeqs.push(e.inboxSeq))
  const ready = await fresh.connect()
  t.equal(ready.inboxSeq, 5)
  t.equal(fresh.inboxSeq, 5, 'adopts the server cursor')
  server.store('bob', { op: 'send', channel: DM, clientMsgId: 'b6', text: 'msg 6' })
  await waitFor(() => freshSeqs.length === 1)
  t.same(freshSeqs, [6], 'no replay of older events, new ones arrive')
})

t.test('events stored while disconnected arrive once, in order, after the reconnect', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 0 })
  backlog(server, 2)
  await client.connect()
  await waitFor(() => seqs().length === 2)
  server.dropAll()
  backlog(server, 5) // b1, b2 are duplicates (stored once); b3..b5 are new
  await waitFor(() => seqs().length === 5 && server.accepted === 2)
  t.same(seqs(), [1, 2, 3, 4, 5])
})

t.test('pushes sent right behind ready are not lost', async (t) => {
  const { server, client } = await setup(t, {}, { inboxSeq: 0 })
  const presence: string[] = []
  client.on('presence', (p) => presence.push(p.user))
  server.onReady = (conn) => {
    conn.send({ op: 'presence', user: 'bob', status: 'online', lastActiveAt: 1 })
    conn.send({ op: 'presence', user: 'carol', status: 'online', lastActiveAt: 1 })
  }
  await client.connect()
  await waitFor(() => presence.length === 2, { what: 'both presence pushes' })
  t.same(presence, ['bob', 'carol'])
})

t.test('member, presence and read pushes reach their typed events', async (t) => {
  const { server, client } = await setup(t, {}, { inboxSeq: 0 })
  const members: MemberEvent[] = []
  const presence: string[] = []
  const reads: number[] = []
  client.on('member', (m) => members.push(m))
  client.on('presence', (p) => presence.push(`${p.user}:${p.status}`))
  client.on('read', (r) => reads.push(r.seq))
  await client.connect()
  server.appendEvent('alice', { op: 'member_removed', channel: 'g:9', user: 'carol', by: 'alice', ts: 5 })
  server.pushTo('alice', { op: 'presence', user: 'bob', status: 'online', lastActiveAt: 10 })
  server.pushTo('alice', { op: 'read', channel: DM, seq: 4 })
  await waitFor(() => members.length === 1 && presence.length === 1 && reads.length === 1)
  t.equal(members[0]?.op, 'member_removed')
  t.same(presence, ['bob:online'])
  t.same(reads, [4])
})

t.test('history fills the bounded cache; olderMessages pages backwards to the beginning', async (t) => {
  const { server, client } = await setup(t, {}, { cacheSize: 10 })
  backlog(server, 30)
  await client.connect()
  t.same((await client.history(DM, { limit: 5 })).map((m) => m.seq), [26, 27, 28, 29, 30])
  t.same((await client.history(DM, { after: 2, limit: 2 })).map((m) => m.seq), [3, 4])
  t.same(client.cachedMessages(DM).map((m) => m.seq), [3, 4, 26, 27, 28, 29, 30])
  client.cachedMessages(DM).length = 0
  t.equal(client.cachedMessages(DM).length, 7, 'cachedMessages returns a copy')

  const fresh = new ChatClient({ token: 'tok-alice', url: server.wsUrl, WebSocket, keepAliveMs: 0, cacheSize: 10 })
  t.teardown(() => fresh.close())
  await fresh.connect()
  const pages: number[][] = []
  for (let i = 0; i < 10; i++) {
    const page = await fresh.olderMessages(DM, 7)
    if (page.length === 0) break
    pages.push(page.map((m) => m.seq))
  }
  t.same(pages.flat().sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1), 'every message exactly once')
  t.same(pages[0], [24, 25, 26, 27, 28, 29, 30], 'the newest page first')
  t.same(pages.at(-1), [1, 2], 'down to seq 1')
  t.same(fresh.cachedMessages(DM).map((m) => m.seq), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30], 'the cache kept the newest 10')
  t.same(await fresh.olderMessages(DM), [], 'nothing older than seq 1')
})

t.test('read marks go to the server', async (t) => {
  const { server, client } = await setup(t)
  await client.connect()
  await client.read('dm:bob:alice', 3)
  t.same(server.framesOf('read').map(({ channel, seq }) => [channel, seq]), [[DM, 3]])
})

t.test('an acked message whose own event never comes is fetched by a sync after echoWaitMs', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 0, echoWaitMs: 200 })
  const synced = new Promise((resolve) => client.once('synced', resolve))
  await client.connect()
  await synced
  // The node stores the message and acks it, but the push of its event to this device is lost.
  server.onFrame = (conn, frame) => {
    if (frame.op !== 'send') return false
    conn.send({ ...server.store(conn.user, frame, false), ref: frame.ref })
    return true
  }
  const ack = await client.send(DM, 'hello')
  t.equal(ack.seq, 1)
  await waitFor(() => seqs().length === 1, { timeout: 3000, what: 'the own message via sync' })
  t.equal(server.framesOf('sync').length, 2, 'one catch-up sync, then one for the missing echo')
  t.same(client.cachedMessages(DM).map((m) => m.text), ['hello'])
})

t.test('an echo that arrives (even before its ack) causes no extra sync', async (t) => {
  const { server, client, seqs } = await setup(t, {}, { inboxSeq: 0, echoWaitMs: 100 })
  const synced = new Promise((resolve) => client.once('synced', resolve))
  await client.connect()
  await synced
  // The event's push overtakes the ack for the second message.
  let n = 0
  server.onFrame = (conn, frame) => {
    if (frame.op !== 'send') return false
    const ack = server.store(conn.user, frame, n++ !== 1)
    if (n === 2) for (const e of server.inbox(conn.user).slice(-1)) conn.send(e)
    conn.send({ ...ack, ref: frame.ref })
    return true
  }
  await client.send(DM, 'one')
  await client.send(DM, 'two')
  await waitFor(() => seqs().length === 2, { what: 'both echoes' })
  await new Promise((r) => setTimeout(r, 400))
  t.equal(server.framesOf('sync').length, 1, 'only the catch-up sync')
})
