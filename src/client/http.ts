/**
 * Typed client of the HTTP API (PROTOCOL.md section 2). Uses the global `fetch` unless one is
 * passed in. Every failure is thrown as an `ApiError`.
 */
import type { ChannelView, Message, PresenceView, UserView } from '../protocol/frames.js'
import { ApiError } from './errors.js'
import type { SearchOptions, SearchResult } from './types.js'

/** `POST /v1/sessions` answer. */
export interface SessionInfo { token: string; user: UserView; deviceId: string }

export type FriendState = 'friends' | 'requested' | 'pending'

export interface FriendView {
  username: string
  displayName: string
  /** `friends`; `requested` (you asked); `pending` (they asked). */
  state: FriendState
  /** Only for friends. */
  status?: PresenceView['status']
  lastActiveAt?: number | null
}

export interface ChannelSummary extends ChannelView { lastSeq: number; readSeq: number }

export interface DiscoverResult {
  /** WebSocket URL (`ws://host:port/ws`) of the best node for a new client. */
  url: string
  nodeId: string
}

export interface ClusterMember { id: string; http: string; grpc: string; live: boolean; connections: number; actors: number }
export interface ClusterView { self: string; ringVersion: number; members: ClusterMember[] }

/**
 * A window of a channel's history. `before` alone: the newest `limit` with `seq < before`;
 * `after` alone: the oldest `limit` with `seq > after`; both: the oldest `limit` in between;
 * neither: the newest `limit`. Results are always ascending by `seq`.
 */
export interface HistoryWindow { before?: number; after?: number; limit?: number }

export interface HttpApiOptions {
  /** Base URL of any node, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string
  /** Bearer token; `login` sets it. */
  token?: string
  fetch?: typeof fetch
  /** Per-request timeout in ms. Default 10000. */
  timeoutMs?: number
}

export class HttpApi {
  readonly baseUrl: string
  /** Sent as `Authorization: Bearer` on authenticated calls. Set by `login`. */
  token: string | undefined
  private readonly fetchFn: typeof fetch
  private readonly timeoutMs: number

  constructor(options: HttpApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.token = options.token
    const fetchFn = options.fetch ?? globalThis.fetch
    if (typeof fetchFn !== 'function') throw new TypeError('no fetch available: pass options.fetch')
    // Browsers refuse `fetch` called as a method of another object ("Illegal invocation").
    this.fetchFn = options.fetch ?? fetchFn.bind(globalThis)
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  /** Creates an account. `USERNAME_TAKEN` (409) when the name exists. */
  async signup(body: { username: string; password: string; displayName?: string }): Promise<UserView> {
    return (await this.call<{ user: UserView }>('POST', '/v1/users', body, false)).user
  }

  /**
   * Creates an account and logs it in, keeping the token, in one request (a node answers a sign-up
   * with a session). From a node whose sign-up answers with the user alone, it logs in after.
   */
  async register(body: { username: string; password: string; displayName?: string; deviceId?: string }): Promise<SessionInfo> {
    const answer = await this.call<{ user: UserView } & Partial<SessionInfo>>('POST', '/v1/users', body, false)
    if (typeof answer.token !== 'string' || typeof answer.deviceId !== 'string') {
      return this.login({ username: body.username, password: body.password, deviceId: body.deviceId })
    }
    this.token = answer.token
    return { token: answer.token, user: answer.user, deviceId: answer.deviceId }
  }

  /** Logs in and keeps the token for later calls. Reuse `deviceId` to stay the same device. */
  async login(body: { username: string; password: string; deviceId?: string }): Promise<SessionInfo> {
    const session = await this.call<SessionInfo>('POST', '/v1/sessions', body, false)
    this.token = session.token
    return session
  }

  async me(): Promise<UserView> {
    return (await this.call<{ user: UserView }>('GET', '/v1/me')).user
  }

  async updateMe(body: { displayName: string }): Promise<UserView> {
    return (await this.call<{ user: UserView }>('PATCH', '/v1/me', body)).user
  }

  /** Asks `username` to be friends; the state becomes `friends` once both asked. */
  async addFriend(username: string): Promise<{ username: string; state: FriendState }> {
    return await this.call('POST', '/v1/friends', { username })
  }

  async friends(): Promise<FriendView[]> {
    return (await this.call<{ friends: FriendView[] }>('GET', '/v1/friends')).friends
  }

  /** Creates a group; the creator is always a member. */
  async createGroup(name: string, members: string[] = []): Promise<ChannelView> {
    return (await this.call<{ channel: ChannelView }>('POST', '/v1/groups', { name, members })).channel
  }

  async addMember(groupId: string, username: string): Promise<ChannelView> {
    const path = `/v1/groups/${encodeURIComponent(groupId)}/members`
    return (await this.call<{ channel: ChannelView }>('POST', path, { username })).channel
  }

  /** Removes a member; a member may remove themself (leave). */
  async removeMember(groupId: string, username: string): Promise<ChannelView> {
    const path = `/v1/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(username)}`
    return (await this.call<{ channel: ChannelView }>('DELETE', path)).channel
  }

  async channels(): Promise<ChannelSummary[]> {
    return (await this.call<{ channels: ChannelSummary[] }>('GET', '/v1/channels')).channels
  }

  /** A window of a channel's messages, ascending by `seq`. */
  async history(channel: string, window: HistoryWindow = {}): Promise<Message[]> {
    const path = `/v1/channels/${encodeURIComponent(channel)}/messages${query({ before: window.before, after: window.after, limit: window.limit })}`
    return (await this.call<{ messages: Message[] }>('GET', path)).messages
  }

  /**
   * Messages of your channels (or of `options.channel`) containing every word of `q`, newest
   * first; page on with `before: result.next` while `result.more`.
   */
  async search(q: string, options: SearchOptions = {}): Promise<SearchResult> {
    const path = `/v1/search${query({ q, channel: options.channel, before: options.before, limit: options.limit })}`
    return await this.call<SearchResult>('GET', path)
  }

  /** Replaces the text of one of your messages (the `edit` op over HTTP). */
  async edit(channel: string, seq: number, text: string): Promise<void> {
    await this.call('PATCH', messagePath(channel, seq), { text }, true, false)
  }

  /** Deletes a message: yours, or in a group you created anyone's. */
  async deleteMessage(channel: string, seq: number): Promise<void> {
    await this.call('DELETE', messagePath(channel, seq), undefined, true, false)
  }

  /** Puts your reaction on a message (`on` true, the default) or takes it off. */
  async react(channel: string, seq: number, emoji: string, on = true): Promise<void> {
    await this.call(on ? 'PUT' : 'DELETE', `${messagePath(channel, seq)}/reactions/${encodeURIComponent(emoji)}`, undefined, true, false)
  }

  /** Presence of friends and users sharing a channel; others are left out of the answer. */
  async presence(users: string[]): Promise<PresenceView[]> {
    const path = `/v1/presence?users=${users.map(encodeURIComponent).join(',')}`
    return (await this.call<{ presence: PresenceView[] }>('GET', path)).presence
  }

  /** The WebSocket URL of the best node for a new connection. */
  async discover(region?: string): Promise<DiscoverResult> {
    return await this.call('GET', `/v1/discover${query({ region })}`, undefined, false)
  }

  async cluster(): Promise<ClusterView> {
    return await this.call('GET', '/v1/cluster', undefined, false)
  }

  async health(): Promise<{ status: string; nodeId: string }> {
    return await this.call('GET', '/healthz', undefined, false)
  }

  /**
   * One request of the API (used by the other clients of this SDK, e.g. `PushApi`); a 204 resolves
   * with undefined, and so does any success when `json` is false.
   */
  async call<T>(method: string, path: string, body?: unknown, auth = true, json = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (auth && this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    let response: Response
    try {
      response = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (err) {
      throw new ApiError(0, 'NETWORK_ERROR', `${method} ${path}: ${(err as Error).message}`, { cause: err })
    }
    const text = await response.text().catch(() => '')
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (!response.ok) throw errorFromBody(response.status, parsed, `${method} ${path}`)
    if (!json || response.status === 204) return undefined as T
    if (parsed === undefined) throw new ApiError(response.status, 'BAD_RESPONSE', `${method} ${path}: body is not JSON`)
    return parsed as T
  }
}

function errorFromBody(status: number, body: unknown, what: string): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
  if (typeof error?.code === 'string') {
    return new ApiError(status, error.code, typeof error.message === 'string' ? error.message : error.code)
  }
  return new ApiError(status, 'BAD_RESPONSE', `${what}: HTTP ${status} without an error body`)
}

function messagePath(channel: string, seq: number): string {
  return `/v1/channels/${encodeURIComponent(channel)}/messages/${seq}`
}

function query(params: Record<string, string | number | undefined>): string {
  const parts: string[] = []
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${key}=${encodeURIComponent(String(value))}`)
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}
