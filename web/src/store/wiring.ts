/**
 * Feeds the store from one ChatClient: every SDK event becomes a state change through the pure
 * reducers. The only place where the SDK's events enter the app.
 */
import type { ChatClient, MessageEvent } from '@sdk'
import { pageVisible } from '../lib/visibility'
import { showNotification } from '../lib/notify'
import * as r from './reducers'
import type { Store } from './store'

export interface WiringHooks {
  /** The connection is (again) open and caught up: reload lists, resend, mark read. */
  onCaughtUp(): void
  /** Group membership changed somewhere: reload the channel list. */
  onMembership(channel: string, removedMe: boolean): void
  /** The server refused the login token: the person must log in again. */
  onAuthFailed(): void
  /** A new message from someone else: mark read if it is on screen. */
  onIncoming(channel: string): void
  openConversation(channel: string): void
}

export function wire(client: ChatClient, store: Store, hooks: WiringHooks): () => void {
  const me = () => store.get().session?.username ?? ''
  const offs = [
    client.on('state', (change) => {
      if (change.state === 'open') store.update(() => ({ connection: 'connected' }))
      else if (change.state === 'connecting') store.update(() => ({ connection: 'reconnecting' }))
      else if (change.reason === 'auth_failed') hooks.onAuthFailed()
    }),
    client.on('synced', () => hooks.onCaughtUp()),
    client.on('message', (m) => {
      store.update((s) => r.withMessage(s, m))
      if (m.from !== me()) {
        hooks.onIncoming(m.channel)
        notifyIfHidden(store, m, hooks)
      }
    }),
    client.on('member', (e) => hooks.onMembership(e.channel, e.op === 'member_removed' && e.user === me())),
    client.on('read', (f) => store.update((s) => r.withRead(s, f.channel, f.seq))),
    client.on('presence', (p) => store.update((s) => r.withPresence(s, p))),
    client.on('typing', (f) => {
      if (f.user !== me()) store.update((s) => r.withTyping(s, f.channel, f.user, Date.now()))
    }),
  ]
  const sweep = setInterval(() => {
    const change = r.withoutExpiredTyping(store.get(), Date.now())
    if (Object.keys(change).length > 0) store.update(() => change)
  }, 1000)
  return () => {
    for (const off of offs) off()
    clearInterval(sweep)
  }
}

function notifyIfHidden(store: Store, m: MessageEvent, hooks: WiringHooks): void {
  if (pageVisible()) return
  const c = store.get().conversations[m.channel]
  const title = c?.kind === 'group' ? `${m.from} in ${c.name}` : m.from
  showNotification(title, m.text, m.channel, (channel) => hooks.openConversation(channel))
}
