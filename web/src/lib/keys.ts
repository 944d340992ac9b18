/** Keyboard helpers shared by lists. */

/** Moves focus to the next or previous item of a list of buttons (roving with the arrow keys). */
export function arrowNavigation(e: KeyboardEvent, selector: string): void {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
  const items = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>(selector)]
  const at = items.indexOf(document.activeElement as HTMLElement)
  if (at < 0) return
  e.preventDefault()
  items[Math.max(0, Math.min(items.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))]?.focus()
}
