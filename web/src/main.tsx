/**
 * Boots the app: the store, the actions, the saved login and snapshot, the service worker, and
 * the root component.
 */
import { isOpenConversationMessage } from '@sdk'
import { render } from 'preact'
import { App } from './components/App'
import { loadSession, saveSnapshot } from './lib/local'
import { notificationState } from './lib/notify'
import { channelFromHash } from './lib/route'
import { ChatActions } from './store/actions'
import { NotificationActions } from './store/notifications'
import { initialState } from './store/state'
import { AppContext, Store } from './store/store'
import './styles.css'

const store = new Store(initialState(loadSession(), notificationState(), NotificationActions.initialPush()))
const actions = new ChatActions(store, location.origin)

// The conversations, their recent messages and the friends are kept for the next (maybe offline) start.
let saveTimer: ReturnType<typeof setTimeout> | undefined
store.subscribe(() => {
  if (saveTimer !== undefined) return
  saveTimer = setTimeout(() => {
    saveTimer = undefined
    const s = store.get()
    if (s.session === null) return
    const messages = Object.fromEntries(Object.entries(s.timelines).map(([id, t]) => [id, t.messages]))
    saveSnapshot(s.session.username, { conversations: s.conversations, messages, friends: s.friends })
  }, 1000)
})

const session = store.get().session
// Starting also opens the conversation the URL names, if any (lib/route.ts).
if (session !== null) actions.start(session)

/** A conversation named from outside: a notification's click, a link, the address bar. */
function openFromOutside(channel: string | null): void {
  if (channel !== null && store.get().session !== null && store.get().active !== channel) actions.openConversation(channel)
}

window.addEventListener('hashchange', () => openFromOutside(channelFromHash(location.hash)))

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch(() => undefined)
  // A click on a push notification asks an open window to show that conversation.
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isOpenConversationMessage(event.data)) openFromOutside(event.data.channel)
  })
}

render(<AppContext.Provider value={{ store, actions }}><App /></AppContext.Provider>, document.getElementById('app')!)
