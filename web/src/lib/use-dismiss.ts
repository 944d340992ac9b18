/**
 * Closes a popup (menu, picker) when the pointer goes down anywhere outside it and outside the
 * button that opened it, and on Escape wherever the focus is (the popup handles the Escape typed
 * inside it itself; one typed before its focus arrived, or after a click left it, lands here):
 * the behaviour people expect of every menu.
 */
import type { RefObject } from 'preact'
import { useEffect } from 'preact/hooks'

export function useDismiss(ref: RefObject<HTMLElement | null>, opener: HTMLElement | null, onDismiss: () => void, onEscape: () => void = onDismiss): void {
  useEffect(() => {
    const onPointerDown = (e: PointerEvent) => {
      const target = e.target as Node | null
      if (target === null || ref.current?.contains(target) === true || opener?.contains(target) === true) return
      onDismiss()
    }
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return
      e.preventDefault()
      onEscape()
    }
    document.addEventListener('pointerdown', onPointerDown, true)
    document.addEventListener('keydown', onKeyDown)
    return () => {
      document.removeEventListener('pointerdown', onPointerDown, true)
      document.removeEventListener('keydown', onKeyDown)
    }
  }, [ref, opener, onDismiss, onEscape])
}
