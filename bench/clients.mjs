/**
 * What the workloads need from a target: accounts (signed up and logged in once per target, in
 * bounded parallel, since each costs a scrypt hash), WebSocket connections that resolve on the
 * `ready` frame, and group creation. A target is `{ kind: 'relay' | 'node', nodes: [{http, ws}] }`.
 */
import WebSocket from 'ws'

const PASSWORD = 'bench-password-123'
const CONNECT_MS = 20_000

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function pool(items, limit, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

async function post(url, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null, text }
}

/**
 * `count` users named u0000...; returns [{username, token}]. On a cluster, the requests go round
 * the nodes so every node's hashing pool works.
 */
export async function makeUsers(target, count, concurrency = 8) {
  const names = Array.from({ length: count }, (_, i) => `u${String(i).padStart(4, '0')}`)
  if (target.kind === 'relay') return names.map((username) => ({ username, token: username }))
  return pool(names, concurrency, async (username, i) => {
    const base = target.nodes[i % target.nodes.length].http
    const s = await post(`${base}/v1/users`, { username, password: PASSWORD })
    if (s.status !== 201 && s.status !== 409) throw new Error(`signup ${username}: ${s.status} ${s.text}`)
    // A sign-up answers with a session (one password hash, not two); older builds need a login.
    if (s.body?.token) return { username, token: s.body.token }
    const l = await post(`${base}/v1/sessions`, { username, password: PASSWORD })
    if (l.status !== 200) throw new Error(`login ${username}: ${l.status} ${l.text}`)
    return { username, token: l.body.token }
  })
}

/** A group made by `owner` with `members`; returns its channel id. */
export async function createGroup(target, owner, members) {
  const r = await post(`${target.nodes[0].http}/v1/groups`, { name: 'bench group', members }, owner.token)
  if (r.status !== 201) throw new Error(`create group: ${r.status} ${r.text}`)
  return r.body.channel.id
}

/** The canonical 1:1 channel id of two users. */
export function dmId(a, b) {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`
}

/**
 * Opens a WebSocket as `user` (device `deviceId`) and resolves once the `ready` frame arrived.
 * Every later frame goes, parsed, to `conn.onFrame`, which the workload sets, except answers to
 * `request()`; `conn.closed` records the close code and `conn.unexpected` whether nobody asked
 * for it. With `track`, `conn.pushed` collects the inboxSeq of every event pushed to the socket
 * from `ready` on (`conn.readyInboxSeq`), for the check that an open socket missed nothing.
 */
export function connect(wsUrl, user, deviceId, { track = false } = {}) {
  const url = `${wsUrl}?token=${encodeURIComponent(user.token)}&deviceId=${encodeURIComponent(deviceId)}`
  const ws = new WebSocket(url, { perMessageDeflate: false })
  const conn = {
    ws, user: user.username, deviceId, onFrame: () => {}, inboxSeq: 0, readyInboxSeq: 0,
    pushed: track ? new Set() : null, pending: new Map(), closed: null, expectClose: false, unexpected: false,
  }
  return new Promise((res, rej) => {
    let ready = false
    const timer = setTimeout(() => fail(new Error(`no ready frame from ${wsUrl} within ${CONNECT_MS} ms`)), CONNECT_MS)
    const fail = (err) => {
      clearTimeout(timer)
      if (!ready) {
        ws.terminate()
        rej(err)
      }
    }
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (!ready) {
        if (frame.op !== 'ready') return fail(new Error(`first frame was ${data.toString().slice(0, 200)}`))
        ready = true
        conn.inboxSeq = conn.readyInboxSeq = frame.inboxSeq ?? 0
        clearTimeout(timer)
        return res(conn)
      }
      if (conn.pushed && typeof frame.inboxSeq === 'number') conn.pushed.add(frame.inboxSeq)
      const waiter = frame.ref !== undefined ? conn.pending.get(frame.ref) : undefined
      if (waiter) {
        conn.pending.delete(frame.ref)
        return waiter(frame)
      }
      conn.onFrame(frame)
    })
    ws.on('error', (err) => fail(err))
    ws.on('close', (code) => {
      conn.closed = code
      if (!conn.expectClose) conn.unexpected = true
      for (const waiter of conn.pending.values()) waiter(null)
      conn.pending.clear()
      fail(new Error(`closed with ${code} before ready`))
    })
  })
}

let nextRef = 0

/** Sends `frame` with a fresh ref; resolves with the frame answering it, or null (closed, timed out). */
export function request(conn, frame, timeoutMs = 20_000) {
  if (conn.ws.readyState !== WebSocket.OPEN) return Promise.resolve(null)
  const ref = `req-${++nextRef}`
  return new Promise((res) => {
    const timer = setTimeout(() => {
      conn.pending.delete(ref)
      res(null)
    }, timeoutMs)
    conn.pending.set(ref, (f) => {
      clearTimeout(timer)
      res(f)
    })
    conn.ws.send(JSON.stringify({ ...frame, ref }))
  })
}

/** Closes connections and waits (bounded) until they are closed. */
export async function closeAll(conns, timeoutMs = 10_000) {
  const waits = conns.map((c) => {
    c.expectClose = true
    if (c.ws.readyState === WebSocket.CLOSED) return null
    const p = new Promise((r) => c.ws.once('close', r))
    c.ws.close(1000)
    return p
  })
  let timer
  await Promise.race([Promise.all(waits), new Promise((r) => { timer = setTimeout(r, timeoutMs) })])
  clearTimeout(timer)
  for (const c of conns) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate()
}

/** Closes that nobody asked for (slow-consumer 1013, server restarts, errors) among `conns`. */
export function unexpectedCloses(conns) {
  return conns.filter((c) => c.unexpected).map((c) => c.closed)
}
