/** The outcome of the last action (a friend request sent, an error), until dismissed. */
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function Toast() {
  const notice = useAppState((s) => s.notice)
  const actions = useActions()
  if (notice === null) return null
  return (
    <div class="toast" role="status">
      <span>{notice}</span>
      <button type="button" class="icon-button icon-button--light" aria-label="Dismiss" onClick={() => actions.dismissNotice()}>
        <Icon name="close" size={18} />
      </button>
    </div>
  )
}
