/**
 * The product's use cases over the actors, shared by the HTTP routes and the WebSocket session so
 * each rule lives in one place. Stateless: every call names the acting user.
 */
import type { Actors } from '../actors/env.js'
import { checkClientMsgId, checkText, isUsername, parseChannelId } from '../actors/ids.js'
import { checkEmoji } from '../actors/message-changes.js'
import type { FriendState, HistoryPage, SearchPage, SendAck, SyncResult } from '../actors/messages.js'
import { UserAuth } from '../actors/user-auth.js'
import { type ChatError, asChatError, errors, fromWire, quote } from '../errors.js'
import type { ChannelView, Message, PresenceView, UserView } from '../protocol/frames.js'
import { type Random, systemRandom } from '../random.js'
import { type Derive, burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js'
import type { SearchParams } from './search-params.js'
import type { TokenClaims, Tokens } from './tokens.js'

export interface HistoryWindow { before?: number; after?: number; limit: number }

export interface FriendView extends UserView {
  state: FriendState
  status?: PresenceView['status']
  lastActiveAt?: number | null
}

export interface ChannelSummary extends ChannelView { lastSeq: number; readSeq: number }

/** Usernames without an account whose failed logins this node counts (see loginUnknown). */
const UNKNOWN_TRACKED = 10_000

export class ChatService {
  private readonly unknownLogins = new Map<string, UserAuth>()

  constructor(
    private readonly actors: Actors,
    private readonly tokens: Tokens,
    private readonly maxGroupSize: number,
    /** Where password hashes are computed (the node's bounded hasher threads), and its admission check. */
    private readonly hasher?: { derive: Derive; admit(): void },
    private readonly now: () => number = Date.now,
    /** Group and device ids. */
    private readonly random: Random = systemRandom,
  ) {}

  private get derive(): Derive | undefined {
    return this.hasher?.derive
  }

  /**
   * A sign-up, which also logs the new account in (as `login` would, without hashing the password
   * a second time): a new user's app goes straight on, and one sign-up costs one hash, not two.
   */
  async signup(username: string, password: string, displayName?: string, deviceId?: string): Promise<{ token: string; user: UserView; deviceId: string }> {
    this.hasher?.admit()
    const passwordHash = await hashPassword(password, this.derive)
    const { user, gen } = await this.actors.user(username, { kind: 'signup', passwordHash, displayName: displayName ?? username })
    return this.session(user, gen, deviceId)
  }

  /**
   * A login. The user actor counts failures per username (the count holds on every node and
   * survives failover) and refuses, before any hashing, a username with too many lately; the
   * failure is stored before the 401 is answered, so a guesser cannot outrun the count.
   */
  async login(username: string, password: string, deviceId?: string): Promise<{ token: string; user: UserView; deviceId: string }> {
    // A full hasher refuses at once, before the user actor is even asked.
    this.hasher?.admit()
    const creds = isUsername(username)
      ? await this.actors.user(username, { kind: 'credentials' }).catch((err) => {
        if (err?.code === 'NOT_FOUND') return null
        throw err
      })
      : null
    if (!creds) return this.loginUnknown(username, password)
    if (creds.kind === 'throttled') throw errors.rateLimited('too many failed logins for this username; retry later', creds.retryAfterSec)
    let ok: boolean
    try {
      ok = await verifyPassword(password, creds.passwordHash, this.derive)
    } catch (err) {
      // The hasher refused (busy): nothing was checked, so nothing is counted.
      await this.actors.user(username, { kind: 'loginResult', attempt: creds.attempt, outcome: 'cancelled' }).catch(() => null)
      throw err
    }
    await this.actors.user(username, { kind: 'loginResult', attempt: creds.attempt, outcome: ok ? 'ok' : 'failed' })
    if (!ok) throw errors.unauthorized('wrong username or password')
    return this.session(creds.user, creds.gen, deviceId)
  }

  /** A session for `user` on `deviceId` (one made up when none is given), its token of generation `gen`. */
  private session(user: UserView, gen: number, deviceId?: string): { token: string; user: UserView; deviceId: string } {
    const device = deviceId ?? `d-${this.random.bytes(8).toString('hex')}`
    return { token: this.tokens.issue(user.username, device, gen).token, user, deviceId: device }
  }

  /**
   * A login for a username without an account answers like a wrong password, after as long, and
   * is throttled alike (so the 429 does not tell which names exist). Its count is kept on this
   * node only, for at most UNKNOWN_TRACKED names: there is no account to protect.
   */
  private async loginUnknown(username: string, password: string): Promise<never> {
    const key = username.slice(0, 64)
    let guard = this.unknownLogins.get(key)
    if (guard) this.unknownLogins.delete(key)
    else guard = new UserAuth(this.now, this.random)
    this.unknownLogins.set(key, guard)
    if (this.unknownLogins.size > UNKNOWN_TRACKED) this.unknownLogins.delete(this.unknownLogins.keys().next().value!)
    const verdict = guard.begin()
    if (verdict.kind === 'throttled') throw errors.rateLimited('too many failed logins for this username; retry later', verdict.retryAfterSec)
    try {
      await burnPasswordCheck(password, this.derive)
    } catch (err) {
      guard.finish(verdict.attempt, 'cancelled')
      throw err
    }
    guard.finish(verdict.attempt, 'failed')?.apply()
    throw errors.unauthorized('wrong username or password')
  }

  /** Whether a genuine token is still good (not revoked); UNAUTHORIZED otherwise. */
  async checkToken(claims: TokenClaims): Promise<void> {
    await this.actors.user(claims.user, { kind: 'checkToken', tid: claims.tid, gen: claims.gen }).catch((err) => {
      throw err?.code === 'NOT_FOUND' ? errors.unauthorized() : err
    })
  }

  logout(claims: TokenClaims): Promise<null> {
    return this.actors.user(claims.user, { kind: 'revokeToken', tid: claims.tid, exp: claims.exp, deviceId: claims.device })
  }

  logoutEverywhere(user: string): Promise<null> {
    return this.actors.user(user, { kind: 'revokeAll' })
  }

  block(user: string, target: string): Promise<string[]> {
    if (target === user) throw errors.badRequest('you cannot block yourself')
    if (!isUsername(target)) throw errors.notFound(`no user ${quote(target)}`)
    return this.actors.user(user, { kind: 'block', user: target })
  }

  unblock(user: string, target: string): Promise<string[]> {
    if (!isUsername(target)) return this.blocks(user)
    return this.actors.user(user, { kind: 'unblock', user: target })
  }

  blocks(user: string): Promise<string[]> {
    return this.actors.user(user, { kind: 'blocks' })
  }

  me(user: string): Promise<UserView> {
    return this.actors.user(user, { kind: 'profile' })
  }

  updateMe(user: string, displayName: string): Promise<UserView> {
    return this.actors.user(user, { kind: 'updateProfile', displayName })
  }

  /** Asks to befriend `target`; both become friends once both have asked. */
  async addFriend(user: string, target: string): Promise<{ username: string; state: FriendState }> {
    if (target === user) throw errors.badRequest('you cannot befriend yourself')
    if (!isUsername(target)) throw errors.notFound(`no user ${quote(target)}`)
    // The target's side decides first: it knows whether it had already asked.
    const theirState = await this.actors.user(target, { kind: 'friendReceived', from: user })
    const state = await this.actors.user(user, { kind: 'friendSent', to: target, theirState })
    return { username: target, state }
  }

  async listFriends(user: string): Promise<FriendView[]> {
    const friends = await this.actors.user(user, { kind: 'friends' })
    const names = friends.map((f) => f.username)
    const [profiles, presence] = await Promise.all([
      this.actors.users(names, { kind: 'profile' }),
      // Asked as this user: a friend who blocks them shows no status.
      this.actors.users(names, { kind: 'presenceFor', requester: user, requesterChannels: [] }),
    ])
    return friends.map((f, i) => {
      const p = profiles[i]!
      const view: FriendView = { username: f.username, displayName: p.ok ? p.value.displayName : f.username, state: f.state }
      const pr = presence[i]!
      if (f.state === 'friends' && pr.ok && pr.value) {
        view.status = pr.value.status
        view.lastActiveAt = pr.value.lastActiveAt
      }
      return view
    })
  }

  async createGroup(user: string, name: string, members: string[]): Promise<ChannelView> {
    const distinct = [...new Set([user, ...members])]
    if (distinct.length > this.maxGroupSize) throw errors.groupFull(this.maxGroupSize)
    await this.requireUsers(user, distinct.filter((m) => m !== user))
    const id = `g:${this.random.bytes(9).toString('base64url')}`
    return this.actors.channel(id, { kind: 'create', name, by: user, members: distinct })
  }

  async addMember(user: string, group: string, target: string): Promise<ChannelView> {
    const id = this.groupId(group)
    await this.requireUsers(user, [target])
    return this.actors.channel(id, { kind: 'addMember', by: user, user: target })
  }

  removeMember(user: string, group: string, target: string): Promise<ChannelView> {
    return this.actors.channel(this.groupId(group), { kind: 'removeMember', by: user, user: target })
  }

  async listChannels(user: string): Promise<ChannelSummary[]> {
    const mine = await this.actors.user(user, { kind: 'channels' })
    const infos = await Promise.all(mine.map((c) => this.actors.channel(c.id, { kind: 'info' }).catch(() => null)))
    const out: ChannelSummary[] = []
    mine.forEach((c, i) => {
      const info = infos[i]
      if (info) out.push({ ...info.view, lastSeq: info.lastSeq, readSeq: c.readSeq })
    })
    return out
  }

  history(user: string, channel: string, window: HistoryWindow): Promise<HistoryPage> {
    const { id } = parseChannelId(channel)
    return this.actors.channel(id, { kind: 'history', user, ...window })
  }

  presence(user: string, users: string[]): Promise<PresenceView[]> {
    return this.actors.user(user, { kind: 'presenceQuery', users: users.filter(isUsername).slice(0, 1000) })
  }

  send(user: string, channel: string, clientMsgId: string, text: string) {
    const { id } = parseChannelId(channel)
    checkClientMsgId(clientMsgId)
    checkText(text)
    return this.actors.channel(id, { kind: 'send', from: user, clientMsgId, text })
  }

  /**
   * Several sends of one device to one channel, in order: one request to the channel, which
   * stores them in one commit. Each is answered on its own (an ack, or its own error).
   */
  async sendMany(user: string, channel: string, items: Array<{ clientMsgId: string; text: string }>): Promise<Array<{ ok: true; value: SendAck } | { ok: false; error: ChatError }>> {
    const { id } = parseChannelId(channel)
    const checked = items.map((item) => {
      try {
        checkClientMsgId(item.clientMsgId)
        checkText(item.text)
        return null
      } catch (err) {
        return asChatError(err)
      }
    })
    const valid = items.filter((_, i) => !checked[i])
    const replies = valid.length > 0 ? await this.actors.channel(id, { kind: 'sendMany', sends: valid.map((v) => ({ from: user, ...v })) }) : []
    let next = 0
    return items.map((_, i) => {
      const refused = checked[i]
      if (refused) return { ok: false as const, error: refused }
      const r = replies[next++]!
      return r.ok ? r : { ok: false as const, error: fromWire(r.error) }
    })
  }

  /** Tells the channel's other members that `user` is typing; nothing is stored. */
  async typing(user: string, channel: string): Promise<void> {
    const { id } = parseChannelId(channel)
    await this.actors.channel(id, { kind: 'typing', user })
  }

  edit(user: string, channel: string, seq: number, text: string): Promise<null> {
    const { id } = parseChannelId(channel)
    checkText(text)
    return this.actors.channel(id, { kind: 'edit', by: user, seq, text })
  }

  deleteMessage(user: string, channel: string, seq: number): Promise<null> {
    const { id } = parseChannelId(channel)
    return this.actors.channel(id, { kind: 'delete', by: user, seq })
  }

  react(user: string, channel: string, seq: number, emoji: string, on: boolean): Promise<null> {
    const { id } = parseChannelId(channel)
    checkEmoji(emoji)
    return this.actors.channel(id, { kind: 'react', by: user, seq, emoji, on })
  }

  /** A page of search results over the user's channels, or over `channel` (members only). */
  search(user: string, params: SearchParams): Promise<SearchPage> {
    const channel = params.channel === undefined ? undefined : parseChannelId(params.channel).id
    return this.actors.user(user, { kind: 'search', words: params.words, channel, before: params.before, limit: params.limit })
  }

  sync(user: string, since: number, limit: number): Promise<SyncResult> {
    return this.actors.user(user, { kind: 'sync', since, limit })
  }

  read(user: string, channel: string, seq: number, sessionId: string | null): Promise<{ seq: number }> {
    const { id } = parseChannelId(channel)
    return this.actors.user(user, { kind: 'read', channel: id, seq, sessionId })
  }

  private groupId(raw: string): string {
    const parsed = (() => {
      try {
        return parseChannelId(raw)
      } catch {
        return null
      }
    })()
    if (!parsed || parsed.kind !== 'group') throw errors.notFound(`no group ${quote(raw)}`)
    return parsed.id
  }

  /** Every one of `usernames` exists and does not block `by` (who wants to add them to a group). */
  private async requireUsers(by: string, usernames: string[]): Promise<void> {
    for (const u of usernames) if (!isUsername(u)) throw errors.notFound(`no user ${quote(u)}`)
    const found = await this.actors.users(usernames, { kind: 'admit', by })
    found.forEach((r, i) => {
      if (!r.ok) throw r.error.code === 'NOT_FOUND' ? errors.notFound(`no user ${usernames[i]}`) : r.error
    })
  }
}
