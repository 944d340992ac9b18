/**
 * What an application built on the SDK sees: every `event` in arrival order, every `message`, and
 * every violation of the contract "each inbox event once, in inboxSeq order, nothing skipped".
 * Clients start at `inboxSeq: 0` on fresh users, so the app must see the whole inbox 1, 2, 3...
 */
import type { ChatClient, InboxEvent, MessageEvent, StateChange } from '../../src/client/index.js'

export class AppRecorder {
  readonly events: InboxEvent[] = []
  readonly messages: MessageEvent[] = []
  readonly states: StateChange[] = []
  readonly problems: string[] = []

  constructor(readonly user: string, readonly client: ChatClient) {
    client.on('event', (event) => {
      const expected = (this.events.at(-1)?.inboxSeq ?? 0) + 1
      if (event.inboxSeq !== expected) this.problems.push(`got inboxSeq ${event.inboxSeq}, expected ${expected}`)
      this.events.push(event)
    })
    client.on('message', (message) => {
      if (this.events.at(-1) !== message) this.problems.push(`message ${message.inboxSeq} not right after its event`)
      this.messages.push(message)
    })
    client.on('state', (state) => this.states.push(state))
  }
}
