/** Keyboard helpers shared by lists. */

/**
 * Up and down arrows move focus between the items of a list (those matching `selector` inside
 * the element handling the key). From outside the items (the list itself focused), ArrowUp
 * starts at the last item and ArrowDown at the first.
 */
export function arrowNavigation(e: KeyboardEvent, selector: string): void {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
  // Arrows inside a text field (editing a message) move its caret, not the focus.
  if (e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLInputElement) return
  const items = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>(selector)]
  const at = items.indexOf(document.activeElement as HTMLElement)
  const next = at < 0 ? (e.key === 'ArrowUp' ? items.length - 1 : 0) : at + (e.key === 'ArrowDown' ? 1 : -1)
  const target = items[Math.max(0, Math.min(items.length - 1, next))]
  if (target === undefined) return
  e.preventDefault()
  target.focus()
}

/**
 * Arrow keys, Home and End over a set of buttons (a menu, a grid of `columns` per row): moves the
 * focus and returns true when the key was one of them.
 */
export function moveFocus(e: KeyboardEvent, items: HTMLElement[], columns = 1): boolean {
  const step: Record<string, number> = columns === 1
    ? { ArrowDown: 1, ArrowUp: -1 }
    : { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns }
  const at = items.indexOf(document.activeElement as HTMLElement)
  let next: number
  if (e.key === 'Home') next = 0
  else if (e.key === 'End') next = items.length - 1
  else if (step[e.key] !== undefined) {
    next = at < 0 ? (step[e.key]! < 0 ? items.length - 1 : 0) : at + step[e.key]!
    // A menu wraps around; a grid stops at its edges.
    if (columns === 1) next = (next + items.length) % items.length
    else next = Math.max(0, Math.min(items.length - 1, next))
  } else return false
  e.preventDefault()
  e.stopPropagation()
  items[next]?.focus()
  return true
}
