/**
 * The user actor (`user:<username>`): the account, friends, the channels the user is in, the
 * inbox, read positions, and the user's live devices. Every event the user must see gets the next
 * `inboxSeq` (1, 2, 3... with no gaps) and is pushed to every live device after it is committed.
 * The inbox holds pointers `(channel, seq)` for messages; bodies stay in the channel's log.
 *
 * Storage layout (sub-keys; docs/STORAGE.md): `p` profile, `m` meta, `f/<user>` friend state,
 * `c/<channel>` membership and read position, `k/<channel>` delivery cursor, `i/<inboxSeq>` inbox,
 * `a` token revocations and failed logins (user-auth.ts), `b/<user>` users this user blocks;
 * push subscriptions and pending notifications are kept by `UserPush` (src/push/user-push.ts).
 */
import type { TimerHandle } from '../clock.js'
import { asChatError, errors } from '../errors.js'
import type { InboxEvent, Message, PresenceView, UserView } from '../protocol/frames.js'
import { DEFAULT_PUSH_POLICY } from '../push/types.js'
import { UserPush } from '../push/user-push.js'
import { HIGH, SEP, num, parseNum } from '../storage/keys.js'
import type { ActorStore } from '../storage/actor-store.js'
import type { KvOp } from '../storage/kv.js'
import { type ActorEnv, REREGISTER_FRAME, REVOKED_FRAME } from './env.js'
import { dmId } from './ids.js'
import { AUTH_KEY, type AuthRecord, UserAuth } from './user-auth.js'
import type { ChannelEvent, DeviceRef, FriendState, SyncResult, UserReplies, UserRequest } from './messages.js'
import type { Actor, Settled } from './runtime.js'
import { type InboxEntry, eventOf, inboxEntry, inboxFrame, inboxFrameJson, isPointer } from './inbox-events.js'
import { searchChannels } from './search.js'

interface Profile { username: string; displayName: string; passwordHash: string; createdAt: number }
interface Meta { inboxSeq: number; lastActiveAt: number | null }
interface Membership { readSeq: number }

/** Bytes (UTF-8) of message text a sync page holds at most (PROTOCOL.md 4.2); more ends it early. */
export const SYNC_PAGE_BYTES = 1024 * 1024
/** Group member lists read at once while a presence query looks for visible users. */
const PRESENCE_GROUPS_AT_ONCE = 32
/** Inbox rows whose bodies are fetched together while a sync page is built. */
const SYNC_FETCH_CHUNK = 32
/** The most events a device registering again is pushed to catch up; past it, it syncs itself. */
const CATCH_UP_MAX_EVENTS = 500
/** How long a catch-up may hold the actor's writes before it gives way to a resync. */
const CATCH_UP_WAIT_MS = 2000

const K = {
  profile: 'p',
  meta: 'm',
  friend: (u: string) => `f${SEP}${u}`,
  channel: (c: string) => `c${SEP}${c}`,
  cursor: (c: string) => `k${SEP}${c}`,
  inbox: (n: number) => `i${SEP}${num(n)}`,
  block: (u: string) => `b${SEP}${u}`,
}

export class UserActor implements Actor<UserRequest> {
  private profile: Profile | null = null
  private meta: Meta = { inboxSeq: 0, lastActiveAt: null }
  private readonly friends = new Map<string, FriendState>()
  private readonly channels = new Map<string, Membership>()
  private readonly cursors = new Map<string, number>()
  /** Every connected device gets pushes; only live ones (recent frames) count for presence. */
  private readonly devices = new Map<string, { ref: DeviceRef; live: boolean }>()
  /** Time of the newest message seen per channel (in memory, a hint that lets search skip quiet channels). */
  private readonly recency = new Map<string, number>()
  /** The status friends were last told, so they hear only of changes. */
  private announcedOnline = false
  private readonly push: UserPush
  private readonly auth: UserAuth
  /** Users this user blocks. */
  private readonly blocked = new Set<string>()

  constructor(private readonly username: string, private readonly store: ActorStore, private readonly env: ActorEnv) {
    this.push = new UserPush(username, store, { actors: env.actors, notifier: env.notifier, policy: env.config.push ?? DEFAULT_PUSH_POLICY, now: env.now, clock: env.clock, random: env.random })
    this.auth = new UserAuth(env.now, env.random)
  }

  async activate(): Promise<void> {
    const [profile, meta, auth] = await this.store.getMany<unknown>([K.profile, K.meta, AUTH_KEY])
    this.profile = (profile as Profile | undefined) ?? null
    if (!this.profile) return
    this.meta = (meta as Meta | undefined) ?? this.meta
    this.auth.load(auth as AuthRecord | undefined)
    const [friends, channels, cursors, blocked] = await Promise.all([
      this.store.range<FriendState>({ gt: `f${SEP}`, lt: `f${SEP}${HIGH}` }),
      this.store.range<Membership>({ gt: `c${SEP}`, lt: `c${SEP}${HIGH}` }),
      this.store.range<number>({ gt: `k${SEP}`, lt: `k${SEP}${HIGH}` }),
      this.store.range<boolean>({ gt: `b${SEP}`, lt: `b${SEP}${HIGH}` }),
    ])
    for (const [k, v] of friends) this.friends.set(k.slice(2), v)
    for (const [k, v] of channels) this.channels.set(k.slice(2), v)
    for (const [k, v] of cursors) this.cursors.set(k.slice(2), v)
    for (const [k] of blocked) this.blocked.add(k.slice(2))
    await this.push.load()
  }

  /** A user that does not exist: the runtime lets go of such an activation at once. */
  isEmpty(): boolean {
    return this.profile === null
  }

  isReadOnly(req: UserRequest): boolean {
    switch (req.kind) {
      case 'credentials': case 'profile': case 'friends': case 'sync': case 'search': case 'channels': case 'wake':
      case 'presence': case 'presenceFor': case 'presenceQuery': case 'presenceChanged': case 'typing':
      case 'checkToken': case 'blocks': case 'admit':
        return true
      case 'push':
        return req.op.kind === 'list'
      default:
        return false
    }
  }

  canPassivate(): boolean {
    return this.devices.size === 0 && this.push.idle
  }

  /** Devices are kept in memory only: their sessions register again with the next activation. */
  async deactivate(): Promise<void> {
    this.push.stop()
    this.pushAll(REREGISTER_FRAME)
  }

  async receive(req: UserRequest): Promise<unknown> {
    switch (req.kind) {
      case 'signup': return this.handleSignup(req)
      case 'credentials': return this.handleCredentials()
      case 'loginResult': return this.handleLoginResult(req)
      case 'checkToken': return this.handleCheckToken(req)
      case 'revokeToken': return this.handleRevoke(req)
      case 'revokeAll': return this.handleRevoke(req)
      case 'block': return this.handleBlock(req.user, true)
      case 'unblock': return this.handleBlock(req.user, false)
      case 'blocks': this.requireProfile(); return [...this.blocked].sort()
      case 'admit':
        this.requireProfile()
        if (this.blocked.has(req.by)) throw errors.forbidden(`${this.username} does not accept you`)
        return this.view()
      case 'profile': this.requireProfile(); return this.view()
      case 'updateProfile': return this.handleUpdateProfile(req)
      case 'friendReceived': return this.handleFriendReceived(req)
      case 'friendSent': return this.handleFriendSent(req)
      case 'friends': this.requireProfile(); return [...this.friends].map(([username, state]) => ({ username, state }))
      case 'deliver': return this.handleDeliver(req)
      case 'connect': return this.handleConnect(req)
      case 'activity': return this.handleActivity(req)
      case 'disconnect': return this.handleDisconnect(req)
      case 'dropNode': return this.handleDropNode(req)
      case 'sync': return this.handleSync(req)
      case 'search': this.requireProfile(); return searchChannels(this.env.actors, this.username, req.channel ? [req.channel] : [...this.channels.keys()], req, this.recency)
      case 'read': return this.handleRead(req)
      case 'channels': this.requireProfile(); return [...this.channels].map(([id, m]) => ({ id, readSeq: m.readSeq }))
      case 'presence': this.requireProfile(); return this.presenceView()
      case 'presenceFor': return this.handlePresenceFor(req)
      case 'presenceQuery': return this.handlePresenceQuery(req)
      // As for channels: a deposed activation must not swallow the wake (ChannelActor.receive).
      case 'wake': await this.store.confirm(); return null
      case 'push': this.requireProfile(); return this.push.handle(req.op)
      case 'presenceChanged': this.pushAll(JSON.stringify({ op: 'presence', ...req.presence })); return null
      case 'typing': this.pushLive(JSON.stringify({ op: 'typing', channel: req.channel, user: req.from })); return null
      default: {
        const never: never = req
        throw errors.badFrame(`unknown user request ${(never as { kind: string }).kind}`)
      }
    }
  }

  private async handleSignup(req: Extract<UserRequest, { kind: 'signup' }>): Promise<UserReplies['signup']> {
    if (this.profile) throw errors.usernameTaken(this.username)
    const profile: Profile = { username: this.username, displayName: req.displayName, passwordHash: req.passwordHash, createdAt: this.env.now() }
    await this.store.commit([{ type: 'put', key: K.profile, value: profile }, { type: 'put', key: K.meta, value: this.meta }])
    this.profile = profile
    return { user: this.view(), gen: this.auth.gen }
  }

  private async handleUpdateProfile(req: Extract<UserRequest, { kind: 'updateProfile' }>): Promise<UserView> {
    const profile = { ...this.requireProfile(), displayName: req.displayName }
    await this.store.commit([{ type: 'put', key: K.profile, value: profile }])
    this.profile = profile
    return this.view()
  }

  /** A login begins: the hash to check, unless this username had too many failures lately. */
  private handleCredentials(): UserReplies['credentials'] {
    const profile = this.requireProfile()
    const verdict = this.auth.begin()
    if (verdict.kind === 'throttled') return verdict
    return { kind: 'go', attempt: verdict.attempt, passwordHash: profile.passwordHash, user: this.view(), gen: this.auth.gen }
  }

  private async handleLoginResult(req: Extract<UserRequest, { kind: 'loginResult' }>): Promise<null> {
    if (!this.profile) return null
    const change = this.auth.finish(req.attempt, req.outcome)
    if (change) {
      await this.store.commit(change.ops)
      change.apply()
    }
    return null
  }

  private handleCheckToken(req: Extract<UserRequest, { kind: 'checkToken' }>): null {
    this.requireProfile()
    if (!this.auth.valid(req.tid, req.gen)) throw errors.unauthorized('this session was logged out')
    return null
  }

  /** Revokes one token or all of them, and closes the sockets opened with them. */
  private async handleRevoke(req: Extract<UserRequest, { kind: 'revokeToken' | 'revokeAll' }>): Promise<null> {
    this.requireProfile()
    const change = req.kind === 'revokeAll' ? this.auth.revokeAll() : this.auth.revoke(req.tid, req.exp)
    await this.store.commit(change.ops)
    change.apply()
    // The push subscriptions made with what was revoked stop too.
    await this.push.forgetDevice(req.kind === 'revokeAll' ? null : (req.deviceId ?? '\0none'))
    const targets: DeviceRef[] = []
    for (const [id, d] of this.devices) {
      if (d.ref.tid !== undefined && this.auth.valid(d.ref.tid, d.ref.gen ?? -1)) continue
      targets.push(d.ref)
      this.devices.delete(id)
    }
    if (targets.length > 0) {
      this.env.pusher.push(targets, REVOKED_FRAME)
      await this.setPresence(this.env.now())
    }
    return null
  }

  /** Blocks or unblocks `user`; the 1:1 channel between them learns of it first (it refuses sends). */
  private async handleBlock(user: string, on: boolean): Promise<string[]> {
    this.requireProfile()
    if (user === this.username) throw errors.badRequest('you cannot block yourself')
    if (this.blocked.has(user) === on) return [...this.blocked].sort()
    await this.env.actors.channel(dmId(this.username, user), { kind: 'setBlock', by: this.username, on })
    await this.store.commit([on ? { type: 'put', key: K.block(user), value: true } : { type: 'del', key: K.block(user) }])
    if (on) this.blocked.add(user)
    else this.blocked.delete(user)
    return [...this.blocked].sort()
  }

  /** Someone asked to befriend this user: pending, or friends if this user had asked first. */
  private async handleFriendReceived(req: Extract<UserRequest, { kind: 'friendReceived' }>): Promise<FriendState> {
    this.requireProfile()
    if (this.blocked.has(req.from)) throw errors.forbidden(`${this.username} does not accept friend requests from you`)
    const current = this.friends.get(req.from)
    const next: FriendState = current === 'requested' || current === 'friends' ? 'friends' : 'pending'
    return this.setFriend(req.from, next)
  }

  /** This user asked to befriend `to`, whose side now reads `theirState`. */
  private async handleFriendSent(req: Extract<UserRequest, { kind: 'friendSent' }>): Promise<FriendState> {
    this.requireProfile()
    const current = this.friends.get(req.to)
    const next: FriendState = req.theirState === 'friends' || current === 'pending' || current === 'friends' ? 'friends' : 'requested'
    return this.setFriend(req.to, next)
  }

  private async setFriend(user: string, state: FriendState): Promise<FriendState> {
    if (this.friends.get(user) !== state) {
      await this.store.commit([{ type: 'put', key: K.friend(user), value: state }])
      this.friends.set(user, state)
    }
    return state
  }

  /** Appends a channel's events to the inbox, once each (the channel may deliver twice). */
  private async handleDeliver(req: Extract<UserRequest, { kind: 'deliver' }>): Promise<UserReplies['deliver']> {
    const [result] = await this.handleDeliveries([req])
    if (!result!.ok) throw result!.error
    return result!.value
  }

  batchable(req: UserRequest): boolean {
    return req.kind === 'deliver'
  }

  receiveMany(reqs: UserRequest[]): Promise<Array<Settled<unknown>>> {
    return this.handleDeliveries(reqs as Array<Extract<UserRequest, { kind: 'deliver' }>>)
  }

  /**
   * Deliveries from one or more channels, appended to the inbox in one commit (group commit under
   * load), in the order they arrived; each is answered with its channel's cursor.
   */
  private async handleDeliveries(reqs: Array<Extract<UserRequest, { kind: 'deliver' }>>): Promise<Array<Settled<UserReplies['deliver']>>> {
    if (!this.profile) return reqs.map(() => ({ ok: false, error: errors.notFound(`no user ${this.username}`) }))
    const ops: KvOp[] = []
    const delivered: Array<[ChannelEvent, number]> = []
    /** The channel list as this batch changes it: a copy made at its first change, kept if it commits. */
    let channels: Map<string, Membership> | null = null
    const cursors = new Map<string, number>()
    let inboxSeq = this.meta.inboxSeq
    const results: Array<Settled<UserReplies['deliver']>> = []
    for (const req of reqs) {
      const cursor = cursors.get(req.channel) ?? this.cursors.get(req.channel) ?? 0
      const fresh = req.events.filter((e) => e.ev > cursor).sort((x, y) => x.ev - y.ev)
      for (const e of fresh) {
        inboxSeq++
        ops.push({ type: 'put', key: K.inbox(inboxSeq), value: inboxEntry(e) })
        delivered.push([e, inboxSeq])
        if (e.type === 'message') this.recency.set(req.channel, Math.max(this.recency.get(req.channel) ?? 0, e.message.ts))
        channels = this.trackMembership(e, channels, ops)
      }
      const last = fresh.length > 0 ? fresh[fresh.length - 1]!.ev : cursor
      if (fresh.length > 0) cursors.set(req.channel, last)
      results.push({ ok: true, value: { cursor: last } })
    }
    if (cursors.size === 0) return results
    const meta = { ...this.meta, inboxSeq }
    for (const [channel, last] of cursors) ops.push({ type: 'put', key: K.cursor(channel), value: last })
    ops.push({ type: 'put', key: K.meta, value: meta })
    const online = this.isOnline()
    const notifications = this.push.plan(online ? [] : delivered.map(([e, n]) => inboxFrame(e, n)), online, ops)
    try {
      await this.store.commit(ops)
    } catch (err) {
      const error = asChatError(err)
      return reqs.map(() => ({ ok: false, error }))
    }
    this.push.apply(notifications)
    this.meta = meta
    for (const [channel, last] of cursors) this.cursors.set(channel, last)
    if (channels) {
      this.channels.clear()
      for (const [k, v] of channels) this.channels.set(k, v)
    }
    this.pushEvents(delivered)
    return results
  }


  /**
   * Keeps the user's channel list in step with the events it receives. `changed` is the batch's
   * copy of the list, null until its first change: most deliveries change nothing, and copying a
   * long list for each would cost in proportion to the user's channels.
   */
  private trackMembership(e: ChannelEvent, changed: Map<string, Membership> | null, ops: KvOp[]): Map<string, Membership> | null {
    const channel = e.type === 'message' ? e.message.channel : e.channel
    const list = changed ?? this.channels
    const joins = e.type === 'message' || (e.type === 'member_added' && e.user === this.username)
    if (joins && !list.has(channel)) {
      const next = changed ?? new Map(this.channels)
      next.set(channel, { readSeq: 0 })
      ops.push({ type: 'put', key: K.channel(channel), value: { readSeq: 0 } })
      return next
    }
    if (e.type === 'member_removed' && e.user === this.username && list.has(channel)) {
      const next = changed ?? new Map(this.channels)
      next.delete(channel)
      ops.push({ type: 'del', key: K.channel(channel) })
      return next
    }
    return changed
  }

  private pushAll(frame: string, except?: string | null): void {
    const targets: DeviceRef[] = []
    for (const d of this.devices.values()) if (d.ref.sessionId !== except) targets.push(d.ref)
    if (targets.length > 0) this.env.pusher.push(targets, frame)
  }

  /** Ephemeral frames (typing) go to devices in use only: a silent device will not show them. */
  private pushLive(frame: string): void {
    const targets: DeviceRef[] = []
    for (const d of this.devices.values()) if (d.live) targets.push(d.ref)
    if (targets.length > 0) this.env.pusher.push(targets, frame)
  }

  private pushEvents(delivered: Array<[ChannelEvent, number]>): void {
    if (this.devices.size > 0) for (const [e, inboxSeq] of delivered) this.pushAll(inboxFrameJson(e, inboxSeq))
  }

  private async handleConnect(req: Extract<UserRequest, { kind: 'connect' }>): Promise<UserReplies['connect']> {
    this.requireProfile()
    const { tid, gen } = req.device
    if (tid !== undefined && !this.auth.valid(tid, gen ?? -1)) throw errors.unauthorized('this session was logged out')
    // A session registering again (after the user's key moved) is not a new device.
    if (!this.devices.has(req.device.sessionId) && this.devices.size >= this.env.config.maxDevices) {
      throw errors.limitReached(`at most ${this.env.config.maxDevices} devices may be connected at once`)
    }
    this.devices.set(req.device.sessionId, { ref: req.device, live: true })
    await this.setPresence(req.at)
    if (req.since === undefined) return { inboxSeq: this.meta.inboxSeq }
    return { inboxSeq: this.meta.inboxSeq, caughtUp: await this.catchUp(req.device, req.since) }
  }

  /**
   * Pushes a device that registers again (the user's key moved) the events it missed meanwhile:
   * those the previous owner committed without pushing (a write this owner adopted) and those this
   * owner committed before it knew the device. No delivery runs while this does (a connect is a
   * write), so nothing can slip between the catch-up and the live pushes after it. False when the
   * gap is too large or a body is not readable yet: the session then closes the socket with 1013
   * and the device syncs itself.
   */
  private async catchUp(device: DeviceRef, since: number): Promise<boolean> {
    const missed = this.meta.inboxSeq - since
    if (missed <= 0) return true
    if (missed > CATCH_UP_MAX_EVENTS) return false
    // The bodies are read from their channels, perhaps on other nodes, while this actor's writes
    // wait: a catch-up that cannot finish promptly (a channel moving, a cut) gives way to a resync.
    let timer: TimerHandle | undefined
    const late = new Promise<null>((resolve) => { timer = this.env.clock.setTimeout(() => resolve(null), CATCH_UP_WAIT_MS) })
    try {
      const page = await Promise.race([this.handleSync({ kind: 'sync', since, limit: missed }), late])
      if (!page || page.more) return false
      // As pushed live: `op`, then `inboxSeq`, then the rest (sessions read the seq from the head).
      for (const e of page.events) this.env.pusher.push([device], JSON.stringify(Object.assign({ op: e.op, inboxSeq: e.inboxSeq }, e)))
      return true
    } catch {
      return false
    } finally {
      this.env.clock.clearTimeout(timer)
    }
  }

  /** A device went silent past the presence timeout (live false), or spoke again (live true). */
  private async handleActivity(req: Extract<UserRequest, { kind: 'activity' }>): Promise<null> {
    const device = this.devices.get(req.sessionId)
    if (!device || device.live === req.live) return null
    device.live = req.live
    await this.setPresence(req.at)
    return null
  }

  private async handleDisconnect(req: Extract<UserRequest, { kind: 'disconnect' }>): Promise<null> {
    if (!this.devices.delete(req.sessionId)) return null
    await this.setPresence(req.lastActiveAt)
    return null
  }

  /**
   * Forgets the devices of a node declared down. That node may only have been silent (a stalled
   * event loop, a cut from NATS) with its sockets still open: those are told to register again, so
   * they are pushed what comes next. If the node is dead, the push fails and the pusher's resync
   * request gives up on it; if the push is lost, that resync closes the sockets.
   */
  private async handleDropNode(req: Extract<UserRequest, { kind: 'dropNode' }>): Promise<null> {
    const dropped: DeviceRef[] = []
    for (const [id, d] of this.devices) {
      if (d.ref.node === req.node) {
        this.devices.delete(id)
        dropped.push(d.ref)
      }
    }
    if (dropped.length === 0) return null
    this.env.pusher.push(dropped, REREGISTER_FRAME)
    await this.setPresence(this.env.now())
    return null
  }

  /** Persists lastActiveAt and tells friends when the user went online or offline. */
  private async setPresence(activeAt: number): Promise<void> {
    const online = this.isOnline()
    const lastActiveAt = Math.max(this.meta.lastActiveAt ?? 0, activeAt)
    const meta = { ...this.meta, lastActiveAt }
    const ops: KvOp[] = [{ type: 'put', key: K.meta, value: meta }]
    const withdrawn = online ? this.push.withdraw(ops) : []
    await this.store.commit(ops)
    this.push.withdrawn(withdrawn)
    this.meta = meta
    const changed = online !== this.announcedOnline
    this.announcedOnline = online
    if (!changed) return
    const friends = [...this.friends].filter(([u, s]) => s === 'friends' && !this.blocked.has(u)).map(([u]) => u)
    if (friends.length > 0) void this.env.actors.users(friends, { kind: 'presenceChanged', presence: this.presenceView() })
  }

  private presenceView(): PresenceView {
    return { user: this.username, status: this.isOnline() ? 'online' : 'offline', lastActiveAt: this.meta.lastActiveAt }
  }

  private isOnline(): boolean {
    for (const d of this.devices.values()) if (d.live) return true
    return false
  }

  private handlePresenceFor(req: Extract<UserRequest, { kind: 'presenceFor' }>): PresenceView | null {
    if (!this.profile || this.blocked.has(req.requester)) return null
    const visible = this.friends.get(req.requester) === 'friends' || req.requesterChannels.some((c) => this.channels.has(c))
    return visible ? this.presenceView() : null
  }

  /**
   * Presence of the named users that this user may see. Only users this actor already knows to
   * be visible (friends, the other side of its 1:1 channels, members of its groups) are asked, so
   * a query naming strangers or made-up names activates nobody; each one asked checks again
   * (blocks, and whether the friendship still holds).
   */
  private async handlePresenceQuery(req: Extract<UserRequest, { kind: 'presenceQuery' }>): Promise<PresenceView[]> {
    this.requireProfile()
    const wanted = new Set(req.users.filter((u) => u !== this.username))
    const out: PresenceView[] = req.users.includes(this.username) ? [this.presenceView()] : []
    const candidates: string[] = []
    const take = (u: string) => {
      if (wanted.delete(u)) candidates.push(u)
    }
    for (const [u, state] of this.friends) if (state === 'friends') take(u)
    const groups: string[] = []
    for (const c of this.channels.keys()) {
      if (c.startsWith('dm:')) {
        const [, a, b] = c.split(':') as [string, string, string]
        take(a === this.username ? b : a)
      } else groups.push(c)
    }
    for (let i = 0; i < groups.length && wanted.size > 0; i += PRESENCE_GROUPS_AT_ONCE) {
      const infos = await Promise.all(groups.slice(i, i + PRESENCE_GROUPS_AT_ONCE).map((g) => this.env.actors.channel(g, { kind: 'info' }).catch(() => null)))
      for (const info of infos) for (const m of info?.view.members ?? []) take(m)
    }
    if (candidates.length === 0) return out
    const results = await this.env.actors.users(candidates, { kind: 'presenceFor', requester: this.username, requesterChannels: [...this.channels.keys()] })
    for (const r of results) if (r.ok && r.value) out.push(r.value)
    return out
  }

  /**
   * Events after `since`, oldest first, with message bodies read from their channels. A page
   * stops early, with `more` set, before its bodies pass SYNC_PAGE_BYTES: a page of large messages
   * must fit a socket's queue, and the bodies are fetched chunk by chunk so a big backlog is never
   * held in memory at once.
   */
  private async handleSync(req: Extract<UserRequest, { kind: 'sync' }>): Promise<SyncResult> {
    this.requireProfile()
    const since = Math.max(0, req.since)
    const rows = await this.store.range<InboxEntry>({ gt: K.inbox(since), lt: `i${SEP}${HIGH}`, limit: req.limit })
    const events: InboxEvent[] = []
    let bytes = 0
    let full = false
    for (let at = 0; at < rows.length && !full; at += SYNC_FETCH_CHUNK) {
      const chunk = rows.slice(at, at + SYNC_FETCH_CHUNK)
      const bodies = await this.bodiesOf(chunk)
      for (const [key, e] of chunk) {
        const inboxSeq = parseNum(key.slice(2))
        if (!isPointer(e)) {
          events.push({ ...e, inboxSeq })
          continue
        }
        const m = bodies.get(`${e.c}/${e.s}`)
        // A gap in inboxSeq would break every client's cursor: refuse rather than skip.
        if (!m) throw errors.unavailable(`message ${e.c}/${e.s} is not readable right now`)
        // One message always fits (100,000 code points are at most 400 KB): a page is never empty.
        const size = Buffer.byteLength(m.text)
        if (events.length > 0 && bytes + size > SYNC_PAGE_BYTES) {
          full = true
          break
        }
        events.push(eventOf(e, inboxSeq, m))
        bytes += size
      }
    }
    const next = events.length > 0 ? events[events.length - 1]!.inboxSeq : since
    return { events, next, more: next < this.meta.inboxSeq }
  }

  /** The bodies of the messages some inbox rows point at, keyed `channel/seq`. */
  private async bodiesOf(rows: Array<[string, InboxEntry]>): Promise<Map<string, Message>> {
    const wanted = new Map<string, number[]>()
    for (const [, e] of rows) if ('c' in e) (wanted.get(e.c) ?? wanted.set(e.c, []).get(e.c)!).push(e.s)
    const bodies = new Map<string, Message>()
    await Promise.all([...wanted].map(async ([channel, seqs]) => {
      for (const m of await this.env.actors.channel(channel, { kind: 'messages', seqs })) bodies.set(`${channel}/${m.seq}`, m)
    }))
    return bodies
  }

  private async handleRead(req: Extract<UserRequest, { kind: 'read' }>): Promise<UserReplies['read']> {
    this.requireProfile()
    const membership = this.channels.get(req.channel)
    if (!membership) throw errors.notFound(`you are not in channel ${req.channel}`)
    const { lastSeq } = await this.env.actors.channel(req.channel, { kind: 'info' })
    const seq = Math.max(membership.readSeq, Math.min(Math.max(0, req.seq), lastSeq))
    if (seq === membership.readSeq) return { seq }
    const next = { readSeq: seq }
    await this.store.commit([{ type: 'put', key: K.channel(req.channel), value: next }])
    // The channel may have been left while we waited; only then is the position dropped.
    if (this.channels.has(req.channel)) this.channels.set(req.channel, next)
    this.pushAll(JSON.stringify({ op: 'read', channel: req.channel, seq }), req.sessionId)
    return { seq }
  }

  private requireProfile(): Profile {
    if (!this.profile) throw errors.notFound(`no user ${this.username}`)
    return this.profile
  }

  private view(): UserView {
    return { username: this.username, displayName: this.profile!.displayName }
  }
}
