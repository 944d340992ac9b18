/**
 * Closes a popup (menu, picker) when the pointer goes down anywhere outside it and outside the
 * button that opened it: the behaviour people expect of every menu.
 */
import type { RefObject } from 'preact'
import { useEffect } from 'preact/hooks'

export function useDismiss(ref: RefObject<HTMLElement | null>, opener: HTMLElement | null, onDismiss: () => void): void {
  useEffect(() => {
    const onPointerDown = (e: PointerEvent) => {
      const target = e.target as Node | null
      if (target === null || ref.current?.contains(target) === true || opener?.contains(target) === true) return
      onDismiss()
    }
    document.addEventListener('pointerdown', onPointerDown, true)
    return () => document.removeEventListener('pointerdown', onPointerDown, true)
  }, [ref, opener, onDismiss])
}
