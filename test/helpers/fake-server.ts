/**
 * A stand-in chat node for client SDK tests: a real HTTP + WebSocket server on 127.0.0.1 (free
 * port) implementing just enough of PROTOCOL.md: ready, send/ack with dedupe by clientMsgId,
 * per-user inboxes with sync paging, pushes, history, read, presence, ping, a few HTTP routes.
 * Tests steer it through `onFrame` / `onReady` and the drop and push helpers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import type { AckFrame, ClientFrame, InboxEvent, Message, SendFrame, ServerFrame } from '../../src/protocol/frames.js'

export interface Conn {
  /** 1 for the first accepted socket, 2 for the next, ... */
  id: number
  user: string
  deviceId: string
  socket: WebSocket
  send(frame: ServerFrame): void
}

export interface FakeServerOptions {
  /** token -> username. Default: tok-alice, tok-bob, tok-carol. */
  tokens?: Record<string, string>
  /** Largest sync page the server returns, whatever the client asks. */
  syncPageMax?: number
  /** Bad tokens: refuse the upgrade with HTTP 401 (true) or accept and close with 4401 (default). */
  refuseUpgrade?: boolean
}

/** An inbox event before the server numbers it. */
type WithoutSeq<E> = E extends unknown ? Omit<E, 'inboxSeq'> : never
type EventBody = WithoutSeq<InboxEvent>

export class FakeServer {
  readonly conns = new Set<Conn>()
  /** Every client frame received, in order. */
  readonly frames: Array<{ conn: number; user: string; frame: ClientFrame }> = []
  /** Sockets accepted (ready sent), bad tokens included. */
  accepted = 0
  discoverCalls = 0
  /** Return true to skip the default handling of a frame. */
  onFrame: ((conn: Conn, frame: ClientFrame) => boolean) | undefined
  /** Called after `ready` is sent on a new connection. */
  onReady: ((conn: Conn) => void) | undefined
  private readonly inboxes = new Map<string, InboxEvent[]>()
  private readonly channels = new Map<string, Message[]>()
  private readonly acks = new Map<string, AckFrame>()
  private readonly tokens: Record<string, string>
  private readonly http = createServer((req, res) => this.handleHttp(req, res))
  private readonly wss = new WebSocketServer({ noServer: true })
  private readonly sockets = new Set<Socket>()
  private nextDevice = 1

  private constructor(private readonly options: FakeServerOptions) {
    this.tokens = options.tokens ?? { 'tok-alice': 'alice', 'tok-bob': 'bob', 'tok-carol': 'carol' }
    this.http.on('connection', (socket) => { this.sockets.add(socket); socket.on('close', () => this.sockets.delete(socket)) })
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head))
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const server = new FakeServer(options)
    await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve))
    return server
  }

  get port(): number { return (this.http.address() as AddressInfo).port }
  get httpUrl(): string { return `http://127.0.0.1:${this.port}` }
  get wsUrl(): string { return `ws://127.0.0.1:${this.port}/ws` }

  /** Client frames of one op, in arrival order. */
  framesOf<Op extends ClientFrame['op']>(op: Op): Array<Extract<ClientFrame, { op: Op }>> {
    return this.frames.map((f) => f.frame).filter((f): f is Extract<ClientFrame, { op: Op }> => f.op === op)
  }

  inbox(user: string): InboxEvent[] {
    let inbox = this.inboxes.get(user)
    if (inbox === undefined) this.inboxes.set(user, inbox = [])
    return inbox
  }

  messages(channel: string): Message[] {
    let list = this.channels.get(channel)
    if (list === undefined) this.channels.set(channel, list = [])
    return list
  }

  /** Appends an event to a user's inbox; pushes it to their sockets unless `push` is false. */
  appendEvent(user: string, body: EventBody, push = true): InboxEvent {
    const inbox = this.inbox(user)
    const event = { ...body, inboxSeq: inbox.length + 1 } as InboxEvent
    inbox.push(event)
    if (push) this.pushTo(user, event)
    return event
  }

  /** Stores a send once per (channel, clientMsgId) and fans it out; returns the (original) ack. */
  store(from: string, frame: SendFrame, push = true): AckFrame {
    const { ack, events } = this.storeOnce(from, frame)
    if (push) for (const { user, event } of events) this.pushTo(user, event)
    return ack
  }

  private storeOnce(from: string, frame: SendFrame): { ack: AckFrame; events: Array<{ user: string; event: InboxEvent }> } {
    const key = `${frame.channel}\u0000${frame.clientMsgId}`
    const known = this.acks.get(key)
    if (known !== undefined) return { ack: known, events: [] }
    const list = this.messages(frame.channel)
    const message: Message = { channel: frame.channel, seq: list.length + 1, from, text: frame.text, ts: Date.now(), clientMsgId: frame.clientMsgId }
    list.push(message)
    const ack: AckFrame = { op: 'ack', channel: message.channel, seq: message.seq, ts: message.ts, clientMsgId: message.clientMsgId }
    this.acks.set(key, ack)
    const events = membersOf(frame.channel, from).map((user) => ({ user, event: this.appendEvent(user, { op: 'message', ...message }, false) }))
    return { ack, events }
  }

  pushTo(user: string, frame: ServerFrame): void {
    for (const conn of this.conns) if (conn.user === user) conn.send(frame)
  }

  /** Kills every socket without a close frame, like a crashed node or a dead network. */
  dropAll(): void {
    for (const conn of this.conns) conn.socket.terminate()
  }

  closeAll(code: number, reason = ''): void {
    for (const conn of this.conns) conn.socket.close(code, reason)
  }

  async close(): Promise<void> {
    this.dropAll()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    await new Promise<void>((resolve) => this.http.close(() => resolve()))
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/ws') return void socket.destroy()
    const user = this.tokens[url.searchParams.get('token') ?? '']
    if (user === undefined && this.options.refuseUpgrade === true) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const id = ++this.accepted
      if (user === undefined) return void ws.close(4401, 'bad token')
      const deviceId = url.searchParams.get('deviceId') ?? `dev${this.nextDevice++}`
      const conn: Conn = { id, user, deviceId, socket: ws, send: (frame) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame)) } }
      this.conns.add(conn)
      ws.on('close', () => this.conns.delete(conn))
      ws.on('message', (data) => this.receive(conn, String(data)))
      conn.send({ op: 'ready', user, deviceId, node: 'fake-1', inboxSeq: this.inbox(user).length })
      this.onReady?.(conn)
    })
  }

  private receive(conn: Conn, text: string): void {
    let frame: ClientFrame
    try {
      frame = JSON.parse(text) as ClientFrame
    } catch {
      return conn.send({ op: 'error', code: 'BAD_FRAME', message: 'not JSON' })
    }
    this.frames.push({ conn: conn.id, user: conn.user, frame })
    if (this.onFrame?.(conn, frame) === true) return
    const ref = frame.ref
    switch (frame.op) {
      case 'send': {
        const { ack, events } = this.storeOnce(conn.user, frame)
        conn.send({ ...ack, ref })
        // Pushes follow the ack, as on the real server.
        for (const { user, event } of events) this.pushTo(user, event)
        return
      }
      case 'sync': {
        const limit = Math.min(frame.limit ?? 200, this.options.syncPageMax ?? 1000)
        const newer = this.inbox(conn.user).filter((e) => e.inboxSeq > frame.since)
        const events = newer.slice(0, limit)
        return conn.send({ op: 'sync', ref, events, next: events.at(-1)?.inboxSeq ?? frame.since, more: newer.length > limit })
      }
      case 'history': {
        const { before, after, limit = 50 } = frame
        const inWindow = this.messages(frame.channel).filter((m) => (before === undefined || m.seq < before) && (after === undefined || m.seq > after))
        const messages = after !== undefined ? inWindow.slice(0, limit) : inWindow.slice(-limit)
        return conn.send({ op: 'history', ref, channel: frame.channel, messages })
      }
      case 'read': return conn.send({ op: 'ok', ref })
      case 'presence': return conn.send({ op: 'presence', ref, presence: [] })
      case 'ping': return conn.send({ op: 'pong', ref })
      default: return conn.send({ op: 'error', ref, code: 'BAD_FRAME', message: 'unknown op' })
    }
  }

  private handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    const url = new URL(req.url ?? '/', 'http://x')
    if (req.method === 'GET' && url.pathname === '/v1/discover') {
      this.discoverCalls++
      return reply(200, { url: this.wsUrl, nodeId: 'fake-1' })
    }
    if (req.method === 'GET' && url.pathname === '/v1/me') {
      const user = this.tokens[(req.headers.authorization ?? '').replace(/^Bearer /, '')]
      if (user === undefined) return reply(401, { error: { code: 'UNAUTHORIZED', message: 'bad token' } })
      return reply(200, { user: { username: user, displayName: user } })
    }
    if (req.method === 'POST' && (url.pathname === '/v1/users' || url.pathname === '/v1/sessions')) {
      let body = ''
      req.on('data', (chunk) => { body += String(chunk) })
      req.on('end', () => {
        const { username, deviceId } = JSON.parse(body) as { username: string; deviceId?: string }
        const token = Object.keys(this.tokens).find((k) => this.tokens[k] === username)
        if (url.pathname === '/v1/sessions') {
          // Any password will do: the fake only knows its configured users.
          if (token === undefined) return reply(401, { error: { code: 'UNAUTHORIZED', message: 'bad credentials' } })
          return reply(200, { token, user: { username, displayName: username }, deviceId: deviceId ?? `dev${this.nextDevice++}` })
        }
        if (token !== undefined) return reply(409, { error: { code: 'USERNAME_TAKEN', message: 'taken' } })
        // A sign-up logs the new account in, as a node does.
        this.tokens[`tok-${username}`] = username
        return reply(201, { token: `tok-${username}`, user: { username, displayName: username }, deviceId: deviceId ?? `dev${this.nextDevice++}` })
      })
      return
    }
    reply(404, { error: { code: 'NOT_FOUND', message: 'no route' } })
  }
}

/** Members of a channel in this fake: the two users of a dm id, or the sender for anything else. */
function membersOf(channel: string, from: string): string[] {
  const parts = channel.split(':')
  return parts[0] === 'dm' && parts.length === 3 ? [parts[1] as string, parts[2] as string] : [from]
}
