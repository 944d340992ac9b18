/**
 * The logged-in layout: the sidebar and the open conversation side by side on wide screens, one
 * at a time on phones (the `shell--chat` class says which one a phone shows).
 */
import { useEffect } from 'preact/hooks'
import { unreadOf } from '../store/state'
import { useAppState } from '../store/store'
import { ChatPane } from './ChatPane'
import { ConnectionBanner } from './ConnectionBanner'
import { EmptyPane } from './EmptyPane'
import { GroupInfoDialog } from './GroupInfoDialog'
import { NewGroupDialog } from './NewGroupDialog'
import { Sidebar } from './Sidebar'
import { Toast } from './Toast'

export function ChatShell() {
  const active = useAppState((s) => s.active)
  const dialog = useAppState((s) => s.dialog)
  const unread = useAppState((s) => Object.values(s.conversations).reduce((n, c) => n + unreadOf(c), 0))

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Chat` : 'Chat'
  }, [unread])

  return (
    <div class={`shell ${active === null ? 'shell--list' : 'shell--chat'}`}>
      <ConnectionBanner />
      <div class="shell__panes">
        <Sidebar />
        <main class="pane" aria-label="Conversation">
          {active === null ? <EmptyPane /> : <ChatPane key={active} channel={active} />}
        </main>
      </div>
      {dialog === 'new-group' && <NewGroupDialog />}
      {dialog === 'group-info' && active !== null && <GroupInfoDialog channel={active} />}
      {dialog === null && <Toast />}
    </div>
  )
}
