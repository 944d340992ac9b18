/** Keyboard helpers shared by lists. */

/**
 * Up and down arrows move focus between the items of a list (those matching `selector` inside
 * the element handling the key). From outside the items (the list itself focused), ArrowUp
 * starts at the last item and ArrowDown at the first.
 */
export function arrowNavigation(e: KeyboardEvent, selector: string): void {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
  const items = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>(selector)]
  const at = items.indexOf(document.activeElement as HTMLElement)
  const next = at < 0 ? (e.key === 'ArrowUp' ? items.length - 1 : 0) : at + (e.key === 'ArrowDown' ? 1 : -1)
  const target = items[Math.max(0, Math.min(items.length - 1, next))]
  if (target === undefined) return
  e.preventDefault()
  target.focus()
}
