/**
 * A message's menu (opened by its "…" button): React, and for those allowed Edit and Delete.
 * Focus goes to the first item; arrows, Home and End move, Escape closes and gives focus back to
 * the button, Tab or a click outside closes.
 */
import { useEffect, useRef } from 'preact/hooks'
import { moveFocus } from '../lib/keys'
import { useDismiss } from '../lib/use-dismiss'
import { Icon } from './Icon'

interface Props {
  opener: HTMLElement | null
  canEdit: boolean
  canDelete: boolean
  onReact(): void
  onEdit(): void
  onDelete(): void
  /** `refocus`: give focus back to the button that opened it. */
  onClose(refocus: boolean): void
}

export function MessageMenu({ opener, canEdit, canDelete, onReact, onEdit, onDelete, onClose }: Props) {
  const ref = useRef<HTMLDivElement>(null)
  useDismiss(ref, opener, () => onClose(false), () => onClose(true))
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus()
  }, [])

  const onKeyDown = (e: KeyboardEvent) => {
    const items = [...ref.current!.querySelectorAll<HTMLElement>('[role="menuitem"]')]
    if (moveFocus(e, items)) return
    if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      onClose(true)
    } else if (e.key === 'Tab') {
      onClose(false)
    }
  }

  return (
    <div ref={ref} class="popup menu" role="menu" aria-label="Message actions" onKeyDown={onKeyDown}>
      <button type="button" role="menuitem" tabIndex={-1} class="menu__item" data-testid="react" onClick={onReact}>
        <Icon name="smile" size={18} /> React…
      </button>
      {canEdit && (
        <button type="button" role="menuitem" tabIndex={-1} class="menu__item" data-testid="edit-message" onClick={onEdit}>
          <Icon name="edit" size={18} /> Edit
        </button>
      )}
      {canDelete && (
        <button type="button" role="menuitem" tabIndex={-1} class="menu__item menu__item--danger" data-testid="delete-message" onClick={onDelete}>
          <Icon name="trash" size={18} /> Delete
        </button>
      )}
    </div>
  )
}
