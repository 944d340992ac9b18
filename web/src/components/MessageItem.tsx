/**
 * One message bubble. Its text is a text node (never HTML); pending and failed own messages show
 * their state, failed ones with Retry and Discard.
 */
import { clock } from '../lib/format'
import type { ShownMessage } from '../store/state'
import { useActions } from '../store/store'
import { Icon } from './Icon'

interface Props {
  message: ShownMessage
  mine: boolean
  /** The first of a run of messages by one sender: shows the name (in groups) and a tail. */
  first: boolean
  showName: boolean
}

export function MessageItem({ message: m, mine, first, showName }: Props) {
  const actions = useActions()
  const status = m.delivery === 'pending' ? 'Sending' : m.delivery === 'failed' ? 'Not sent' : 'Sent'
  return (
    <div
      class={`message${mine ? ' message--mine' : ''}${first ? ' message--first' : ''}${m.delivery !== 'sent' ? ` message--${m.delivery}` : ''}`}
      data-testid="message"
      data-seq={m.seq === null ? '' : String(m.seq)}
      data-from={m.from}
      data-pending={m.delivery === 'sent' ? 'false' : 'true'}
      tabIndex={-1}
    >
      <div class="message__bubble">
        {showName && <span class="message__from">{m.from}</span>}
        <span class="visually-hidden">{mine ? 'You' : m.from} at {clock(m.ts)}: </span>
        <span class="message__text">{m.text}</span>
        <span class="message__meta" aria-label={mine ? status : undefined}>
          <span aria-hidden="true">{clock(m.ts)}</span>
          {mine && (
            <span class={`message__status message__status--${m.delivery}`} title={status}>
              <Icon name={m.delivery === 'sent' ? 'check' : m.delivery === 'pending' ? 'clock' : 'alert'} size={14} />
            </span>
          )}
        </span>
      </div>
      {m.delivery === 'failed' && (
        <div class="message__failed" role="alert">
          <span>{m.error ?? 'Not sent.'}</span>
          <button type="button" class="link" onClick={() => actions.retry(m.clientMsgId)}>Retry</button>
          <button type="button" class="link" onClick={() => actions.discard(m.clientMsgId)}>Discard</button>
        </div>
      )}
    </div>
  )
}
