/**
 * The bell in the sidebar's header: offers notifications whenever the banner does not (before a
 * first message, after "Not now"). Browsers only ask for permission after a click.
 */
import { canOfferNotifications, showNotificationPrompt } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function NotifyButton() {
  const actions = useActions()
  const offer = useAppState((s) => canOfferNotifications(s) && !showNotificationPrompt(s))
  if (!offer) return null
  return (
    <button data-testid="notifications-button" type="button" class="icon-button" aria-label="Turn on notifications" title="Turn on notifications" onClick={() => void actions.notifications.enable()}>
      <Icon name="bell" />
    </button>
  )
}
