/**
 * NATS credentials of a node (and of the operator commands): a user and password, a token, or a
 * credentials file (JWT and NKey seed, as `nsc` makes them). A cluster's NATS should require one
 * of them: whoever can publish on it can fake heartbeats and rewrite the ring record.
 */
import { readFileSync } from 'node:fs'
import { type ConnectionOptions, credsAuthenticator } from '@nats-io/transport-node'

export interface NatsCredentials {
  natsUser: string | null
  natsPass: string | null
  natsToken: string | null
  natsCreds: string | null
}

export function natsAuthOptions(c: NatsCredentials): Partial<ConnectionOptions> {
  if (c.natsUser !== null && c.natsPass !== null) return { user: c.natsUser, pass: c.natsPass }
  if (c.natsToken !== null) return { token: c.natsToken }
  if (c.natsCreds !== null) return { authenticator: credsAuthenticator(readFileSync(c.natsCreds)) }
  return {}
}
