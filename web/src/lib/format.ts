/** How times, days and names read in the app. */

const MINUTE = 60_000
const DAY = 86_400_000

function startOfDay(ts: number): number {
  const d = new Date(ts)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b)
}

/** "Today", "Yesterday", "Monday", or "12 March 2026". */
export function dayLabel(ts: number, now = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY)
  if (days === 0) return 'Today'
  if (days === 1) return 'Yesterday'
  if (days > 1 && days < 7) return new Date(ts).toLocaleDateString(undefined, { weekday: 'long' })
  return new Date(ts).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' })
}

export function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
}

/** The sidebar's time: the clock today, the weekday this week, else the date. */
export function shortWhen(ts: number, now = Date.now()): string {
  if (sameDay(ts, now)) return clock(ts)
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY)
  if (days === 1) return 'Yesterday'
  if (days < 7) return new Date(ts).toLocaleDateString(undefined, { weekday: 'short' })
  return new Date(ts).toLocaleDateString(undefined, { day: 'numeric', month: 'short' })
}

/** "online", "last seen just now", "last seen 5 min ago", "last seen yesterday at 14:02". */
export function lastSeen(status: 'online' | 'offline' | undefined, lastActiveAt: number | null | undefined, now = Date.now()): string {
  if (status === 'online') return 'online'
  if (lastActiveAt === null || lastActiveAt === undefined) return 'offline'
  const ago = now - lastActiveAt
  if (ago < MINUTE) return 'last seen just now'
  if (ago < 60 * MINUTE) return `last seen ${Math.floor(ago / MINUTE)} min ago`
  if (sameDay(lastActiveAt, now)) return `last seen today at ${clock(lastActiveAt)}`
  return `last seen ${dayLabel(lastActiveAt, now).toLowerCase()} at ${clock(lastActiveAt)}`
}

/** Up to two initials for an avatar. */
export function initials(name: string): string {
  const parts = name.split(/[\s_.-]+/).filter(Boolean)
  const letters = parts.length >= 2 ? parts[0]![0]! + parts[1]![0]! : name.slice(0, 2)
  return letters.toUpperCase()
}

/** A stable hue for a name, so each person keeps their avatar colour everywhere. */
export function hueOf(name: string): number {
  let h = 0
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0
  return h % 360
}

export function codePoints(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}
