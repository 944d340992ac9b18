/**
 * The connection's state: a banner while the app is (re)connecting; a hidden status once
 * connected. Messages written meanwhile wait and go out when the connection is back.
 */
import { useAppState } from '../store/store'

export function ConnectionBanner() {
  const state = useAppState((s) => s.connection)
  const waiting = useAppState((s) => s.outbox.filter((m) => m.delivery === 'pending').length)
  if (state === 'connected') {
    return <div data-testid="connection" data-state="connected" class="visually-hidden" role="status">Connected</div>
  }
  return (
    <div data-testid="connection" data-state="reconnecting" class="banner" role="status">
      <span class="banner__spinner" aria-hidden="true" />
      Connecting… {waiting > 0 ? `${waiting} message${waiting === 1 ? '' : 's'} will be sent when the connection is back.` : 'New messages will appear when the connection is back.'}
    </div>
  )
}
