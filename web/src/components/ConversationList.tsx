/**
 * The conversations, newest activity first. Up and down arrows move between them; Enter opens.
 */
import { useActions, useAppState } from '../store/store'
import { arrowNavigation } from '../lib/keys'
import { ConversationItem } from './ConversationItem'

export function ConversationList() {
  const actions = useActions()
  const conversations = useAppState((s) => s.conversations)
  const sorted = Object.values(conversations).sort((a, b) => b.activity - a.activity || a.name.localeCompare(b.name))
  if (sorted.length === 0) {
    return (
      <div class="list-empty">
        <p>No conversations yet.</p>
        <p>Add a friend in <button type="button" class="link" onClick={() => actions.setTab('friends')}>Friends</button>, or start a group with the group button above.</p>
      </div>
    )
  }
  return (
    <ul class="conversations" aria-label="Conversations" onKeyDown={(e) => arrowNavigation(e, '.conversation')}>
      {sorted.map((c) => <li key={c.id}><ConversationItem conversation={c} /></li>)}
    </ul>
  )
}
