/**
 * This node's device sockets, as the layers below the gateway see them: the gateway's session
 * registry implements it, and the node's pusher and the cluster's re-registration reach sockets
 * only through it. Nothing here waits on a socket.
 */
export interface LocalSession {
  readonly id: string
  readonly user: string
  /** Tells the user actor about this device again (its key moved to another owner). */
  reregister(): void
}

export interface LocalSessions {
  /** Open sockets on this node. */
  readonly size: number
  /** Hands one pre-serialized frame to each named session; ids unknown here are gone already. */
  push(sessionIds: readonly string[], frame: string): void
  has(sessionId: string): boolean
  /** Closes the named sessions (1013): pushes meant for them may have been lost between nodes. */
  resync(sessionIds: readonly string[]): number
  all(): LocalSession[]
}
