/**
 * Edits one of my messages in place: Enter saves, Shift+Enter starts a new line, Escape cancels.
 * An error (the message was deleted meanwhile, no connection, too long) shows under the box and
 * the text stays. When it closes, the focus goes back to the composer.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { Editing } from '../store/state'
import { useActions } from '../store/store'

/** Height the box grows to before it scrolls. */
const MAX_HEIGHT_PX = 240

export function MessageEditor({ text: original, editing }: { text: string; editing: Editing }) {
  const actions = useActions()
  const [text, setText] = useState(original)
  const box = useRef<HTMLTextAreaElement>(null)

  // Before paint, so that what is typed at once lands after the text, not over a selection.
  useLayoutEffect(() => {
    const el = box.current
    if (el === null) return
    el.focus()
    el.setSelectionRange(el.value.length, el.value.length)
    return () => {
      // Back to writing, unless the person already went somewhere else.
      const active = document.activeElement
      if (active === null || active === document.body || active === el) document.getElementById('composer')?.focus()
    }
  }, [])

  useEffect(() => {
    const el = box.current
    if (el === null) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`
  }, [text])

  const save = () => void actions.messages.saveEdit(text)
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      save()
    } else if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      actions.messages.cancelEdit()
    }
  }
  const id = `edit-${editing.channel}-${editing.seq}`

  return (
    <form class="editor" onSubmit={(e) => { e.preventDefault(); save() }}>
      <label for={id} class="visually-hidden">Edit your message</label>
      <textarea
        id={id}
        ref={box}
        data-testid="edit-input"
        rows={1}
        value={text}
        aria-invalid={editing.error !== null ? 'true' : undefined}
        aria-describedby={`${id}-hint${editing.error !== null ? ` ${id}-error` : ''}`}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      {editing.error !== null && <p id={`${id}-error`} class="editor__error" role="alert" data-testid="edit-error">{editing.error}</p>}
      <div class="editor__bar">
        <span id={`${id}-hint`} class="editor__hint">Enter to save · Esc to cancel</span>
        <button type="button" class="button button--small button--secondary" data-testid="cancel-edit" onClick={() => actions.messages.cancelEdit()}>Cancel</button>
        <button type="submit" class="button button--small button--primary" data-testid="save-edit" disabled={editing.saving}>
          {editing.saving ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  )
}
