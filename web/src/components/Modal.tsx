/**
 * A dialog over the app: labelled by its title, closed by Escape, the close button or a click
 * outside; focus moves into it when it opens, stays inside while Tab cycles, and goes back after.
 */
import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { Icon } from './Icon'

interface Props {
  title: string
  onClose(): void
  children: ComponentChildren
}

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), textarea, [tabindex="0"]'

export function Modal({ title, onClose, children }: Props) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null
    ref.current?.querySelector<HTMLElement>('input, textarea, button:not(.modal__close)')?.focus()
    return () => opener?.focus()
  }, [])

  // On the document, not the dialog: focus may have left it (its button was just removed).
  useEffect(() => {
    const onEscape = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return
      e.preventDefault()
      onClose()
    }
    document.addEventListener('keydown', onEscape)
    return () => document.removeEventListener('keydown', onEscape)
  }, [onClose])

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Tab') return
    const items = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)]
    const first = items[0]
    const last = items[items.length - 1]
    if (first === undefined || last === undefined) return
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault()
      last.focus()
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault()
      first.focus()
    }
  }

  return (
    <div class="backdrop" onClick={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div ref={ref} class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" onKeyDown={onKeyDown}>
        <header class="modal__header">
          <h2 id="modal-title">{title}</h2>
          <button type="button" class="icon-button modal__close" aria-label="Close" onClick={onClose}><Icon name="close" /></button>
        </header>
        {children}
      </div>
    </div>
  )
}
