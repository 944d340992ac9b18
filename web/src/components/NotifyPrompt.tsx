/**
 * The banner above the conversations that offers notifications: shown once the person has sent
 * or received a message (never on a first load), until they turn notifications on, say "Not now",
 * or the browser blocks them. The browser's own permission prompt only opens from the click.
 */
import { showNotificationPrompt } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function NotifyPrompt() {
  const actions = useActions()
  const show = useAppState(showNotificationPrompt)
  if (!show) return null
  return (
    <div class="notify-prompt" role="group" aria-labelledby="notify-prompt-title" aria-describedby="notify-prompt-lead" data-testid="notify-prompt">
      <span class="notify-prompt__icon"><Icon name="bell" size={22} /></span>
      <div class="notify-prompt__body">
        <p id="notify-prompt-title" class="notify-prompt__title">Get notified of new messages</p>
        <p id="notify-prompt-lead" class="notify-prompt__lead">Also when Chat is closed.</p>
        <div class="notify-prompt__actions">
          <button data-testid="enable-notifications" type="button" class="button button--primary button--small" onClick={() => void actions.notifications.enable()}>
            Turn on notifications
          </button>
          <button data-testid="dismiss-notifications" type="button" class="link" onClick={() => actions.notifications.dismissPrompt()}>
            Not now
          </button>
        </div>
      </div>
    </div>
  )
}
