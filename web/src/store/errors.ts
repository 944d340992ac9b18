/** What the person reads when something fails: plain words, from the SDK's error codes. */
import { ApiError, ChatError, LIMITS } from '@sdk'

export function describe(err: unknown): string {
  const code = err instanceof ApiError || err instanceof ChatError ? err.code : undefined
  const message = err instanceof Error ? err.message : String(err)
  switch (code) {
    case 'UNAUTHORIZED': return 'Wrong username or password.'
    case 'USERNAME_TAKEN': return 'That username is taken. Pick another one, or log in.'
    case 'NOT_FOUND': return message.startsWith('no user') ? `There is no user ${message.slice(8)}.` : 'Not found.'
    case 'FORBIDDEN': return 'You are not allowed to do that here.'
    case 'GROUP_FULL': return 'That group is full.'
    case 'MESSAGE_TOO_LARGE': return `Messages can be at most ${LIMITS.textMaxCodePoints.toLocaleString('en-US')} characters.`
    case 'RATE_LIMITED': return 'Too many attempts. Wait a moment and try again.'
    case 'NETWORK_ERROR': case 'DISCONNECTED': case 'TIMEOUT': case 'UNAVAILABLE':
      return 'Cannot reach the server right now. Check your connection and try again.'
    case 'BAD_REQUEST': case 'BAD_FRAME': return capitalised(message)
    default: return capitalised(message)
  }
}

function capitalised(text: string): string {
  const t = text.trim()
  const sentence = t.charAt(0).toUpperCase() + t.slice(1)
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`
}

/** Checks a sign-up form before asking the server, with the contract's rules. */
export function checkCredentials(username: string, password: string, signingUp: boolean): string | null {
  if (username === '') return 'Enter your username.'
  if (password === '') return 'Enter your password.'
  if (!signingUp) return null
  if (!LIMITS.usernamePattern.test(username)) return 'Usernames are 3 to 32 characters: lowercase letters, digits and _.'
  if (password.length < 8) return 'Passwords need at least 8 characters.'
  if (password.length > 256) return 'Passwords can be at most 256 characters.'
  return null
}
