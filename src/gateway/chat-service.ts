/**
 * The product's use cases over the actors, shared by the HTTP routes and the WebSocket session so
 * each rule lives in one place. Stateless: every call names the acting user.
 */
import type { Actors } from '../actors/env.js'
import { checkClientMsgId, checkText, isUsername, parseChannelId } from '../actors/ids.js'
import type { FriendState, SendAck, SyncResult } from '../actors/messages.js'
import { type ChatError, asChatError, errors, fromWire } from '../errors.js'
import type { ChannelView, Message, PresenceView, UserView } from '../protocol/frames.js'
import { type Random, systemRandom } from '../random.js'
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js'
import type { Tokens } from './tokens.js'

export interface HistoryWindow { before?: number; after?: number; limit: number }

export interface FriendView extends UserView {
  state: FriendState
  status?: PresenceView['status']
  lastActiveAt?: number | null
}

export interface ChannelSummary extends ChannelView { lastSeq: number; readSeq: number }

export class ChatService {
  constructor(
    private readonly actors: Actors,
    private readonly tokens: Tokens,
    private readonly maxGroupSize: number,
    /** Group and device ids. */
    private readonly random: Random = systemRandom,
  ) {}

  async signup(username: string, password: string, displayName?: string): Promise<UserView> {
    const passwordHash = await hashPassword(password)
    return this.actors.user(username, { kind: 'signup', passwordHash, displayName: displayName ?? username })
  }

  async login(username: string, password: string, deviceId?: string): Promise<{ token: string; user: UserView; deviceId: string }> {
    const creds = isUsername(username)
      ? await this.actors.user(username, { kind: 'credentials' }).catch((err) => {
        if (err?.code === 'NOT_FOUND') return null
        throw err
      })
      : null
    if (!creds) {
      await burnPasswordCheck(password)
      throw errors.unauthorized('wrong username or password')
    }
    if (!(await verifyPassword(password, creds.passwordHash))) throw errors.unauthorized('wrong username or password')
    const device = deviceId ?? `d-${this.random.bytes(8).toString('hex')}`
    return { token: this.tokens.issue(username, device), user: creds.user, deviceId: device }
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
    if (!isUsername(target)) throw errors.notFound(`no user ${target}`)
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
      this.actors.users(names, { kind: 'presence' }),
    ])
    return friends.map((f, i) => {
      const p = profiles[i]!
      const view: FriendView = { username: f.username, displayName: p.ok ? p.value.displayName : f.username, state: f.state }
      const pr = presence[i]!
      if (f.state === 'friends' && pr.ok) {
        view.status = pr.value.status
        view.lastActiveAt = pr.value.lastActiveAt
      }
      return view
    })
  }

  async createGroup(user: string, name: string, members: string[]): Promise<ChannelView> {
    const distinct = [...new Set([user, ...members])]
    if (distinct.length > this.maxGroupSize) throw errors.groupFull(this.maxGroupSize)
    await this.requireUsers(distinct.filter((m) => m !== user))
    const id = `g:${this.random.bytes(9).toString('base64url')}`
    return this.actors.channel(id, { kind: 'create', name, by: user, members: distinct })
  }

  async addMember(user: string, group: string, target: string): Promise<ChannelView> {
    const id = this.groupId(group)
    await this.requireUsers([target])
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

  history(user: string, channel: string, window: HistoryWindow): Promise<Message[]> {
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
    if (!parsed || parsed.kind !== 'group') throw errors.notFound(`no group ${raw}`)
    return parsed.id
  }

  private async requireUsers(usernames: string[]): Promise<void> {
    for (const u of usernames) if (!isUsername(u)) throw errors.notFound(`no user ${u}`)
    const found = await this.actors.users(usernames, { kind: 'profile' })
    found.forEach((r, i) => {
      if (!r.ok) throw r.error.code === 'NOT_FOUND' ? errors.notFound(`no user ${usernames[i]}`) : r.error
    })
  }
}
