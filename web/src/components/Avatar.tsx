/** A round avatar with initials in a colour that is the person's (or group's) own. */
import { hueOf, initials } from '../lib/format'
import type { Presence } from '../store/state'

interface Props {
  name: string
  size?: 'small' | 'large'
  group?: boolean
  /** Shows a presence dot (1:1 conversations and friends). */
  presence?: Presence | undefined
}

export function Avatar({ name, size = 'large', group = false, presence }: Props) {
  return (
    <span class={`avatar avatar--${size}${group ? ' avatar--group' : ''}`} style={{ backgroundColor: `hsl(${hueOf(name)} 45% 32%)` }} aria-hidden="true">
      {initials(name)}
      {presence !== undefined && <span class={`dot dot--${presence.status}`} />}
    </span>
  )
}
