/**
 * Operator commands: `chat-node members` lists the ring record and who is heartbeating;
 * `chat-node remove NODE_ID` takes a dead member out of the ring record (compare-and-set), so its
 * keys get new replicas. Both talk to NATS directly and join nothing.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { Kvm, type KV } from '@nats-io/kv'
import { RECORD_KEY, parseHeartbeat } from './membership-nats.js'
import { type NatsCredentials, natsAuthOptions } from './nats-auth.js'
import { type Heartbeat, encodeRecordValue, parseRecordValue, withoutMember } from './membership.js'

export class AdminError extends Error {
  override readonly name = 'AdminError'
}

interface AdminOptions extends NatsCredentials { nats: string[]; cluster: string; json: boolean; waitMs: number; force: boolean; rest: string[] }

export function parseAdminArgs(argv: string[], env: Record<string, string | undefined>): AdminOptions {
  const o: AdminOptions = {
    nats: (env.CHAT_NATS_URL ?? '').split(',').filter(Boolean), cluster: env.CHAT_CLUSTER || 'chat', json: false, waitMs: 2500, force: false, rest: [],
    natsUser: env.CHAT_NATS_USER || null, natsPass: env.CHAT_NATS_PASS || null, natsToken: env.CHAT_NATS_TOKEN || null, natsCreds: env.CHAT_NATS_CREDS || null,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new AdminError(`${arg} needs a value`)
      return v
    }
    if (arg === '--nats') o.nats = value().split(',').filter(Boolean)
    else if (arg === '--cluster') o.cluster = value()
    else if (arg === '--wait-ms') o.waitMs = Number(value())
    else if (arg === '--nats-user') o.natsUser = value()
    else if (arg === '--nats-pass') o.natsPass = value()
    else if (arg === '--nats-token') o.natsToken = value()
    else if (arg === '--nats-creds') o.natsCreds = value()
    else if (arg === '--json') o.json = true
    else if (arg === '--force') o.force = true
    else if (arg.startsWith('--')) throw new AdminError(`unknown option ${arg}`)
    else o.rest.push(arg)
  }
  if (o.nats.length === 0) throw new AdminError('--nats URL is required')
  if (!Number.isFinite(o.waitMs) || o.waitMs < 0) throw new AdminError('--wait-ms must be a number of milliseconds')
  return o
}

interface Listed { id: string; http: string; grpc: string; region: string | null; inRing: boolean; live: boolean; leaving: boolean; connections: number; actors: number }

/** Runs `members` or `remove`; returns the text to print. */
export async function runAdmin(command: 'members' | 'remove', argv: string[], env: Record<string, string | undefined>): Promise<string> {
  const o = parseAdminArgs(argv, env)
  const nc = await connect({ ...natsAuthOptions(o), servers: o.nats, timeout: 5000, maxReconnectAttempts: 2 })
  try {
    const kv = await new Kvm(nc).open(`${o.cluster}-members`)
    const heard = await listen(nc, `${o.cluster}.members.heartbeat`, o.waitMs)
    if (command === 'members') return await members(kv, heard, o.json)
    const id = o.rest[0]
    if (!id) throw new AdminError('usage: chat-node remove NODE_ID --nats URL [--cluster NAME] [--force]')
    if (heard.has(id) && !heard.get(id)!.leaving && !o.force) throw new AdminError(`${id} is alive (heartbeating); stop it first, or pass --force`)
    return await remove(kv, id)
  } finally {
    await nc.close()
  }
}

async function listen(nc: NatsConnection, subject: string, waitMs: number): Promise<Map<string, Heartbeat>> {
  const heard = new Map<string, Heartbeat>()
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      const hb = err ? undefined : parseHeartbeat(msg.data)
      if (hb) heard.set(hb.id, hb)
    },
  })
  await new Promise((r) => setTimeout(r, waitMs))
  sub.unsubscribe()
  return heard
}

async function members(kv: KV, heard: Map<string, Heartbeat>, json: boolean): Promise<string> {
  const entry = await kv.get(RECORD_KEY)
  const record = parseRecordValue(entry?.revision ?? 0, entry && entry.operation === 'PUT' ? entry.json() : undefined)
  const rows: Listed[] = record.members.map((m) => {
    const hb = heard.get(m.id)
    return { id: m.id, http: m.http, grpc: m.grpc, region: m.region ?? null, inRing: true, live: !!hb && !hb.leaving, leaving: !!hb?.leaving, connections: hb?.connections ?? 0, actors: hb?.actors ?? 0 }
  })
  for (const hb of heard.values()) {
    if (!record.members.some((m) => m.id === hb.id)) rows.push({ id: hb.id, http: hb.http, grpc: hb.grpc, region: hb.region ?? null, inRing: false, live: !hb.leaving, leaving: hb.leaving, connections: hb.connections, actors: hb.actors })
  }
  if (json) return JSON.stringify({ ringVersion: record.version, members: rows }, null, 2)
  const lines = [`ring version ${record.version}, ${record.members.length} members`, 'id\tlive\tin-ring\tconnections\tactors\thttp\tgrpc\tregion']
  for (const r of rows) lines.push([r.id, r.leaving ? 'leaving' : r.live ? 'yes' : 'NO', r.inRing ? 'yes' : 'no', r.connections, r.actors, r.http, r.grpc, r.region ?? '-'].join('\t'))
  return lines.join('\n')
}

async function remove(kv: KV, id: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const entry = await kv.get(RECORD_KEY)
    if (!entry || entry.operation !== 'PUT') throw new AdminError('there is no ring record yet')
    const record = parseRecordValue(entry.revision, entry.json())
    if (!record.members.some((m) => m.id === id)) throw new AdminError(`${id} is not in the ring record (version ${record.version})`)
    try {
      const revision = await kv.update(RECORD_KEY, encodeRecordValue(withoutMember(record.members, id)), entry.revision)
      return `removed ${id}; ring version ${revision}`
    } catch {
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50))
    }
  }
  throw new AdminError('the ring record kept changing; try again')
}
