/**
 * Three replicas on real LevelDB stores in one process, wired by direct calls a test can cut:
 * replication's owner and replica sides without processes or gRPC.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { systemClock } from '../../src/clock.js'
import { systemRandom } from '../../src/random.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { ReplicaStore } from '../../src/cluster/replication/replica.js'
import { answerReplication } from '../../src/cluster/replication/handler.js'
import type { ReplicationContext } from '../../src/cluster/replication/context.js'
import type { PeerClient, PeerRequest, Reply } from '../../src/cluster/transport.js'
import { TransportError } from '../../src/cluster/transport.js'
import { actorPrefix } from '../../src/storage/keys.js'

interface Teardown { teardown(fn: () => unknown): void }

export const KEY = 'channel:g:test'
export const NODES = ['a', 'b', 'c']

export interface World {
  replicas: Map<string, ReplicaStore>
  kvs: Map<string, LevelKv>
  /** Nodes whose replica cannot be reached (requests fail as a dead peer's would). */
  cut: Set<string>
  /** Nodes the liveness view reports as down. */
  down: Set<string>
  ctx(self: string): ReplicationContext
  /** Snapshots each node installed completely (what its `received` metric counts). */
  installed: Map<string, number>
  /** Replaces a node's store with an empty one, as a lost disk would (a new incarnation). */
  wipe(node: string): Promise<void>
  /** Every replication request that reached a node, in order. */
  received: Array<{ node: string; kind: string; body: unknown }>
}

export async function world(t: Teardown): Promise<World> {
  const replicas = new Map<string, ReplicaStore>()
  const kvs = new Map<string, LevelKv>()
  const incarnations = new Map<string, string>()
  const installed = new Map<string, number>()
  let lives = 0
  const open = async (id: string) => {
    const dir = mkdtempSync(join(tmpdir(), `repl-${id}-`))
    const kv = await LevelKv.open(dir)
    t.teardown(async () => {
      await kv.close().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    })
    kvs.set(id, kv)
    const incarnation = `inc-${id}-${lives++}`
    incarnations.set(id, incarnation)
    replicas.set(id, new ReplicaStore(kv, id, incarnation, { onSnapshotInstalled: () => installed.set(id, (installed.get(id) ?? 0) + 1) }))
  }
  for (const id of NODES) await open(id)
  const cut = new Set<string>()
  const down = new Set<string>()
  const received: World['received'] = []
  const log = pino({ level: 'silent' })
  const view = {
    self: '',
    version: 1,
    settled: async () => {},
    replicaSet: () => NODES,
    previousReplicaSet: () => [],
    isLive: (id: string) => !down.has(id),
    incarnation: (id: string) => incarnations.get(id),
    owner: () => NODES.find((n) => !down.has(n)),
  }
  const client = (node: string): PeerClient => ({
    call: async () => { throw new Error('not used') },
    callMany: async () => { throw new Error('not used') },
    push: async () => {},
    peer: async (req: PeerRequest): Promise<Reply> => {
      if (cut.has(node)) throw new TransportError('UNAVAILABLE', `${node} is unreachable`)
      received.push({ node, kind: req.kind, body: req.body })
      return { ok: true, body: await answerReplication(replicas.get(node)!, req.kind, req.body) }
    },
  })
  return {
    replicas, kvs, cut, down, installed, received,
    ctx: (self) => ({
      self, replica: replicas.get(self)!, view: { ...view, self } as never, log,
      peer: (node) => client(node), rpcTimeoutMs: 300, commitTimeoutMs: 500, clock: systemClock, random: systemRandom,
    }),
    wipe: async (node) => {
      await kvs.get(node)!.close()
      await open(node)
    },
  }
}

export const put = (sub: string, value: unknown) => [{ type: 'put' as const, key: sub, value }]

/** A sub-key of the test key's state on one node. */
export async function state(w: World, node: string, sub: string, key = KEY): Promise<unknown> {
  return w.kvs.get(node)!.get(actorPrefix(key) + sub)
}
