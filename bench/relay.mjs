#!/usr/bin/env node
/**
 * The yardstick: a minimal, non-durable WebSocket relay that speaks the same frames as a chat node
 * for the benchmark's workloads. `GET /ws?token=<username>&deviceId=<id>` (the token is the username:
 * no auth), first frame `ready`; a `send` is answered with an `ack` and pushed as a `message` event
 * to every connected device of every member of the channel (the sender's own included, as a node
 * does). Channel seqs and inbox seqs are counters in memory; nothing is stored, nothing survives.
 * `POST /v1/groups {name, members}` with `Authorization: Bearer <username>` makes a group.
 *   node bench/relay.mjs [--port 0]   prints {"msg":"ready","http":"http://127.0.0.1:PORT"}
 */
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

function main(argv) {
  const at = argv.indexOf('--port')
  const port = at >= 0 ? Number(argv[at + 1]) : 0
  const devices = new Map() // username -> Set<WebSocket>
  const inboxSeq = new Map() // username -> number
  const channelSeq = new Map() // channel id -> number
  const groups = new Map() // 'g:<n>' -> members
  let nextGroup = 1

  const membersOf = (channel) => {
    if (channel.startsWith('dm:')) {
      const parts = channel.split(':')
      return parts.length === 3 && parts[1] !== parts[2] ? [parts[1], parts[2]] : null
    }
    return groups.get(channel) ?? null
  }

  const onSend = (ws, user, frame) => {
    const members = typeof frame.channel === 'string' ? membersOf(frame.channel) : null
    if (!members || !members.includes(user)) {
      ws.send(JSON.stringify({ op: 'error', ref: frame.ref, code: 'NOT_FOUND', message: 'no such channel' }))
      return
    }
    if (typeof frame.text !== 'string' || frame.text.length === 0 || typeof frame.clientMsgId !== 'string') {
      ws.send(JSON.stringify({ op: 'error', ref: frame.ref, code: 'BAD_FRAME', message: 'send needs channel, clientMsgId, text' }))
      return
    }
    const seq = (channelSeq.get(frame.channel) ?? 0) + 1
    channelSeq.set(frame.channel, seq)
    const ts = Date.now()
    ws.send(JSON.stringify({ op: 'ack', ref: frame.ref, channel: frame.channel, seq, ts, clientMsgId: frame.clientMsgId }))
    for (const member of members) {
      const n = (inboxSeq.get(member) ?? 0) + 1
      inboxSeq.set(member, n)
      const sockets = devices.get(member)
      if (!sockets) continue
      const event = JSON.stringify({ op: 'message', inboxSeq: n, channel: frame.channel, seq, from: user, text: frame.text, ts, clientMsgId: frame.clientMsgId })
      for (const s of sockets) s.send(event)
    }
  }

  const server = createServer((req, res) => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && req.url === '/healthz') return reply(200, { status: 'ok', nodeId: 'relay' })
    if (req.method === 'POST' && req.url === '/v1/groups') {
      const user = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      let body = ''
      req.on('data', (c) => { body += c })
      req.on('end', () => {
        let parsed
        try {
          parsed = JSON.parse(body)
        } catch {
          return reply(400, { error: { code: 'BAD_REQUEST', message: 'not JSON' } })
        }
        const id = `g:${nextGroup++}`
        const members = [...new Set([user, ...(parsed.members ?? [])])]
        groups.set(id, members)
        reply(201, { channel: { id, kind: 'group', name: parsed.name, members } })
      })
      return
    }
    reply(404, { error: { code: 'NOT_FOUND', message: 'not found' } })
  })

  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url, 'http://relay')
    const user = url.searchParams.get('token') ?? ''
    if (!user) return ws.close(4401, 'no token')
    const deviceId = url.searchParams.get('deviceId') ?? 'd'
    if (!devices.has(user)) devices.set(user, new Set())
    devices.get(user).add(ws)
    ws.on('close', () => devices.get(user)?.delete(ws))
    ws.on('error', () => {})
    ws.on('message', (data) => {
      let frame
      try {
        frame = JSON.parse(data.toString())
      } catch {
        return ws.send(JSON.stringify({ op: 'error', code: 'BAD_FRAME', message: 'not JSON' }))
      }
      if (frame.op === 'send') onSend(ws, user, frame)
      else if (frame.op === 'ping') ws.send(JSON.stringify({ op: 'pong', ref: frame.ref }))
      else ws.send(JSON.stringify({ op: 'error', ref: frame.ref, code: 'BAD_FRAME', message: `unsupported op ${frame.op}` }))
    })
    ws.send(JSON.stringify({ op: 'ready', user, deviceId, node: 'relay', inboxSeq: inboxSeq.get(user) ?? 0 }))
  })

  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ msg: 'ready', http: `http://127.0.0.1:${server.address().port}` }) + '\n')
  })
  const stop = () => {
    for (const c of wss.clients) c.terminate()
    server.close(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main(process.argv.slice(2))
