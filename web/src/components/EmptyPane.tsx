/** What a wide screen shows beside the sidebar before a conversation is opened. */
import { Icon } from './Icon'

export function EmptyPane() {
  return (
    <div class="empty-pane">
      <div class="empty-pane__art"><Icon name="chat" size={64} /></div>
      <h2>Pick a conversation</h2>
      <p>Choose a chat on the left, add a friend, or start a group.</p>
      <p class="empty-pane__keys">Tip: use Tab and the arrow keys to move around; Enter sends, Shift+Enter starts a new line.</p>
    </div>
  )
}
