/** One open conversation: its header, its messages, who is typing, and the composer. */
import { Composer } from './Composer'
import { ChatHeader } from './ChatHeader'
import { MessageList } from './MessageList'
import { TypingIndicator } from './TypingIndicator'

export function ChatPane({ channel }: { channel: string }) {
  return (
    <section class="chat" aria-label="Open conversation">
      <ChatHeader channel={channel} />
      <MessageList channel={channel} />
      <TypingIndicator channel={channel} />
      <Composer channel={channel} />
    </section>
  )
}
