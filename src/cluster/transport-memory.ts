/**
 * The transport for several nodes in one process: a `MemoryNetwork` shared by many
 * `MemoryTransport`s, addresses like 'mem:1'. Bodies still pass through JSON text, so a test
 * catches a body that would not survive the real wire. Every request and every reply is a
 * delivery on the receiver's clock, so on virtual time a paused node receives nothing and a
 * killed one answers nothing. The network can mark an address down (a dead peer: calls reject
 * UNAVAILABLE at once), delay deliveries (a slow link or node), and take a `LinkFaults` that
 * decides, per message and direction, whether it is lost, delayed or duplicated (partitions,
 * one-way cuts, reordering: the simulator's nemesis).
 */
import { type Clock, systemClock } from '../clock.js'
import {
  errorMessage, internalReply, settleReplies, settleReply, TransportError,
  type ActorCall, type ActorMultiCall, type PeerClient, type PeerRequest, type PushBatch,
  type RemoteError, type Reply, type Transport, type TransportHandlers,
} from './transport.js'

/** Decides the fate of one message on the link `from` -> `to` (bound addresses; '' for a caller that does not listen). */
export interface LinkFaults {
  /** The delay of each copy delivered: [] loses the message, two entries duplicate it. */
  route(from: string, to: string, kind: 'request' | 'reply'): number[]
}

interface Server { handlers: TransportHandlers; clock: Clock }

export class MemoryNetwork {
  /** Delay applied to every delivery whose address has no delay of its own. */
  delayMs = 0
  /** When set, decides every message's fate (the delays above are then its business). */
  faults: LinkFaults | undefined
  private readonly servers = new Map<string, Server>()
  private readonly down = new Set<string>()
  private readonly delays = new Map<string, number>()
  private lastPort = 0

  /** A down address refuses calls as if its node were dead, whether or not anything listens there. */
  setDown(address: string, down: boolean): void {
    if (down) this.down.add(address)
    else this.down.delete(address)
  }

  isDown(address: string): boolean {
    return this.down.has(address)
  }

  /** Delay for deliveries to one address; `undefined` falls back to `delayMs`. */
  setDelay(address: string, ms: number | undefined): void {
    if (ms === undefined) this.delays.delete(address)
    else this.delays.set(address, ms)
  }

  delayFor(address: string): number {
    return this.delays.get(address) ?? this.delayMs
  }

  /** The delays of the copies of one message from `from` to `to`. */
  route(from: string, to: string, kind: 'request' | 'reply'): number[] {
    return this.faults ? this.faults.route(from, to, kind) : [kind === 'request' ? this.delayFor(to) : 0]
  }

  bind(host: string, port: number, handlers: TransportHandlers, clock: Clock = systemClock): number {
    const bound = port === 0 ? this.freePort(host) : port
    const address = `${host}:${bound}`
    if (this.servers.has(address)) throw new TransportError('UNAVAILABLE', `${address} is already in use`)
    this.servers.set(address, { handlers, clock })
    return bound
  }

  unbind(address: string, handlers: TransportHandlers): void {
    if (this.servers.get(address)?.handlers === handlers) this.servers.delete(address)
  }

  /** The server at an address right now, or undefined when nothing reachable is there. */
  reach(address: string): Server | undefined {
    return this.down.has(address) ? undefined : this.servers.get(address)
  }

  private freePort(host: string): number {
    do this.lastPort++
    while (this.servers.has(`${host}:${this.lastPort}`))
    return this.lastPort
  }
}

export class MemoryTransport implements Transport {
  private readonly clients = new Map<string, MemoryPeerClient>()
  private bound: { address: string; handlers: TransportHandlers } | undefined
  private closed = false

  /** `clock` runs this node's side: its handlers, its deadlines, the replies it receives. */
  constructor(readonly network: MemoryNetwork, private readonly clock: Clock = systemClock) {}

  async listen(host: string, port: number, handlers: TransportHandlers): Promise<number> {
    if (this.closed) throw new TransportError('UNAVAILABLE', 'transport is closed')
    if (this.bound) throw new Error('transport is already listening')
    const bound = this.network.bind(host, port, handlers, this.clock)
    this.bound = { address: `${host}:${bound}`, handlers }
    return bound
  }

  peer(address: string): PeerClient {
    let client = this.clients.get(address)
    if (!client) {
      client = new MemoryPeerClient(address, this.network, this.clock, () => this.bound?.address ?? '', () => this.closed)
      if (!this.closed) this.clients.set(address, client)
    }
    return client
  }

  async close(): Promise<void> {
    this.closed = true
    this.clients.clear()
    if (this.bound) this.network.unbind(this.bound.address, this.bound.handlers)
    this.bound = undefined
  }
}

class MemoryPeerClient implements PeerClient {
  constructor(
    private readonly address: string,
    private readonly network: MemoryNetwork,
    private readonly clock: Clock,
    private readonly from: () => string,
    private readonly isClosed: () => boolean,
  ) {}

  async call(req: ActorCall, deadlineMs: number): Promise<Reply> {
    const body = wire(req.body)
    return this.deliver(deadlineMs, async (h) => relayReply(await settleReply(() =>
      h.call({ key: req.key, kind: req.kind, body: unwire(body), ringVersion: req.ringVersion, from: req.from }))))
  }

  async callMany(req: ActorMultiCall, deadlineMs: number): Promise<Reply[]> {
    const body = wire(req.body)
    const keys = [...req.keys]
    return this.deliver(deadlineMs, async (h) => (await settleReplies(keys.length, () =>
      h.callMany({ keys, kind: req.kind, body: unwire(body), ringVersion: req.ringVersion, from: req.from }))).map(relayReply))
  }

  async push(batch: PushBatch, deadlineMs: number): Promise<void> {
    const copy = JSON.parse(JSON.stringify(batch)) as PushBatch
    return this.deliver(deadlineMs, async (h) => {
      try {
        await h.push(copy)
      } catch (err) {
        throw new TransportError('INTERNAL', `push to ${this.address} failed: ${errorMessage(err)}`, err)
      }
    })
  }

  async peer(req: PeerRequest, deadlineMs: number): Promise<Reply> {
    const body = wire(req.body)
    return this.deliver(deadlineMs, async (h) => relayReply(await settleReply(() =>
      h.peer({ kind: req.kind, body: unwire(body), ringVersion: req.ringVersion, from: req.from }))))
  }

  /**
   * Settles with the handler's result or with DEADLINE, whichever comes first, like a real call.
   * The address is checked when the call is sent and again when it arrives, so a peer marked down
   * meanwhile refuses it. A lost request or reply ends in DEADLINE; of duplicated copies, each runs
   * the handler and the first reply back wins.
   */
  private deliver<T>(deadlineMs: number, run: (handlers: TransportHandlers) => Promise<T>): Promise<T> {
    if (this.isClosed()) return Promise.reject(new TransportError('UNAVAILABLE', 'transport is closed'))
    if (!this.network.reach(this.address)) return Promise.reject(unavailable(this.address))
    const from = this.from()
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const deadline = this.clock.setTimeout(() => settle(() => reject(new TransportError('DEADLINE', `${this.address}: deadline of ${deadlineMs} ms exceeded`))), deadlineMs)
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        this.clock.clearTimeout(deadline)
        fn()
      }
      // The answer travels back over the reverse link, to this node's clock.
      const answer = (fn: () => void): void => {
        const [delay] = this.network.route(this.address, from, 'reply')
        if (delay !== undefined) later(this.clock, delay, () => settle(fn))
      }
      for (const delay of this.network.route(from, this.address, 'request')) {
        const server = this.network.reach(this.address)
        if (!server) {
          this.clock.setImmediate(() => settle(() => reject(unavailable(this.address))))
          break
        }
        later(server.clock, delay, () => {
          const here = this.network.reach(this.address)
          if (!here) return answer(() => reject(unavailable(this.address)))
          run(here.handlers).then((value) => answer(() => resolve(value)), (err) => answer(() => reject(err)))
        })
      }
    })
  }
}

function later(clock: Clock, ms: number, fn: () => void): void {
  if (ms > 0) clock.setTimeout(fn, ms)
  else clock.setImmediate(fn)
}

function unavailable(address: string): TransportError {
  return new TransportError('UNAVAILABLE', `${address} is unreachable`)
}

/**
 * A body as JSON text, as it would cross the wire (the same rules as encodeBody, without the bytes):
 * a body that would not survive the real wire fails here too; `undefined` travels as no body.
 */
function wire(body: unknown): string | undefined {
  try {
    return JSON.stringify(body)
  } catch (err) {
    throw new TransportError('INTERNAL', `body is not JSON-serializable: ${errorMessage(err)}`, err)
  }
}

function unwire(text: string | undefined): unknown {
  return text === undefined ? undefined : JSON.parse(text)
}

/** A reply crosses the wire as JSON too, so a reply body that would not serialize is caught. */
function relayReply(reply: Reply): Reply {
  try {
    return reply.ok
      ? { ok: true, body: unwire(wire(reply.body)) }
      : { ok: false, error: JSON.parse(JSON.stringify(reply.error)) as RemoteError }
  } catch (err) {
    return internalReply(err)
  }
}
