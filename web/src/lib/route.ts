/**
 * The app's one route: the open conversation, in the URL's hash as `#/c/<channel>` (percent
 * encoded). A hash route needs nothing from the server (every node serves the same index.html
 * at `/`), and it is the URL a push notification opens (src/client/push-sw.ts builds it). The
 * older form `#<channel>` (links from earlier versions) still opens the conversation.
 */
import { conversationUrl } from '../../../src/client/push-sw'

/** `/#/c/<channel>`: the URL of a conversation, relative to the app's origin. */
export const conversationRoute = conversationUrl

/** The channel a URL hash names, or null when it names none. */
export function channelFromHash(hash: string): string | null {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash
  let value: string
  try {
    value = decodeURIComponent(raw.startsWith('/c/') ? raw.slice(3) : raw)
  } catch {
    return null
  }
  return /^(dm|g):\S+$/.test(value) ? value : null
}
