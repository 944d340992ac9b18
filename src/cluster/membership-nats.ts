import { type ConnectionOptions, connect, type NatsConnection, type QueuedIterator } from '@nats-io/transport-node'
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv'
import { sleep } from '../clock.js'
import { MembershipBase, type RecordChange } from './membership-base.js'
import {
  encodeRecordValue, MembershipError, parseRecordValue, toMemberInfo,
  type Heartbeat, type MemberAddresses, type MembershipOptions, type RingRecord,
} from './membership.js'

export interface NatsMembershipOptions extends MembershipOptions {
  servers: string | string[]
  /** Pause between reconnect attempts (ms); attempts never stop. Default 500. */
  reconnectWaitMs?: number
  /** How long leave(), remove() and refresh() keep retrying while the store is unreachable (ms). */
  opTimeoutMs?: number
  /** Credentials for the NATS server (nats-auth.ts). */
  auth?: Partial<ConnectionOptions>
}

/** The one key of the `<cluster>-members` bucket that holds the ring record. */
export const RECORD_KEY = 'ring'

/**
 * Membership over NATS. The ring record is the value of RECORD_KEY in the JetStream KV bucket
 * `<cluster>-members`, changed only by compare-and-set on its revision and followed by a KV watch;
 * heartbeats travel on core NATS subject `<cluster>.members.heartbeat`. Works with nats-server
 * 2.9 and later (it uses no KV feature of 2.10). Single use: start() once, stop() once.
 */
export class NatsMembership extends MembershipBase {
  private readonly servers: string | string[]
  private readonly reconnectWaitMs: number
  private readonly subject: string
  private readonly bucket: string
  private nc: NatsConnection | undefined
  private kv: KV | undefined
  private watcher: QueuedIterator<KvWatchEntry> | undefined
  private connected = false
  private readonly auth: Partial<ConnectionOptions>

  constructor(opts: NatsMembershipOptions) {
    super(opts)
    this.auth = opts.auth ?? {}
    this.servers = opts.servers
    this.reconnectWaitMs = opts.reconnectWaitMs ?? 500
    this.subject = `${opts.cluster}.members.heartbeat`
    this.bucket = `${opts.cluster}-members`
  }

  async start(addresses?: MemberAddresses): Promise<void> {
    if (this.started) throw new MembershipError('start() may be called once')
    this.bind(addresses)
    this.started = true
    const nc = await connect({
      ...this.auth,
      servers: this.servers,
      name: `${this.options.cluster}/${this.self.id}`,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: this.reconnectWaitMs,
      // The default ping interval would leave a half-open connection unnoticed for minutes.
      pingInterval: Math.max(1000, this.deadAfterMs),
    })
    if (this.abort.signal.aborted) {
      await nc.close()
      throw new MembershipError('start: membership stopped')
    }
    this.nc = nc
    this.connected = true
    this.followStatus(nc).catch((err) => this.log.error({ err }, 'membership status loop failed'))
    nc.subscribe(this.subject, {
      callback: (err, msg) => {
        const hb = err === null ? parseHeartbeat(msg.data) : undefined
        if (hb !== undefined) this.onHeartbeat(hb)
      },
    })
    this.startTimers()
    // Opens the bucket as it is if it exists (whatever its settings); creates it otherwise.
    this.kv = await this.retry('open bucket', Infinity, () => new Kvm(nc).create(this.bucket, { history: 16 }))
    await this.startWatch(this.kv)
    await this.join()
  }

  async refresh(): Promise<RingRecord> {
    const kv = this.store()
    await this.retry('refresh', this.opDeadline(), async () => this.applyEntry(await kv.get(RECORD_KEY)))
    return this.record
  }

  async previous(version: number): Promise<RingRecord> {
    const kv = this.store()
    return this.retry('previous', this.opDeadline(), async () => {
      let best: RingRecord = { version: 0, members: [] }
      const entries = await kv.history({ key: RECORD_KEY })
      for await (const e of entries) {
        if (e.revision < version && e.revision > best.version) {
          best = parseRecordValue(e.revision, e.operation === 'PUT' ? readJson(e) : undefined)
        }
      }
      return best
    })
  }

  protected sendHeartbeat(hb: Heartbeat): void {
    // While disconnected the client would buffer heartbeats and replay stale ones on reconnect.
    if (this.nc === undefined || !this.connected) return
    try {
      this.nc.publish(this.subject, JSON.stringify(hb))
    } catch (err) {
      this.log.debug({ err }, 'heartbeat not published')
    }
  }

  protected async flushHeartbeats(): Promise<void> {
    if (this.connected) await this.nc?.flush()
  }

  protected async compareAndSet(what: string, change: RecordChange): Promise<void> {
    const kv = this.store()
    for (;;) {
      const entry = await kv.get(RECORD_KEY)
      this.applyEntry(entry)
      const exists = entry !== null && entry.operation === 'PUT'
      const next = change(exists ? parseRecordValue(entry.revision, readJson(entry)).members : [])
      if (next === null) return
      const value = encodeRecordValue(next)
      try {
        const revision = exists ? await kv.update(RECORD_KEY, value, entry.revision) : await kv.create(RECORD_KEY, value)
        this.setRecord(parseRecordValue(revision, { members: next }))
        return
      } catch (err) {
        if (!isConflict(err)) throw err
        this.log.debug({ what }, 'the ring record changed underneath; retrying')
        await sleep(this.clock, this.random.next() * 20, this.abort.signal)
      }
    }
  }

  protected async closeTransport(): Promise<void> {
    this.watcher?.stop()
    await this.nc?.close()
  }

  private store(): KV {
    if (this.kv === undefined) throw new MembershipError('membership is not started')
    return this.kv
  }

  private async followStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.abort.signal.aborted) return
      if (s.type === 'disconnect' && this.connected) {
        this.connected = false
        this.log.warn({ server: s.server }, 'membership bus disconnected; liveness frozen')
        this.setConnected(false)
      } else if (s.type === 'reconnect' && !this.connected) {
        this.connected = true
        this.log.info({ server: s.server }, 'membership bus reconnected')
        this.setConnected(true)
        // The watch resumes by itself; re-reading covers anything it might have missed meanwhile.
        if (this.kv !== undefined) this.refresh().catch((err) => this.log.warn({ err }, 'ring refresh failed'))
      }
    }
  }

  private async startWatch(kv: KV): Promise<void> {
    const w = await this.retry('watch', Infinity, () => kv.watch({ key: RECORD_KEY }))
    this.watcher = w
    void (async () => {
      try {
        for await (const e of w) this.applyEntry(e)
      } catch (err) {
        this.log.warn({ err }, 'ring watch failed')
      }
      if (this.abort.signal.aborted) return
      // Watches survive reconnects; should one end anyway, open another rather than go stale.
      this.log.warn({}, 'ring watch ended; reopening')
      await sleep(this.clock, this.heartbeatMs, this.abort.signal)
      if (!this.abort.signal.aborted) await this.startWatch(kv).catch(() => undefined)
    })()
  }

  /** Adopts a stored entry if newer; a deleted or unreadable record reads as empty. */
  private applyEntry(entry: KvEntry | null): void {
    if (entry === null || entry.revision <= this.record.version) return
    const value = entry.operation === 'PUT' ? readJson(entry) : undefined
    if (entry.operation === 'PUT' && value === undefined) {
      this.log.error({ revision: entry.revision }, 'the ring record is not JSON; reading it as empty')
    }
    this.setRecord(parseRecordValue(entry.revision, value))
  }
}

function isConflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence
}

function readJson(entry: KvEntry): unknown {
  try {
    return entry.json()
  } catch {
    return undefined
  }
}

/** Heartbeats come from the network: anything malformed is dropped, never trusted. */
export function parseHeartbeat(data: Uint8Array): Heartbeat | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(data))
  } catch {
    return undefined
  }
  const info = toMemberInfo(raw)
  if (info === undefined) return undefined
  const o = raw as Record<string, unknown>
  return { ...info, connections: count(o.connections), actors: count(o.actors), leaving: o.leaving === true }
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0
}
