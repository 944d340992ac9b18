/**
 * The one rule for reactions, shared by the server's stored view and the SDK's cache so the two
 * never disagree: `{emoji: [username...]}`, users in the order they reacted, an emoji without
 * users removed, and no `reactions` at all once the last one is gone.
 */
import type { Reactions } from './frames.js'

/** `current` with `user`'s `emoji` on or off; the same object (or undefined) when nothing changes. */
export function toggleReaction(current: Reactions | undefined, emoji: string, user: string, on: boolean): Reactions | undefined {
  const users = current?.[emoji] ?? []
  if (users.includes(user) === on) return current
  const next: Reactions = { ...current }
  if (on) next[emoji] = [...users, user]
  else if (users.length === 1) delete next[emoji]
  else next[emoji] = users.filter((u) => u !== user)
  return Object.keys(next).length > 0 ? next : undefined
}
