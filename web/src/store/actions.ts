/**
 * Everything the person can do, as methods the components call: the account, the connection,
 * navigation and messages here, friends and groups in `social`, notifications in
 * `notifications`. Actions talk to the server only through the SDK (HttpApi for accounts, friends
 * and groups; ChatClient for the live connection) and write the outcome to the store through the
 * reducers.
 */
import { ChatClient, ChatError, HttpApi, newClientMsgId } from '@sdk'
import { forget, loadOutbox, loadSnapshot, saveOutbox, saveSession } from '../lib/local'
import { channelFromHash, conversationRoute } from '../lib/route'
import { onVisibilityChange, pageVisible } from '../lib/visibility'
import { closeNotifications } from '../lib/worker'
import { checkCredentials, describe } from './errors'
import { HistoryActions } from './history'
import { MessageActions } from './message-actions'
import { NotificationActions } from './notifications'
import * as r from './reducers'
import { SearchActions } from './search'
import { SocialActions } from './social'
import { initialState, type AppState, type SessionInfo, type Tab } from './state'
import type { Store } from './store'
import { wire } from './wiring'

/** How often the friends list (requests, presence) is reloaded while the page is visible. */
const FRIENDS_POLL_MS = 4000

export class ChatActions {
  readonly api: HttpApi
  /** Friends and groups. */
  readonly social: SocialActions
  /** The permission, and this browser's push subscription. */
  readonly notifications: NotificationActions
  /** Loading messages: newest, older, newer, and the window around one message. */
  readonly history: HistoryActions
  /** Edits, deletes and reactions. */
  readonly messages: MessageActions
  /** The search box and its results. */
  readonly search: SearchActions
  private client: ChatClient | null = null
  private stops: Array<() => void> = []
  /**
   * The previews were checked against the server since this session started. The saved snapshot
   * may predate an edit or a delete made while this browser was closed (the SDK syncs from the
   * server's newest event, not from the snapshot's), so the first connection reloads them all.
   */
  private previewsChecked = false

  constructor(private readonly store: Store, private readonly origin: string) {
    this.api = new HttpApi({ baseUrl: origin })
    this.social = new SocialActions(store, this.api, {
      me: () => this.me,
      refreshFriends: () => this.refreshFriends(),
      openConversation: (id) => this.openConversation(id),
    })
    this.notifications = new NotificationActions(store, this.api)
    this.history = new HistoryActions(store, () => this.client)
    this.messages = new MessageActions(store, () => this.client)
    this.search = new SearchActions(store, {
      client: () => this.client,
      history: this.history,
      openConversation: (id, options) => this.openConversation(id, options),
    })
  }

  private get state(): AppState {
    return this.store.get()
  }

  private set(change: (s: AppState) => Partial<AppState>): void {
    this.store.update(change)
  }

  private get me(): string {
    return this.state.session?.username ?? ''
  }

  // ---- account ----

  async login(username: string, password: string): Promise<void> {
    await this.authenticate(username.trim().toLowerCase(), password, false)
  }

  async signup(username: string, password: string): Promise<void> {
    await this.authenticate(username.trim().toLowerCase(), password, true)
  }

  private async authenticate(username: string, password: string, signingUp: boolean): Promise<void> {
    const invalid = checkCredentials(username, password, signingUp)
    if (invalid !== null) return this.set(() => ({ authError: invalid }))
    this.set(() => ({ busy: true, authError: null }))
    try {
      // A sign-up answers with a session: one request, one password hash.
      const s = signingUp ? await this.api.register({ username, password }) : await this.api.login({ username, password })
      this.start({ token: s.token, username: s.user.username, displayName: s.user.displayName, deviceId: s.deviceId })
    } catch (err) {
      this.set(() => ({ busy: false, authError: describe(err) }))
    }
  }

  logout(): void {
    const session = this.state.session
    this.stop()
    // Before forgetting: it reads which subscription this browser registered for this person.
    if (session !== null) void NotificationActions.disable(this.origin, session)
    forget(session?.username ?? '')
    // The next person to log in here does not land in this one's conversation.
    if (channelFromHash(location.hash) !== null) history.replaceState(null, '', location.pathname)
    this.set((s) => initialState(null, s.notifications, NotificationActions.initialPush()))
  }

  /** Starts a logged-in session: the saved snapshot first (works offline), then the live connection. */
  start(session: SessionInfo): void {
    this.stop()
    this.previewsChecked = false
    saveSession(session)
    this.api.token = session.token
    const snapshot = loadSnapshot(session.username)
    const outbox = loadOutbox(session.username).map((m) => ({ ...m, delivery: 'pending' as const }))
    this.set((s) => {
      const base = { ...initialState(session, s.notifications, NotificationActions.initialPush()), outbox, friends: snapshot?.friends ?? [] }
      const timelines: AppState['timelines'] = {}
      for (const [id, messages] of Object.entries(snapshot?.messages ?? {})) {
        timelines[id] = { messages, atStart: messages[0]?.seq === 1, atEnd: true, loadingOlder: false, loadingNewer: false, loaded: false }
      }
      return { ...base, ...r.withFriends(base, base.friends), conversations: snapshot?.conversations ?? {}, timelines }
    })
    const wsUrl = `${this.origin.replace(/^http/, 'ws')}/ws`
    const client = new ChatClient({ token: session.token, url: wsUrl, deviceId: session.deviceId })
    this.client = client
    this.stops.push(wire(client, this.store, {
      onCaughtUp: () => void this.caughtUp(),
      onMembership: (channel, removedMe) => {
        if (removedMe) this.set((s) => r.withoutConversation(s, channel))
        void this.refreshChannels()
      },
      onAuthFailed: () => this.expired(),
      onIncoming: (channel) => this.markRead(channel),
      openConversation: (channel) => this.openConversation(channel),
    }))
    const poll = setInterval(() => {
      if (pageVisible() && this.state.connection === 'connected') void this.refreshFriends()
    }, FRIENDS_POLL_MS)
    this.stops.push(() => clearInterval(poll))
    this.stops.push(onVisibilityChange((visible) => {
      if (!visible) return
      const active = this.state.active
      if (active !== null) this.markRead(active)
      void this.refreshFriends()
    }))
    for (const m of outbox) this.deliver(m.channel, m.text, m.clientMsgId)
    client.connect().catch(() => undefined)
    this.notifications.resume(session)
    // A link or a notification's click may name a conversation.
    const wanted = channelFromHash(location.hash)
    if (wanted !== null) this.openConversation(wanted)
  }

  private stop(): void {
    for (const s of this.stops.splice(0)) s()
    this.client?.close()
    this.client = null
  }

  private expired(): void {
    this.logout()
    this.set(() => ({ authError: 'Your session has ended. Please log in again.' }))
  }

  /** After every (re)connect: the lists may have changed while we were away. */
  private async caughtUp(): Promise<void> {
    await Promise.all([this.refreshChannels(), this.refreshFriends()])
    const active = this.state.active
    if (active !== null) {
      // A window further back stays where the person is reading (the sync brought its changes).
      if (this.state.timelines[active]?.atEnd !== false) await this.history.loadNewest(active)
      this.markRead(active)
    }
  }

  async refreshChannels(): Promise<void> {
    try {
      const askedAt = Date.now()
      const list = await this.api.channels()
      this.set((s) => r.withChannelList(s, list, askedAt))
      await this.loadPreviews()
    } catch {
      // Offline: the snapshot stays on screen; the next connection reloads.
    }
  }

  async refreshFriends(): Promise<void> {
    try {
      const friends = await this.api.friends()
      this.set((s) => r.withFriends(s, friends))
    } catch {
      // As above.
    }
  }

  /** The newest message of every conversation whose preview is missing or stale. */
  private async loadPreviews(): Promise<void> {
    const all = !this.previewsChecked && this.client !== null
    const stale = Object.values(this.state.conversations).filter((c) => c.lastSeq > 0 && (all || c.last === null || c.last.seq < c.lastSeq))
    if (all) this.previewsChecked = true
    for (let i = 0; i < stale.length; i += 8) {
      await Promise.all(stale.slice(i, i + 8).map(async (c) => {
        const [m] = await (this.client?.history(c.id, { limit: 1 }) ?? Promise.resolve([])).catch(() => [])
        if (m !== undefined) this.set((s) => r.withPreview(s, c.id, m))
      }))
    }
  }

  // ---- navigation ----

  setTab(tab: Tab): void {
    this.set(() => ({ tab, notice: null }))
  }

  /** Shows a conversation; `load: false` when the caller loads the part to show (a search result). */
  openConversation(id: string, { load = true }: { load?: boolean } = {}): void {
    this.set((s) => ({
      active: id, dialog: null, notice: null, tab: 'chats', jump: null,
      editing: s.editing?.channel === id ? s.editing : null,
      deleting: null,
    }))
    const route = conversationRoute(id)
    if (location.pathname + location.hash !== route) history.replaceState(null, '', route)
    // A message further back (a search result) is not "read up to the end": the list marks the
    // conversation read once its end is on screen.
    if (load) void this.history.loadNewest(id).then(() => this.markRead(id))
  }

  /** Back to the list (phones show one pane at a time). */
  closeConversation(): void {
    this.set(() => ({ active: null, dialog: null, editing: null, deleting: null, jump: null }))
    history.replaceState(null, '', location.pathname)
  }

  openDialog(dialog: AppState['dialog']): void {
    this.set(() => ({ dialog, notice: null }))
  }

  dismissNotice(): void {
    this.set(() => ({ notice: null }))
  }

  // ---- messages ----

  /** Shows the message at once as pending; the SDK keeps it until the server acknowledges it. */
  send(channel: string, text: string): void {
    if (text.trim() === '') return
    const clientMsgId = newClientMsgId()
    this.set((s) => r.withOutgoing(s, { channel, seq: null, from: this.me, text, ts: Date.now(), clientMsgId, delivery: 'pending' }))
    this.saveOutbox()
    // Reading further back (a search result): the end comes back first, then the message goes,
    // so its acknowledgement lands in a timeline that holds the end.
    if (this.state.timelines[channel]?.atEnd === false) void this.history.jumpToLatest(channel).then(() => this.deliver(channel, text, clientMsgId))
    else this.deliver(channel, text, clientMsgId)
  }

  /** Sends a failed message again, with the same id (the server stores it at most once). */
  retry(clientMsgId: string): void {
    const m = this.state.outbox.find((o) => o.clientMsgId === clientMsgId)
    if (m === undefined) return
    this.set((s) => r.withOutgoing(s, { ...m, delivery: 'pending', error: undefined }))
    this.deliver(m.channel, m.text, clientMsgId)
  }

  discard(clientMsgId: string): void {
    this.set((s) => r.withoutOutgoing(s, clientMsgId))
    this.saveOutbox()
  }

  private deliver(channel: string, text: string, clientMsgId: string): void {
    const client = this.client
    if (client === null) return
    client.send(channel, text, { clientMsgId }).then((ack) => {
      this.set((s) => r.withMessage(s, { channel: ack.channel, seq: ack.seq, from: this.me, text, ts: ack.ts, clientMsgId }))
      this.saveOutbox()
      client.read(ack.channel, ack.seq).catch(() => undefined)
    }, (err: unknown) => {
      if (err instanceof ChatError && err.code === 'CLOSED') return
      const m = this.state.outbox.find((o) => o.clientMsgId === clientMsgId)
      if (m !== undefined) this.set((s) => r.withOutgoing(s, { ...m, delivery: 'failed', error: describe(err) }))
      this.saveOutbox()
    })
  }

  private saveOutbox(): void {
    queueMicrotask(() => saveOutbox(this.me, this.state.outbox))
  }

  typing(channel: string): void {
    this.client?.typing(channel).catch(() => undefined)
  }

  /**
   * Marks everything read in a conversation the person is looking at: open, visible, and showing
   * its end (not a window further back, where the newest messages are not on screen).
   */
  markRead(channel: string): void {
    const c = this.state.conversations[channel]
    if (c === undefined || this.state.active !== channel || !pageVisible() || this.state.timelines[channel]?.atEnd === false) return
    // Its notifications are old news once it is on screen.
    closeNotifications(channel)
    if (c.readSeq >= c.lastSeq) return
    this.set((s) => r.withRead(s, channel, c.lastSeq))
    this.client?.read(channel, c.lastSeq).catch(() => undefined)
  }
}
