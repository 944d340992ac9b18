/**
 * Operator commands on one node's data dir:
 *
 *   chat-node backup --data-dir D --out FILE    consistent copy of the node's database
 *   chat-node restore --data-dir D --in FILE    a data dir made from a backup (D must not exist or be empty)
 *   chat-node compact --data-dir D              compact the replication logs and LevelDB now
 *   chat-node status --data-dir D               the running node's release, protocol, fsync mode, ring version, storage
 *
 * A running node is reached through its admin socket (admin-socket.ts); with no node running on
 * D, backup and compact open the database themselves. See docs/OPERATIONS.md.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { type Socket, createConnection } from 'node:net'
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { open } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { nodeKey, replicaMetaKey } from '../storage/keys.js'
import { LevelKv } from '../storage/leveldb.js'
import { dirBytes } from '../storage/disk-usage.js'
import { adminSocketPath } from './admin-socket.js'
import { Ring } from '../cluster/ring.js'
import { type BackupHeader, type BackupSummary, dataDirFileRows, fileOfRow, readBackup, writeBackupFile } from './backup-format.js'

export class OpsError extends Error {
  override readonly name = 'OpsError'
}

interface Args { dataDir: string; out?: string; input?: string; lost: string[] }

export function parseOpsArgs(command: string, argv: string[], env: Record<string, string | undefined>): Args {
  const args: Args = { dataDir: env.CHAT_DATA_DIR ?? '', lost: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined || v === '') throw new OpsError(`${arg} needs a value`)
      return v
    }
    if (arg === '--data-dir') args.dataDir = value()
    else if (arg === '--out' && command === 'backup') args.out = value()
    else if ((arg === '--in' || arg === '--from') && command === 'restore') args.input = value()
    else if (arg === '--lost' && command === 'restore') args.lost.push(...value().split(',').map((s) => s.trim()).filter(Boolean))
    else throw new OpsError(`unknown option ${arg} for ${command} (see --help)`)
  }
  if (!args.dataDir) throw new OpsError('--data-dir D is required')
  if (command === 'backup' && !args.out) throw new OpsError('--out FILE is required')
  if (command === 'restore' && !args.input) throw new OpsError('--in FILE is required')
  return args
}

/** Runs one command; resolves with the text to print. */
export type OpsCommand = 'backup' | 'restore' | 'compact' | 'status'

export async function runOps(command: OpsCommand, argv: string[], env: Record<string, string | undefined>): Promise<string> {
  const args = parseOpsArgs(command, argv, env)
  switch (command) {
    case 'backup': return backup(args.dataDir, args.out!)
    case 'restore': return restore(args.dataDir, args.input!, args.lost)
    case 'compact': return compact(args.dataDir)
    case 'status': return status(args.dataDir)
  }
}

async function backup(dataDir: string, out: string): Promise<string> {
  const partial = `${out}.partial-${process.pid}`
  try {
    const online = await viaSocket(dataDir, { op: 'backup' }, partial)
    if (!online) {
      const kv = await openOffline(dataDir)
      const snap = kv.snapshot()
      try {
        await writeBackupFile(snap, {
          nodeId: 'unknown', mode: (await kv.get<'standalone' | 'cluster'>(nodeKey('mode'))) ?? 'unknown', createdAt: Date.now(), software: 'offline',
        }, partial, dataDirFileRows(dataDir))
      } finally {
        await snap.close()
        await kv.close()
      }
    }
    await refuseErrorReply(partial)
    // Read it all back before calling it a backup: a cut stream or a bad disk shows here.
    const summary = await readBackup(partial, async () => undefined)
    renameSync(partial, out)
    return `backup of ${summary.header.nodeId} (${summary.header.mode}, ${online ? 'running node' : 'offline'}): ${summary.rows} rows, ${statSync(out).size} bytes, sha256 ${summary.sha256.slice(0, 16)} -> ${out}`
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  }
}

/**
 * A data dir from a backup. Cluster data comes back as a new incarnation of the node (peers do
 * not count promises it may have forgotten), with every key marked restored with the replicas it
 * had when the backup was taken (its next takeover waits for all of them, less the `lost` nodes
 * whose data is gone for good) and no ring version trusted (`cfg` reset). See docs/OPERATIONS.md.
 */
async function restore(dataDir: string, input: string, lost: string[]): Promise<string> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new OpsError(`${dataDir} is not empty: restore makes a new data dir (move the old one away first)`)
  }
  const target = resolve(dataDir)
  const staging = `${target}.restoring-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(dirname(target), { recursive: true })
  const kv = await LevelKv.open(staging)
  let summary: BackupSummary
  let summary0: BackupHeader | null = null
  try {
    let cluster = false
    let ring: { ring: Ring; replicas: number } | null | undefined
    summary = await readBackup(input, async (all) => {
      const rows: Array<[string, string]> = []
      for (const row of all) {
        const file = fileOfRow(row[0])
        if (file === null) rows.push(row)
        else writeFileSync(join(staging, file), row[1], { mode: 0o600 })
      }
      for (const row of rows) {
        if (row[0] === nodeKey('mode') && row[1] === '"cluster"') cluster = true
        if (!row[0].startsWith(replicaMetaKey(''))) continue
        ring ??= ringOf(summary0)
        const key = row[0].slice(replicaMetaKey('').length)
        row[1] = restoredMeta(row[1], ring ? ring.ring.replicas(key, ring.replicas).filter((n) => !lost.includes(n)) : true)
      }
      await kv.putRaw(rows)
    }, (header) => { summary0 = header })
    if (cluster || summary.header.mode === 'cluster') {
      await kv.putRaw([[nodeKey('incarnation'), JSON.stringify(randomBytes(8).toString('hex'))]])
    }
    await kv.putRaw([[nodeKey('restored-from'), JSON.stringify({ nodeId: summary.header.nodeId, backupAt: summary.header.createdAt, restoredAt: Date.now() })]])
    await kv.compactAll()
    await kv.close()
  } catch (err) {
    await kv.close().catch(() => undefined)
    rmSync(staging, { recursive: true, force: true })
    throw err
  }
  if (existsSync(target)) rmSync(target, { recursive: true, force: true })
  renameSync(staging, target)
  return `restored ${summary.rows} rows of ${summary.header.nodeId}'s backup (${summary.header.mode}, taken ${new Date(summary.header.createdAt).toISOString()}) into ${dataDir}`
}

function restoredMeta(text: string, replicas: true | string[]): string {
  const meta = JSON.parse(text) as Record<string, unknown>
  meta.restored = replicas
  delete meta.cfg
  return JSON.stringify(meta)
}

/** The ring a cluster backup was taken under, to place its keys as they were then. */
function ringOf(header: BackupHeader | null): { ring: Ring; replicas: number } | null {
  if (!header?.ring) return null
  const members = header.ring.members.map((id) => ({ id, http: '', grpc: '' }))
  return { ring: new Ring({ version: 1, members }), replicas: header.ring.replicas }
}

async function compact(dataDir: string): Promise<string> {
  const reply = await ask(dataDir, 'compact')
  if (reply) return `compacted (running node): ${JSON.stringify(reply)}`
  const before = await dirBytes(dataDir)
  const kv = await openOffline(dataDir)
  await kv.compactAll()
  await kv.close()
  return `compacted (offline, LevelDB only): ${before} -> ${await dirBytes(dataDir)} bytes`
}

async function status(dataDir: string): Promise<string> {
  const reply = await ask(dataDir, 'status')
  if (!reply) throw new OpsError(`no node is running on ${dataDir} (no admin socket answers there)`)
  return JSON.stringify(reply, null, 2)
}

/** A one-line JSON answer of the node running on `dataDir` to `op`; null when none runs there. */
async function ask(dataDir: string, op: string): Promise<Record<string, unknown> | null> {
  const socket = await connectAdmin(dataDir)
  if (!socket) return null
  socket.write(JSON.stringify({ op }) + '\n')
  let text = ''
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
  await once(socket, 'close')
  const reply = JSON.parse(text.trim() || '{"error":"no answer"}') as Record<string, unknown>
  if (reply.error) throw new OpsError(String(reply.error))
  return reply
}

/**
 * Sends `request` to the node running on `dataDir` and writes its whole answer to `file`.
 * Resolves false when no node is running there (no socket, or nobody listening on it).
 */
async function viaSocket(dataDir: string, request: object, file: string): Promise<boolean> {
  const socket = await connectAdmin(dataDir)
  if (!socket) return false
  const out = createWriteStream(file, { mode: 0o600 })
  socket.write(JSON.stringify(request) + '\n')
  socket.pipe(out)
  await Promise.all([once(out, 'close'), once(socket, 'close')])
  return true
}

/** A connection to the admin socket of the node running on `dataDir`; null when none runs there. */
async function connectAdmin(dataDir: string): Promise<Socket | null> {
  const path = adminSocketPath(dataDir)
  if (!existsSync(path)) return null
  const socket = createConnection(path)
  try {
    await once(socket, 'connect')
    return socket
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ECONNREFUSED' || code === 'ENOENT') return null
    throw new OpsError(`cannot reach the node on ${dataDir}: ${(err as Error).message}`)
  }
}

/** An answer that is one JSON error line instead of a backup. */
async function refuseErrorReply(file: string): Promise<void> {
  const handle = await open(file)
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0)
    if (bytesRead > 0 && buffer[0] === 0x7b) throw new OpsError(`the node refused: ${buffer.subarray(0, bytesRead).toString('utf8').trim()}`)
    if (bytesRead === 0) throw new OpsError('the node sent nothing (it may have stopped)')
  } finally {
    await handle.close()
  }
}

async function openOffline(dataDir: string): Promise<LevelKv> {
  if (!existsSync(dataDir)) throw new OpsError(`${dataDir} does not exist`)
  return LevelKv.open(dataDir)
}
