/** Offers browser notifications; browsers only ask for permission after a click. */
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function NotifyButton() {
  const actions = useActions()
  const state = useAppState((s) => s.notifications)
  if (state !== 'default') return null
  return (
    <button type="button" class="icon-button" aria-label="Turn on notifications" title="Turn on notifications" onClick={() => void actions.enableNotifications()}>
      <Icon name="bell" />
    </button>
  )
}
