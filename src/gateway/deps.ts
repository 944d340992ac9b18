/** What the gateway needs from its node; it holds no chat state of its own. */
import type { Logger } from 'pino'
import type { Actors } from '../actors/env.js'
import type { Clock } from '../clock.js'
import type { Topology } from '../cluster/topology.js'
import type { Config } from '../config.js'
import type { Metrics } from '../metrics.js'
import type { Random } from '../random.js'
import type { AddressLimits } from './address-limits.js'
import type { ChatService } from './chat-service.js'
import type { LoadShedder } from './load-shedder.js'
import type { SendTurns } from './send-turns.js'
import type { SessionRegistry } from './sessions.js'
import type { Tokens } from './tokens.js'

export type { MemberStatus, Topology } from '../cluster/topology.js'

export interface GatewayDeps {
  config: Config
  service: ChatService
  actors: Actors
  tokens: Tokens
  /** Sign-ups and logins per client address. */
  addressLimits: AddressLimits
  registry: SessionRegistry
  /** Admission control for writes (absent: every write is admitted). */
  shedder?: LoadShedder
  /** Turns at sending (absent: every session's sends are handled as they come). */
  turns?: SendTurns
  metrics: Metrics
  topology: Topology
  log: Logger
  /** Push settings the routes need (absent in tests that build a gateway without push). */
  push?: { vapidPublicKey(): string | null; httpsOnly: boolean }
  /** False once the node is leaving; /healthz then answers 503. */
  healthy(): boolean
  now(): number
  clock: Clock
  random: Random
}
