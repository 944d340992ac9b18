/**
 * Steady chat traffic for multi-node tests, and what goes with it: setting up users and channels
 * (retrying UNAVAILABLE as clients do), placing users on chosen nodes by the ring, and the checks
 * that judge what the cluster kept.
 *
 * Each writer is one device of one user that sends one message at a time with at-least-once
 * retries: the same clientMsgId until it is acknowledged, reconnecting to another running node
 * whenever its socket closes or a reply does not come. Writers record every send and every close
 * code they saw, so a test can tell which clients a leaving node closed and how.
 */
import WebSocket from 'ws'
import { Replies } from './replies.js'
import { Ring } from '../../src/cluster/ring.js'
import { api, login } from './node-process.js'
import { waitFor } from './wait.js'

const REPLY_TIMEOUT_MS = 5000

export interface SentMessage {
  channel: string
  clientMsgId: string
  text: string
  from: string
  attempts: number
  /** Acknowledged seq; null while not (yet) acknowledged. */
  seq: number | null
  /** An error that is not worth a retry (anything but UNAVAILABLE and RATE_LIMITED). */
  refused: string | null
  /** When it was first sent, and when its ack came (ms since the epoch; null while not acknowledged). */
  sentAt: number
  ackedAt: number | null
}

export interface CloseRecord { user: string; node: string; code: number; reason: string }

/** Where a writer may connect: node id and HTTP base URL, of the nodes running now. */
export type NodeList = () => Array<{ id: string; url: string }>

export interface TrafficOptions {
  /** username -> token */
  tokens: Map<string, string>
  /** channel id -> members; every member writes to every channel it is in. */
  channels: Map<string, string[]>
  nodes: NodeList
  /** Pause between two sends of one writer (ms). Default 40. */
  pauseMs?: number
}

export class Traffic {
  readonly sent: SentMessage[] = []
  readonly closes: CloseRecord[] = []
  private readonly writers: Writer[] = []
  private readonly running: Promise<void>[] = []

  /** Starts one writer per user; writer i first connects to node i modulo the node count. */
  constructor(options: TrafficOptions) {
    const users = [...options.tokens.keys()]
    users.forEach((user, i) => {
      const channels = [...options.channels].filter(([, members]) => members.includes(user)).map(([id]) => id)
      const w = new Writer(user, options.tokens.get(user)!, channels, options.nodes, i, options.pauseMs ?? 40, this)
      this.writers.push(w)
      this.running.push(w.run())
    })
  }

  acked(): SentMessage[] {
    return this.sent.filter((s) => s.seq !== null)
  }

  /** Resolves once `n` more messages have been acknowledged (from now). */
  async progress(n: number, timeout = 20_000): Promise<void> {
    const from = this.acked().length
    await waitFor(() => this.acked().length >= from + n, { timeout, every: 50, what: `${n} more acks (had ${from})` })
  }

  /** Stops starting new sends; the ones in flight are retried until acknowledged or `timeout` passes. */
  async stop(timeout = 30_000): Promise<void> {
    const deadline = Date.now() + timeout
    for (const w of this.writers) w.finish(deadline)
    await Promise.all(this.running)
  }

  /** Node ids the writers were connected to when `ready` came. */
  connectedNodes(): Set<string> {
    return new Set(this.writers.flatMap((w) => w.visited))
  }
}

class Writer {
  readonly visited: string[] = []
  private ws: WebSocket | null = null
  private readonly hungUp = new WeakSet<WebSocket>()
  private count = 0
  private stopAt = Infinity
  private lastClosedBy = ''
  private readonly replies = new Replies(REPLY_TIMEOUT_MS)

  constructor(
    private readonly user: string,
    private readonly token: string,
    private readonly channels: string[],
    private readonly nodes: NodeList,
    private readonly index: number,
    private readonly pauseMs: number,
    private readonly traffic: Traffic,
  ) {}

  finish(deadline: number): void {
    this.stopAt = deadline
  }

  async run(): Promise<void> {
    while (this.stopAt === Infinity) {
      const channel = this.channels[this.count % this.channels.length]!
      const clientMsgId = `${this.user}-${++this.count}`
      const rec: SentMessage = {
        channel, clientMsgId, text: `${clientMsgId} from ${this.user}`, from: this.user, attempts: 0, seq: null, refused: null, sentAt: Date.now(), ackedAt: null,
      }
      this.traffic.sent.push(rec)
      await this.deliver(rec)
      await pause(this.pauseMs)
    }
    this.hangUp()
  }

  /** Closes from this side; such closes are not the server's doing and are not recorded. */
  private hangUp(): void {
    if (this.ws) this.hungUp.add(this.ws)
    this.ws?.terminate()
    this.ws = null
  }

  private async deliver(rec: SentMessage): Promise<void> {
    while (Date.now() < this.stopAt) {
      try {
        const ws = await this.connection()
        rec.attempts++
        const reply = await this.request(ws, { op: 'send', channel: rec.channel, clientMsgId: rec.clientMsgId, text: rec.text })
        if (reply.op === 'ack') {
          rec.seq = reply.seq
          rec.ackedAt = Date.now()
          return
        }
        if (reply.code !== 'UNAVAILABLE' && reply.code !== 'RATE_LIMITED') {
          rec.refused = `${reply.code}: ${reply.message}`
          return
        }
        await pause(100)
      } catch {
        this.hangUp()
        await pause(100)
      }
    }
  }

  /** The open socket, or a new one: first to this writer's own node, after a close to any other. */
  private async connection(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws
    const nodes = this.nodes()
    const others = nodes.filter((n) => n.id !== this.lastClosedBy)
    const pool = others.length > 0 ? others : nodes
    const target = this.visited.length === 0 ? nodes[this.index % nodes.length]! : pool[Math.floor(Math.random() * pool.length)]!
    const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/ws?${new URLSearchParams({ token: this.token, deviceId: `traffic-${this.user}` })}`)
    this.ws = ws
    let node = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timeout')), REPLY_TIMEOUT_MS)
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString())
        if (f.op === 'ready') {
          clearTimeout(timer)
          node = f.node
          this.visited.push(node)
          resolve()
          return
        }
        this.replies.settle(f)
      })
      ws.on('close', (code, reason) => {
        clearTimeout(timer)
        if (node && !this.hungUp.has(ws)) {
          this.traffic.closes.push({ user: this.user, node, code, reason: reason.toString() })
          this.lastClosedBy = node
        }
        reject(new Error(`closed ${code}`))
        if (ws !== this.ws) return
        this.replies.failAll()
      })
      ws.on('error', () => undefined)
    })
    return ws
  }

  private request(ws: WebSocket, frame: Record<string, unknown>): Promise<any> {
    return this.replies.request(ws, frame)
  }

}

/**
 * `login` as a client would do it: an UNAVAILABLE answer (503: nothing was stored, retry later)
 * is retried a few times. The first write to a new key takes its replicas over, and under CPU
 * contention that can time out once.
 */
export async function signIn(base: string, username: string, deviceId?: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await login(base, username, deviceId)
    } catch (err) {
      if (attempt >= 5 || !/: 503 /.test((err as Error).message)) throw err
      await pause(300)
    }
  }
}

/** One HTTP call, retried a few times while it answers 503 UNAVAILABLE (nothing was stored). */
export async function apiRetrying(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Awaited<ReturnType<typeof api>>> {
  for (let attempt = 1; ; attempt++) {
    const r = await api(base, method, path, body, token)
    if (r.status !== 503 || attempt >= 5) return r
    await pause(300)
  }
}

export interface Workload {
  tokens: Map<string, string>
  /** channel id -> members */
  channels: Map<string, string[]>
}

/**
 * Signs the users up (round-robin over `bases`), creates each group (by its first member, through
 * the next base) and names the 1:1 channels between the given pairs.
 */
export async function workload(bases: string[], users: string[], groups: string[][], pairs: Array<[string, string]>): Promise<Workload> {
  const tokens = new Map<string, string>()
  for (const [i, u] of users.entries()) tokens.set(u, await signIn(bases[i % bases.length]!, u))
  const channels = new Map<string, string[]>()
  for (const [i, members] of groups.entries()) {
    const r = await apiRetrying(bases[(i + 1) % bases.length]!, 'POST', '/v1/groups', { name: `group ${i}`, members: members.slice(1) }, tokens.get(members[0]!))
    if (r.status !== 201) throw new Error(`group ${i}: ${r.status} ${r.text}`)
    channels.set(r.body.channel.id, members)
  }
  for (const [x, y] of pairs) channels.set(`dm:${[x, y].sort().join(':')}`, [x, y])
  return { tokens, channels }
}

/** A channel's whole history as one node serves it over HTTP, ascending. */
export async function fullHistory(base: string, channel: string, token: string): Promise<any[]> {
  const out: any[] = []
  for (let after = 0, page = 0; page < 1000; page++) {
    const r = await api(base, 'GET', `/v1/channels/${encodeURIComponent(channel)}/messages?after=${after}&limit=200`, undefined, token)
    if (r.status !== 200) throw new Error(`history of ${channel} from ${base}: ${r.status} ${r.text}`)
    out.push(...r.body.messages)
    if (r.body.messages.length < 200) return out
    after = r.body.messages[r.body.messages.length - 1].seq
  }
  throw new Error(`history of ${channel} did not end`)
}

const SYNC_RETRIES = 50
const SYNC_RETRY_MS = 200

/** A user's whole inbox through `sync` on a fresh socket to `base`; UNAVAILABLE pages are asked again. */
export async function fullInbox(base: string, token: string, deviceId = 'checker'): Promise<any[]> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?${new URLSearchParams({ token, deviceId })}`)
  const frames: any[] = []
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())))
  ws.on('error', () => undefined)
  const next = (pred: (f: any) => boolean) => waitFor(() => frames.find(pred), { timeout: 20_000, what: 'sync reply' })
  try {
    await next((f) => f.op === 'ready')
    const events: any[] = []
    let since = 0
    for (let page = 0, retries = 0; page < 1000; page++) {
      const ref = `s${page}`
      ws.send(JSON.stringify({ op: 'sync', since, limit: 1000, ref }))
      const r = await next((f) => f.ref === ref)
      // As a client does: UNAVAILABLE stored nothing and asks for a retry (a key still opening).
      if (r.op === 'error' && r.code === 'UNAVAILABLE' && retries++ < SYNC_RETRIES) {
        await pause(SYNC_RETRY_MS)
        continue
      }
      if (r.op !== 'sync') throw new Error(`sync: ${JSON.stringify(r)}`)
      events.push(...r.events)
      since = r.next
      if (!r.more) return events
    }
    throw new Error('sync did not end')
  } finally {
    ws.terminate()
  }
}

export interface Outcome {
  sent: SentMessage[]
  /** channel -> node id -> history served by that node */
  histories: Map<string, Map<string, any[]>>
  /** user -> whole inbox */
  inboxes: Map<string, any[]>
  channels: Map<string, string[]>
}

/**
 * Every violation of: acknowledged messages stored once, at their seq, with their text; seqs
 * 1..N; every node serving the same history; every member's inbox numbered 1..N and holding every
 * message of its channels exactly once; no send refused.
 */
export function problems(o: Outcome): string[] {
  const out: string[] = []
  const canonical = new Map<string, any[]>()
  for (const [channel, byNode] of o.histories) {
    const [[first, msgs]] = [...byNode] as [[string, any[]]]
    canonical.set(channel, msgs)
    for (const [node, other] of byNode) {
      if (JSON.stringify(other.map(brief)) !== JSON.stringify(msgs.map(brief))) out.push(`${channel}: ${node} serves another history than ${first}`)
    }
    msgs.forEach((m, i) => { if (m.seq !== i + 1) out.push(`${channel}: position ${i + 1} holds seq ${m.seq}`) })
    const ids = new Set<string>()
    for (const m of msgs) {
      if (ids.has(m.clientMsgId)) out.push(`${channel}: ${m.clientMsgId} stored twice`)
      ids.add(m.clientMsgId)
    }
  }
  for (const s of o.sent) {
    if (s.refused) out.push(`${s.channel}/${s.clientMsgId} refused: ${s.refused}`)
    if (s.seq === null) continue
    const m = canonical.get(s.channel)?.[s.seq - 1]
    if (!m || m.clientMsgId !== s.clientMsgId || m.text !== s.text || m.from !== s.from) {
      out.push(`${s.channel}/${s.clientMsgId} acknowledged at seq ${s.seq}, stored there: ${m ? m.clientMsgId : 'nothing'}`)
    }
  }
  for (const [user, events] of o.inboxes) {
    events.forEach((e, i) => { if (e.inboxSeq !== i + 1) out.push(`${user}: inbox position ${i + 1} holds inboxSeq ${e.inboxSeq}`) })
    const seen = new Map<string, number>()
    for (const e of events) if (e.op === 'message') seen.set(`${e.channel}/${e.seq}`, (seen.get(`${e.channel}/${e.seq}`) ?? 0) + 1)
    for (const [channel, members] of o.channels) {
      if (!members.includes(user)) continue
      for (const m of canonical.get(channel) ?? []) {
        const n = seen.get(`${channel}/${m.seq}`) ?? 0
        if (n !== 1) out.push(`${user}: ${channel}/${m.seq} is in the inbox ${n} times`)
      }
    }
  }
  return out
}

/** The acknowledged messages of `sent` not found at their seq, with their text, in `histories` (channel -> messages). */
export function missingFrom(sent: SentMessage[], histories: Map<string, any[]>): string[] {
  const out: string[] = []
  for (const s of sent) {
    if (s.seq === null) continue
    const m = histories.get(s.channel)?.[s.seq - 1]
    if (!m || m.clientMsgId !== s.clientMsgId || m.text !== s.text) out.push(`${s.channel}/${s.clientMsgId} (seq ${s.seq})`)
  }
  return out
}

/**
 * `judge`, repeated while the only problems are messages not yet in an inbox: fan-out to members
 * finishes after the ack (retried with backoff while keys move), so a missing inbox entry is final
 * only once `timeoutMs` has passed. Any other problem is returned at once.
 */
export async function judgeSettled(
  sent: SentMessage[], tokens: Map<string, string>, channels: Map<string, string[]>, nodes: Array<{ id: string; url: string }>,
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (let round = 1; ; round++) {
    const found = await judge(sent, tokens, channels, nodes)
    const pending = found.length > 0 && found.every((p) => p.endsWith('is in the inbox 0 times'))
    if (!pending || Date.now() >= deadline || round >= 200) return found
    await pause(500)
  }
}

/** Reads histories from every node and inboxes from node i modulo, then judges them. */
export async function judge(
  sent: SentMessage[], tokens: Map<string, string>, channels: Map<string, string[]>, nodes: Array<{ id: string; url: string }>,
): Promise<string[]> {
  const histories = new Map<string, Map<string, any[]>>()
  for (const [channel, members] of channels) {
    const byNode = new Map<string, any[]>()
    for (const n of nodes) byNode.set(n.id, await fullHistory(n.url, channel, tokens.get(members[0]!)!))
    histories.set(channel, byNode)
  }
  const inboxes = new Map<string, any[]>()
  let i = 0
  for (const [user, token] of tokens) inboxes.set(user, await fullInbox(nodes[i++ % nodes.length]!.url, token))
  return problems({ sent, histories, inboxes, channels })
}

export interface ClusterView {
  self: string
  ringVersion: number
  members: Array<{ id: string; http: string; grpc: string; live: boolean; connections: number; actors: number; region?: string | null }>
}

export async function clusterView(base: string): Promise<ClusterView> {
  const r = await api(base, 'GET', '/v1/cluster')
  if (r.status !== 200) throw new Error(`/v1/cluster on ${base}: ${r.status} ${r.text}`)
  return r.body as ClusterView
}

/** The node that owns `key` under this view, computed as every node does (first live replica). */
export function ownerOf(view: ClusterView, key: string, replicas = 3): string | undefined {
  const ring = new Ring({ version: view.ringVersion, members: view.members.map((m) => ({ id: m.id, http: m.http, grpc: m.grpc })) })
  const live = new Set(view.members.filter((m) => m.live).map((m) => m.id))
  return ring.owner(key, (id) => live.has(id), replicas)
}

/**
 * Usernames `<prefix><n>` whose user actors live on the given nodes, one per node in order, so
 * that a test can put users on different nodes on purpose rather than by luck.
 */
export function usersOn(view: ClusterView, nodes: string[], prefix: string, replicas = 3): string[] {
  const out: string[] = []
  let n = 0
  for (const node of nodes) {
    for (;;) {
      if (++n > 10_000) throw new Error(`no username lands on ${node}`)
      const name = `${prefix}${n}`
      if (ownerOf(view, `user:${name}`, replicas) === node) {
        out.push(name)
        break
      }
    }
  }
  return out
}

function brief(m: any): string {
  return `${m.seq}:${m.clientMsgId}:${m.from}`
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
