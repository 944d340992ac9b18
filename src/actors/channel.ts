/**
 * The channel actor (`channel:<id>`): the single writer of one channel. It checks membership,
 * de-duplicates sends by clientMsgId, numbers messages 1, 2, 3... with no gaps, commits each
 * change before answering, and hands committed events to its fan-out.
 *
 * Storage layout (sub-keys; docs/STORAGE.md): `i` info, `n` counters, `f` fan-out mark,
 * `m/<seq>` messages, `e/<ev>` events, `v/<ev>` member lists, `d/<clientMsgId>` dedupe, and the
 * search index `x/<word>/<ts>/<seq>`, `t/<seq>` (search-index.ts).
 *
 * Edits, deletes and reactions (message-changes.ts) are events numbered like messages: each is
 * folded into the message's stored view `m/<seq>` and fanned out; `seq` never changes.
 */
import { asChatError, errors } from '../errors.js'
import { type ChannelView, LIMITS, type Message } from '../protocol/frames.js'
import { HIGH, SEP, WAKE_SUB, num, parseNum } from '../storage/keys.js'
import type { ActorStore } from '../storage/actor-store.js'
import type { KvOp } from '../storage/kv.js'
import type { ActorEnv } from './env.js'
import { Fanout } from './fanout.js'
import { type ChannelId, checkClientMsgId, checkText, parseChannelId } from './ids.js'
import { type ChannelEvent, type ChannelReplies, type ChannelRequest, type HistoryPage, channelKey } from './messages.js'
import { type ChangeRequest, type StoredChange, type StoredMessage, applyChange, changeEvent, messageView, scrubbed } from './message-changes.js'
import { SearchIndex } from './search-index.js'
import type { Actor, Settled } from './runtime.js'

interface Info {
  kind: 'dm' | 'group'
  name: string
  createdBy: string
  members: string[]
  createdAt: number
  /** 1:1 only: members who block the other one, who may then not send here. */
  blockedBy?: string[]
}

/** Bytes (UTF-8) of message text a history page holds at most (PROTOCOL.md 4.2). */
export const HISTORY_PAGE_BYTES = 1024 * 1024
/** Messages read from storage at once while a history page is built. */
const HISTORY_READ_CHUNK = 20
/** Refusals that newer state could turn into a yes (a channel created, a member added, a message sent). */
const STATE_REFUSALS: ReadonlySet<string> = new Set(['NOT_FOUND', 'FORBIDDEN'])
interface Counters { lastSeq: number; lastEv: number }
type StoredEvent =
  | { t: 'm'; seq: number }
  | { t: 'member_added' | 'member_removed'; user: string; by: string; ts: number; to: string[] }
  | StoredChange

const K = {
  info: 'i',
  counters: 'n',
  fanout: 'f',
  message: (seq: number) => `m${SEP}${num(seq)}`,
  event: (ev: number) => `e${SEP}${num(ev)}`,
  members: (ev: number) => `v${SEP}${num(ev)}`,
  dedupe: (clientMsgId: string) => `d${SEP}${clientMsgId}`,
}

export class ChannelActor implements Actor<ChannelRequest> {
  private readonly id: ChannelId
  private info: Info | null = null
  private counters: Counters = { lastSeq: 0, lastEv: 0 }
  private fanout!: Fanout
  /** When each member's last `typing` was forwarded (memory only: a lost entry costs one extra push). */
  private readonly typingAt = new Map<string, number>()
  private readonly index: SearchIndex
  /** Time of the newest message, once known (read by the first send or search, kept by sends). */
  private lastTs: number | undefined
  /** Whether the wake flag is stored: set with the first change, cleared once fan-out caught up. */
  private wakeSet = false

  constructor(private readonly channelId: string, private readonly store: ActorStore, private readonly env: ActorEnv) {
    this.id = parseChannelId(channelId)
    this.index = new SearchIndex(store, channelId)
  }

  async activate(): Promise<void> {
    const [info, counters, done, wake] = await this.store.getMany<unknown>([K.info, K.counters, K.fanout, WAKE_SUB])
    this.wakeSet = wake !== undefined
    this.info = (info as Info | undefined) ?? null
    this.counters = (counters as Counters | undefined) ?? { lastSeq: 0, lastEv: 0 }
    const fanoutDone = (done as number | undefined) ?? 0
    // Events committed but not known delivered (after a restart or a move) are read back from the log.
    this.fanout = new Fanout(this.channelId, this.env.actors, this.env.log, this.env.clock, fanoutDone, (after, max) => this.eventsAfter(after, max), this.counters.lastEv, this.env.onFanoutSpill)
  }

  /**
   * A channel that does not exist: the runtime lets go of such an activation at once. A 1:1
   * channel with no message yet holds no stored info but may hold typing notices, whose 2 s
   * throttle must outlive the request.
   */
  isEmpty(): boolean {
    return this.info === null && this.fanout.pending === 0 && this.typingAt.size === 0
  }

  /**
   * `typing` stores nothing, so it runs beside the mailbox too and never waits behind commits; its
   * throttle map is read and written with no await in between.
   */
  isReadOnly(req: ChannelRequest): boolean {
    return req.kind === 'history' || req.kind === 'info' || req.kind === 'messages' || req.kind === 'search' || req.kind === 'wake' || req.kind === 'typing'
  }

  canPassivate(): boolean {
    return this.fanout.pending === 0
  }

  async deactivate(): Promise<void> {
    // Deactivated with events not yet in every member's inbox (stepped down in a partition, or
    // moved): the key's next activation, here or on its new owner, replays them.
    if (this.fanout.pending > 0) this.env.wake(channelKey(this.channelId))
    this.fanout.stop()
    if (!this.info) return
    const ops: KvOp[] = []
    if (this.fanout.done > 0) ops.push({ type: 'put', key: K.fanout, value: this.fanout.done })
    if (this.wakeSet && this.fanout.done >= this.counters.lastEv) ops.push({ type: 'del', key: WAKE_SUB })
    // A failure here only means the next activation replays some fan-out, which members drop.
    if (ops.length > 0) await this.store.commit(ops).catch(() => {})
  }

  async receive(req: ChannelRequest): Promise<unknown> {
    switch (req.kind) {
      case 'create': return this.handleCreate(req)
      case 'addMember': return this.handleAddMember(req)
      case 'removeMember': return this.handleRemoveMember(req)
      case 'send': return this.handleSend(req)
      case 'sendMany': return this.handleSendMany(req)
      case 'history': return this.handleHistory(req)
      case 'info': return this.handleInfo(req)
      case 'messages': return this.handleMessages(req)
      case 'typing': return this.handleTyping(req)
      case 'setBlock': return this.handleSetBlock(req)
      case 'edit': case 'delete': case 'react': return this.handleChange(req)
      case 'search': return this.handleSearch(req)
      // Someone has work for this channel's owner (fan-out left by a predecessor). An activation
      // deposed without knowing it (cut off while another node took over) holds none of that work
      // and would swallow the wake: it confirms it still owns the channel, or steps down, and the
      // waker retries on a fresh activation.
      case 'wake': await this.store.confirm(); return null
      default: {
        const never: never = req
        throw errors.badFrame(`unknown channel request ${(never as { kind: string }).kind}`)
      }
    }
  }

  private async handleCreate(req: Extract<ChannelRequest, { kind: 'create' }>): Promise<ChannelReplies['create']> {
    if (this.id.kind !== 'group') throw errors.badRequest('only groups are created explicitly')
    if (this.info) throw errors.unavailable('group id collision; retry')
    const ts = this.env.now()
    const info: Info = { kind: 'group', name: req.name, createdBy: req.by, members: [...req.members], createdAt: ts }
    const ops: KvOp[] = [{ type: 'put', key: K.info, value: info }]
    let ev = this.counters.lastEv
    ops.push({ type: 'put', key: K.members(ev + 1), value: info.members })
    const events: Array<[ChannelEvent, string[]]> = []
    for (const member of info.members) {
      ev++
      const stored: StoredEvent = { t: 'member_added', user: member, by: req.by, ts, to: [member] }
      ops.push({ type: 'put', key: K.event(ev), value: stored })
      events.push([toEvent(this.channelId, ev, stored), [member]])
    }
    const counters = { lastSeq: this.counters.lastSeq, lastEv: ev }
    ops.push({ type: 'put', key: K.counters, value: counters })
    this.flagWake(ops)
    await this.store.commit(ops)
    this.info = info
    this.counters = counters
    this.wakeSet = true
    for (const [event, to] of events) this.fanout.enqueue(event, to)
    return this.view()
  }

  private async handleAddMember(req: Extract<ChannelRequest, { kind: 'addMember' }>): Promise<ChannelReplies['addMember']> {
    const info = this.requireGroup()
    if (!info.members.includes(req.by)) throw errors.forbidden('only members may add members')
    if (info.members.includes(req.user)) return this.view()
    if (info.members.length >= this.env.config.maxGroupSize) throw errors.groupFull(this.env.config.maxGroupSize)
    const members = [...info.members, req.user]
    await this.commitMembership({ ...info, members }, 'member_added', req.user, req.by, members)
    return this.view()
  }

  private async handleRemoveMember(req: Extract<ChannelRequest, { kind: 'removeMember' }>): Promise<ChannelReplies['removeMember']> {
    const info = this.requireGroup()
    if (!info.members.includes(req.by)) throw errors.forbidden('only members may remove members')
    if (req.by !== req.user && req.by !== info.createdBy) throw errors.forbidden('only the creator may remove other members')
    if (!info.members.includes(req.user)) throw errors.notFound(`${req.user} is not a member`)
    const members = info.members.filter((m) => m !== req.user)
    // The removed member hears of it too.
    await this.commitMembership({ ...info, members }, 'member_removed', req.user, req.by, info.members)
    return this.view()
  }

  private async commitMembership(info: Info, type: 'member_added' | 'member_removed', user: string, by: string, to: string[]): Promise<void> {
    const ev = this.counters.lastEv + 1
    const stored: StoredEvent = { t: type, user, by, ts: this.env.now(), to }
    const counters = { lastSeq: this.counters.lastSeq, lastEv: ev }
    const ops: KvOp[] = [
      { type: 'put', key: K.info, value: info },
      { type: 'put', key: K.members(ev), value: info.members },
      { type: 'put', key: K.event(ev), value: stored },
      { type: 'put', key: K.counters, value: counters },
      { type: 'put', key: K.fanout, value: this.fanout.done },
    ]
    this.flagWake(ops)
    await this.store.commit(ops)
    this.info = info
    this.counters = counters
    this.wakeSet = true
    this.fanout.enqueue(toEvent(this.channelId, ev, stored), to)
  }

  private async handleSend(req: Extract<ChannelRequest, { kind: 'send' }>): Promise<ChannelReplies['send']> {
    const [result] = await this.handleSends([req])
    if (!result!.ok) throw result!.error
    return result!.value
  }

  private async handleSendMany(req: Extract<ChannelRequest, { kind: 'sendMany' }>): Promise<ChannelReplies['sendMany']> {
    const results = await this.handleSends(req.sends.map((s) => ({ kind: 'send' as const, ...s })))
    return results.map((r) => (r.ok ? r : { ok: false, error: asChatError(r.error).toJSON() }))
  }

  batchable(req: ChannelRequest): boolean {
    return req.kind === 'send'
  }

  receiveMany(reqs: ChannelRequest[]): Promise<Array<Settled<unknown>>> {
    return this.handleSends(reqs as Array<Extract<ChannelRequest, { kind: 'send' }>>)
  }

  /**
   * Sends, answered in order as if one after the other, stored in one commit (group commit: under
   * load a channel's queued sends share one replication round). A send refused on its own merits
   * (not a member, too long, malformed) does not affect the others; a failed commit fails all of
   * the batch's new messages, none of which is then acknowledged, and every repeat of one of them
   * in the same batch (a client's retry queued behind its first attempt): an answer taken from
   * this batch's own changes shares their fate. A refusal decided on the channel's state (no such
   * channel, not a member) goes out only once that state is known current (`confirmed`).
   */
  private async handleSends(reqs: Array<Extract<ChannelRequest, { kind: 'send' }>>): Promise<Array<Settled<ChannelReplies['send']>>> {
    const results: Array<Settled<ChannelReplies['send']>> = []
    const ops: KvOp[] = []
    const fresh: Array<{ message: Message; ev: number }> = []
    /** Answers that hold only if this batch's commit succeeds: its new messages and their repeats. */
    const uncommitted: number[] = []
    /** Refusals decided on this activation's state, which must be confirmed current. */
    const refusals: number[] = []
    const seen = new Map<string, { seq: number; ts: number }>()
    let counters = this.counters
    let info: Info | null = null
    // A channel's times never go back (the search index's blocks rely on it): a clock set back, or
    // a new owner's clock behind the old one's, stamps the newest message's time again.
    let newest = await this.newestTs()
    for (const req of reqs) {
      try {
        const clientMsgId = checkClientMsgId(req.clientMsgId)
        const text = checkText(req.text)
        info ??= await this.requireExisting(ops)
        if (!info.members.includes(req.from)) throw errors.forbidden('not a member of this channel')
        if (info.blockedBy?.some((u) => u !== req.from)) throw errors.forbidden('this user does not accept your messages')
        const repeat = seen.get(clientMsgId)
        const prior = repeat ?? (await this.store.get<{ seq: number; ts: number }>(K.dedupe(clientMsgId)))
        if (prior) {
          if (repeat) uncommitted.push(results.length)
          results.push({ ok: true, value: { channel: this.channelId, seq: prior.seq, ts: prior.ts, clientMsgId } })
          continue
        }
        const seq = counters.lastSeq + 1
        const ev = counters.lastEv + 1
        const ts = Math.max(this.env.now(), newest)
        newest = ts
        counters = { lastSeq: seq, lastEv: ev }
        const stored: StoredMessage = { from: req.from, text, ts, clientMsgId, ev }
        ops.push(
          { type: 'put', key: K.message(seq), value: stored },
          { type: 'put', key: K.event(ev), value: { t: 'm', seq } satisfies StoredEvent },
          { type: 'put', key: K.dedupe(clientMsgId), value: { seq, ts } },
          ...this.index.add(seq, ts, text),
        )
        seen.set(clientMsgId, { seq, ts })
        uncommitted.push(results.length)
        fresh.push({ ev, message: { channel: this.channelId, seq, from: req.from, text, ts, clientMsgId } })
        results.push({ ok: true, value: { channel: this.channelId, seq, ts, clientMsgId } })
      } catch (err) {
        const error = asChatError(err)
        if (STATE_REFUSALS.has(error.code)) refusals.push(results.length)
        results.push({ ok: false, error })
      }
    }
    if (fresh.length === 0) {
      if (refusals.length > 0) {
        // Nothing to commit to prove this owner current: ask the store.
        await this.store.confirm().catch((err) => {
          for (const index of refusals) results[index] = { ok: false, error: asChatError(err) }
        })
      }
      return results
    }
    ops.push({ type: 'put', key: K.counters, value: counters }, { type: 'put', key: K.fanout, value: this.fanout.done })
    this.flagWake(ops)
    try {
      ops.push(...(await this.index.seal(counters.lastSeq)))
      await this.store.commit(ops)
    } catch (err) {
      this.index.settle(false)
      // The commit proves nothing current either: the refusals go with it.
      const error = asChatError(err)
      for (const index of [...uncommitted, ...refusals]) results[index] = { ok: false, error }
      return results
    }
    this.index.settle(true)
    this.info = info
    this.counters = counters
    this.wakeSet = true
    this.lastTs = newest
    for (const f of fresh) this.fanout.enqueue({ ev: f.ev, type: 'message', message: f.message }, info!.members)
    return results
  }


  /**
   * A window of history, ascending. Besides `limit`, a page holds at most HISTORY_PAGE_BYTES of
   * text: it is read from storage a few messages at a time, from the end the window starts at
   * (the newest for `before`/neither, the oldest for `after`), and stops with `more` before the
   * next message would pass the bound, so the client pages on from where it stopped.
   */
  private async handleHistory(req: Extract<ChannelRequest, { kind: 'history' }>): Promise<HistoryPage> {
    const info = await this.requireExisting()
    if (!info.members.includes(req.user)) throw errors.forbidden('not a member of this channel')
    // `after` asks for the oldest messages past it; otherwise the newest ones are wanted.
    const reverse = req.after === undefined
    let lo = req.after !== undefined ? K.message(Math.max(0, req.after)) : K.message(0)
    let hi = req.before !== undefined ? K.message(Math.max(0, req.before)) : `m${SEP}${HIGH}`
    const out: Message[] = []
    let bytes = 0
    while (out.length < req.limit) {
      const rows = await this.store.range<StoredMessage>({ gt: lo, lt: hi, limit: Math.min(HISTORY_READ_CHUNK, req.limit - out.length), reverse })
      for (const [key, m] of rows) {
        const size = Buffer.byteLength(m.text)
        // One message always fits: a page is never empty while messages remain.
        if (out.length > 0 && bytes + size > HISTORY_PAGE_BYTES) {
          if (reverse) out.reverse()
          return { messages: out, more: true }
        }
        out.push(this.toMessage(parseNum(key.slice(2)), m))
        bytes += size
      }
      if (rows.length < HISTORY_READ_CHUNK) break
      const last = rows[rows.length - 1]![0]
      if (reverse) hi = last
      else lo = last
    }
    if (reverse) out.reverse()
    return { messages: out, more: false }
  }

  /** Records that `by` blocks (or no longer blocks) the other member of this 1:1 channel. */
  private async handleSetBlock(req: Extract<ChannelRequest, { kind: 'setBlock' }>): Promise<null> {
    if (this.id.kind !== 'dm') throw errors.badRequest('only 1:1 channels take blocks')
    const ops: KvOp[] = []
    const info = await this.requireExisting(ops)
    if (!info.members.includes(req.by)) throw errors.forbidden('not a member of this channel')
    const blockedBy = new Set(info.blockedBy ?? [])
    if (blockedBy.has(req.by) === req.on) return null
    if (req.on) blockedBy.add(req.by)
    else blockedBy.delete(req.by)
    const next: Info = { ...info, blockedBy: [...blockedBy] }
    ops.push({ type: 'put', key: K.info, value: next })
    await this.store.commit(ops)
    this.info = next
    return null
  }

  /**
   * An edit, delete or reaction: judged against the message's current view (message-changes.ts),
   * folded into it, indexed again (an edit) or erased from the index (a delete), and recorded as
   * the channel's next event, all in one commit; then fanned out to every member like a message.
   * A change that changes nothing stores and emits nothing.
   */
  private async handleChange(req: ChangeRequest): Promise<null> {
    const seq = req.seq
    const { info, current } = await this.confirmed(async () => {
      const info = await this.requireExisting()
      if (!info.members.includes(req.by)) throw errors.forbidden('not a member of this channel')
      if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.counters.lastSeq) throw errors.notFound(`no message ${seq} in ${this.channelId}`)
      const current = await this.store.get<StoredMessage>(K.message(seq))
      if (!current) throw errors.notFound(`no message ${seq} in ${this.channelId}`)
      return { info, current }
    })
    const change = applyChange(current, req, info, this.env.now())
    if (!change) return null
    const { next, event } = change
    const ev = this.counters.lastEv + 1
    const counters = { lastSeq: this.counters.lastSeq, lastEv: ev }
    const ops: KvOp[] = [
      { type: 'put', key: K.message(seq), value: next },
      { type: 'put', key: K.event(ev), value: event satisfies StoredEvent },
      { type: 'put', key: K.counters, value: counters },
      { type: 'put', key: K.fanout, value: this.fanout.done },
    ]
    if (event.t === 'edit') ops.push(...(await this.index.edit(seq, next.ts, next.text)))
    if (event.t === 'delete') ops.push(...(await this.index.remove(seq, next.ts)))
    this.flagWake(ops)
    await this.store.commit(ops)
    this.counters = counters
    this.wakeSet = true
    if (event.t === 'delete') {
      const view = messageView(this.channelId, seq, next)
      this.fanout.rewrite((e) => scrubbed(e, seq, view))
    }
    this.fanout.enqueue(changeEvent(this.channelId, ev, event, next), info.members)
    return null
  }

  /**
   * Messages of this channel holding every word, newest first, within the bounds; members only.
   * Answers places and sizes, not bodies: the caller merges many channels and fetches the bodies
   * of the page's messages only.
   */
  private async handleSearch(req: Extract<ChannelRequest, { kind: 'search' }>): Promise<ChannelReplies['search']> {
    const info = await this.requireExisting()
    if (!info.members.includes(req.user)) throw errors.forbidden('not a member of this channel')
    const found = await this.index.find(req.words, { below: req.below, above: req.above }, req.limit)
    const lastTs = await this.newestTs()
    return { found, lastTs: this.counters.lastSeq > 0 ? lastTs : null }
  }

  /** Time of the newest message (0 if none), read once per activation, then kept by sends. */
  private async newestTs(): Promise<number> {
    if (this.lastTs === undefined && this.counters.lastSeq > 0) {
      const last = await this.store.get<StoredMessage>(K.message(this.counters.lastSeq))
      this.lastTs = Math.max(this.lastTs ?? 0, last?.ts ?? 0)
    }
    return this.lastTs ?? 0
  }

  private async handleInfo(req: Extract<ChannelRequest, { kind: 'info' }>): Promise<ChannelReplies['info']> {
    const info = await this.requireExisting()
    if (req.user !== undefined && !info.members.includes(req.user)) throw errors.forbidden('not a member of this channel')
    return { view: this.viewOf(info), lastSeq: this.counters.lastSeq }
  }

  /**
   * Forwards "typing" to the other members' user actors, at most once per member every
   * `LIMITS.typingIntervalMs`; a throttled one is still answered ok (the client cannot tell, and
   * need not care). Fire and forget: a lost typing notice is harmless.
   */
  private async handleTyping(req: Extract<ChannelRequest, { kind: 'typing' }>): Promise<null> {
    const info = await this.requireExisting()
    if (!info.members.includes(req.user)) throw errors.forbidden('not a member of this channel')
    const now = this.env.now()
    const last = this.typingAt.get(req.user)
    if (last !== undefined && now - last < LIMITS.typingIntervalMs) return null
    this.typingAt.set(req.user, now)
    if (this.typingAt.size > 2 * info.members.length) this.forgetOldTyping(now)
    const others = info.members.filter((m) => m !== req.user)
    if (others.length > 0) void this.env.actors.users(others, { kind: 'typing', channel: this.channelId, from: req.user })
    return null
  }

  private forgetOldTyping(now: number): void {
    for (const [user, at] of this.typingAt) if (now - at >= LIMITS.typingIntervalMs) this.typingAt.delete(user)
  }

  private async handleMessages(req: Extract<ChannelRequest, { kind: 'messages' }>): Promise<Message[]> {
    const rows = await this.store.getMany<StoredMessage>(req.seqs.map(K.message))
    const out: Message[] = []
    rows.forEach((m, i) => {
      if (m) out.push(this.toMessage(req.seqs[i]!, m))
    })
    return out
  }

  /**
   * Committed events after `after` (at most `max`) with their recipients, for the fan-out. Bodies
   * are read as they are now: a message deleted since goes out deleted.
   */
  private async eventsAfter(after: number, max: number): Promise<{ events: Array<{ event: ChannelEvent; recipients: string[] }>; through: number }> {
    const rows = await this.store.range<StoredEvent>({ gt: K.event(after), lte: K.event(this.counters.lastEv), limit: max })
    const seqs = [...new Set(rows.flatMap(([, e]) => (isMemberEvent(e) ? [] : [e.seq])))]
    const stored = await this.store.getMany<StoredMessage>(seqs.map(K.message))
    const bodies = new Map<number, StoredMessage>()
    stored.forEach((m, i) => m && bodies.set(seqs[i]!, m))
    const out: Array<{ event: ChannelEvent; recipients: string[] }> = []
    for (const [key, e] of rows) {
      const ev = parseNum(key.slice(2))
      if (isMemberEvent(e)) {
        out.push({ event: toEvent(this.channelId, ev, e), recipients: e.to })
        continue
      }
      const body = bodies.get(e.seq)
      if (!body) continue
      const event = e.t === 'm' ? { ev, type: 'message' as const, message: this.toMessage(e.seq, body) } : changeEvent(this.channelId, ev, e, body)
      out.push({ event, recipients: await this.membersAt(ev) })
    }
    return { events: out, through: rows.length > 0 ? parseNum(rows[rows.length - 1]![0].slice(2)) : after }
  }

  /** Events will need fan-out: if the node dies first, it must wake this channel to finish it. */
  private flagWake(ops: KvOp[]): void {
    if (!this.wakeSet) ops.push({ type: 'put', key: WAKE_SUB, value: 1 })
  }

  /** The member list in force at event `ev`: the newest list written at or before it. */
  private async membersAt(ev: number): Promise<string[]> {
    const [row] = await this.store.range<string[]>({ gte: K.members(0), lte: K.members(ev), reverse: true, limit: 1 })
    return row ? row[1] : (this.info?.members ?? [])
  }

  private requireGroup(): Info {
    if (this.id.kind !== 'group' || !this.info) throw errors.notFound(`no group ${this.channelId}`)
    return this.info
  }

  /**
   * The channel's info. A 1:1 channel exists implicitly once both users exist; its info is
   * written (into `ops`, with the first message) the first time it is used for a send.
   */
  /**
   * Runs `look`, which reads this activation's state and may refuse on what it finds (no such
   * channel or message, not a member). Such a refusal is right only if that state is current: an
   * owner deposed without knowing it yet (paused, cut off from its peers) may lack what a newer
   * owner stored, and a client would take its NOT_FOUND for an answer. So before a refusal goes
   * out the store confirms this node still owns the channel (ActorStore.confirm); if it does not,
   * the caller gets UNAVAILABLE and retries where the channel lives now. Only refusals pay for the
   * check, and it writes nothing (junk requests cost no storage).
   */
  private async confirmed<T>(look: () => Promise<T>): Promise<T> {
    try {
      return await look()
    } catch (err) {
      const error = asChatError(err)
      if (STATE_REFUSALS.has(error.code)) await this.store.confirm()
      throw error
    }
  }

  private async requireExisting(ops?: KvOp[]): Promise<Info> {
    if (this.info) return this.info
    if (this.id.kind === 'group') throw errors.notFound(`no channel ${this.channelId}`)
    const { a, b } = this.id
    const found = await this.env.actors.users([a, b], { kind: 'profile' })
    for (const [i, r] of found.entries()) {
      if (!r.ok) throw r.error.code === 'NOT_FOUND' ? errors.notFound(`no user ${[a, b][i]}`) : r.error
    }
    const info: Info = { kind: 'dm', name: `${a}, ${b}`, createdBy: a, members: [a, b], createdAt: this.env.now() }
    if (ops) ops.push({ type: 'put', key: K.info, value: info }, { type: 'put', key: K.members(0), value: info.members })
    return info
  }

  private view(): ChannelView {
    return this.viewOf(this.info!)
  }

  private viewOf(info: Info): ChannelView {
    return { id: this.channelId, kind: info.kind, name: info.name, members: [...info.members] }
  }

  private toMessage(seq: number, m: StoredMessage): Message {
    return messageView(this.channelId, seq, m)
  }
}

type StoredMemberEvent = Extract<StoredEvent, { t: 'member_added' | 'member_removed' }>

function isMemberEvent(e: StoredEvent): e is StoredMemberEvent {
  return e.t === 'member_added' || e.t === 'member_removed'
}

function toEvent(channel: string, ev: number, e: StoredMemberEvent): ChannelEvent {
  return { ev, type: e.t, channel, user: e.user, by: e.by, ts: e.ts }
}
