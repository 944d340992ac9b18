/** Whether the person can see the page now (tab in front, window not minimised). */
export function pageVisible(): boolean {
  return document.visibilityState === 'visible'
}

export function onVisibilityChange(listener: (visible: boolean) => void): () => void {
  const handler = () => listener(pageVisible())
  document.addEventListener('visibilitychange', handler)
  return () => document.removeEventListener('visibilitychange', handler)
}
