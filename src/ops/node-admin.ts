/**
 * What a running node answers on its admin socket (admin-socket.ts): a consistent backup of its
 * whole database, a compaction now (its replication logs, then LevelDB), and its status.
 */
import type { Cluster } from '../cluster/cluster.js'
import { PROTOCOL_VERSION } from '../cluster/protocol-version.js'
import type { Config } from '../config.js'
import { dirBytes } from '../storage/disk-usage.js'
import type { LevelKv } from '../storage/leveldb.js'
import { SOFTWARE_VERSION } from '../version.js'
import type { AdminOps } from './admin-socket.js'
import { dataDirFileRows, writeBackup } from './backup-format.js'

export interface NodeAdminParts {
  config: Config
  kv: LevelKv
  /** The node's cluster membership; null standalone (or while starting). */
  cluster(): Cluster | null
  serving(): boolean
}

export function nodeAdminOps({ config, kv, cluster, serving }: NodeAdminParts): AdminOps {
  const mode = config.nats.length > 0 ? 'cluster' : 'standalone'
  return {
    backup: async (out) => {
      const snap = kv.snapshot()
      try {
        // The ring it was taken under: a restore marks each key with its replicas then.
        const view = cluster()?.view
        const ring = view ? { replicas: config.replicas, members: view.members().map((m) => m.id) } : undefined
        await writeBackup(snap, { nodeId: config.id, mode, createdAt: Date.now(), software: SOFTWARE_VERSION, ...(ring ? { ring } : {}) }, out, dataDirFileRows(config.dataDir))
      } finally {
        await snap.close()
      }
    },
    compact: async () => {
      const before = await dirBytes(config.dataDir)
      const entries = (await cluster()?.compactNow()) ?? 0
      await kv.compactAll()
      return { nodeId: config.id, logEntriesRemoved: entries, bytesBefore: before, bytesAfter: await dirBytes(config.dataDir) }
    },
    status: async () => ({
      nodeId: config.id, mode, software: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION, fsync: config.fsync,
      ringVersion: cluster()?.view.version ?? 0, storageBytes: await dirBytes(config.dataDir), serving: serving(),
    }),
  }
}
