/**
 * The buttons beside a message, shown while the pointer is over it or the focus is in it: add a
 * reaction, and "…" for its menu. Only the message holding the focus puts them in the Tab order,
 * so tabbing through the conversation does not stop at every message.
 */
import { Icon } from './Icon'

interface Props {
  /** The message has the focus: the buttons are in the Tab order. */
  tabbable: boolean
  menuOpen: boolean
  onReact(e: Event): void
  onMenu(e: Event): void
}

export function MessageTools({ tabbable, menuOpen, onReact, onMenu }: Props) {
  return (
    <div class="message__tools">
      <button type="button" class="tool tool--react" data-testid="add-reaction" aria-label="Add a reaction" title="Add a reaction" aria-haspopup="dialog"
        tabIndex={tabbable ? 0 : -1} onClick={onReact}>
        <Icon name="smile" size={18} />
      </button>
      <button type="button" class="tool" data-testid="message-menu" aria-label="Message actions" title="More actions"
        aria-haspopup="menu" aria-expanded={menuOpen} tabIndex={tabbable ? 0 : -1} onClick={onMenu}>
        <Icon name="more" size={18} />
      </button>
    </div>
  )
}
