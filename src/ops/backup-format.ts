/**
 * The backup file: a consistent copy of one node's whole LevelDB, gzip-compressed JSON lines.
 *
 *   {"format":"chat-cluster-backup","version":1,"nodeId",...}   header
 *   ["<key>","<stored JSON text>"]                               one line per row, in key order
 *   {"end":true,"rows":N,"sha256":"<hex>"}                       trailer
 *
 * `sha256` covers every row line, newline included, so a truncated or altered file is refused on
 * restore. Values are copied as the stored text, never parsed, so any row survives unchanged.
 *
 * The few files a node keeps in its data dir beside the database (DATA_DIR_FILES: a standalone
 * node's VAPID key pair, without which every browser's push subscription would stop working after
 * a restore) follow the database's rows as rows of their own, `["\0file\0<name>", "<content>"]`:
 * no database key starts with NUL, and the digest covers them like any row.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import type { KvSnapshot } from '../storage/kv.js'

export const BACKUP_FORMAT = 'chat-cluster-backup'
export const BACKUP_VERSION = 1

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  nodeId: string
  mode: 'standalone' | 'cluster' | 'unknown'
  createdAt: number
  software: string
  /** Cluster nodes: the ring when the backup was taken (member ids) and the replica count, so a restore knows each key's replicas then. */
  ring?: { replicas: number; members: string[] }
}

export interface BackupSummary { header: BackupHeader; rows: number; sha256: string }

const PAGE = 1000

/** Files of the data dir that belong in a backup (LevelDB's own files are the rows). */
export const DATA_DIR_FILES = ['vapid.json'] as const

/** Key prefix of the rows that carry DATA_DIR_FILES. */
export const FILE_ROW_PREFIX = '\x00file\x00'

/** The DATA_DIR_FILES present in `dataDir`, as rows. */
export function dataDirFileRows(dataDir: string): Array<[string, string]> {
  const rows: Array<[string, string]> = []
  for (const name of DATA_DIR_FILES) {
    try {
      rows.push([FILE_ROW_PREFIX + name, readFileSync(join(dataDir, name), 'utf8')])
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return rows
}

/** The file name a row carries, or null for a database row; a name outside DATA_DIR_FILES is refused. */
export function fileOfRow(key: string): string | null {
  if (!key.startsWith(FILE_ROW_PREFIX)) return null
  const name = key.slice(FILE_ROW_PREFIX.length)
  if (!(DATA_DIR_FILES as readonly string[]).includes(name)) throw new Error(`the backup carries an unknown file ${JSON.stringify(name.slice(0, 40))}`)
  return name
}

/**
 * Writes the whole store, as seen by `snap`, then `files` (dataDirFileRows), to `out` in the
 * backup format; resolves with what it wrote.
 */
export async function writeBackup(
  snap: KvSnapshot, header: Omit<BackupHeader, 'format' | 'version'>, out: Writable, files: Array<[string, string]> = [],
): Promise<BackupSummary> {
  const full: BackupHeader = { format: BACKUP_FORMAT, version: BACKUP_VERSION, ...header }
  const hash = createHash('sha256')
  let rows = 0
  let sha256 = ''
  async function* lines(): AsyncGenerator<string> {
    yield JSON.stringify(full) + '\n'
    let after: string | null = null
    for (;;) {
      const page: Array<[string, string]> = await snap.rawRange(after === null ? { limit: PAGE } : { gt: after, limit: PAGE })
      if (page.length === 0) break
      let chunk = ''
      for (const row of page) chunk += JSON.stringify(row) + '\n'
      hash.update(chunk)
      rows += page.length
      after = page[page.length - 1]![0]
      yield chunk
    }
    if (files.length > 0) {
      let chunk = ''
      for (const row of files) chunk += JSON.stringify(row) + '\n'
      hash.update(chunk)
      rows += files.length
      yield chunk
    }
    sha256 = hash.digest('hex')
    yield JSON.stringify({ end: true, rows, sha256 }) + '\n'
  }
  await pipeline(Readable.from(lines()), createGzip(), out)
  return { header: full, rows, sha256 }
}

/** Reads a backup file, handing rows to `onRows` page by page; rejects on anything malformed, truncated or altered. */
export async function readBackup(
  file: string, onRows: (rows: Array<[string, string]>) => Promise<void>, onHeader?: (header: BackupHeader) => void,
): Promise<BackupSummary> {
  // A read or gunzip failure ends the lines early; it is reported after the loop.
  let failed: Error | null = null
  const raw = createReadStream(file)
  const input = createGunzip()
  raw.on('error', (err) => { failed ??= err; input.destroy() })
  input.on('error', (err) => { failed ??= err })
  raw.pipe(input)
  const lines = createInterface({ input, crlfDelay: Infinity })
  const hash = createHash('sha256')
  let header: BackupHeader | null = null
  let trailer: { rows: number; sha256: string } | null = null
  let rows = 0
  let page: Array<[string, string]> = []
  try {
    for await (const line of lines) {
      if (trailer) throw new Error('data after the end of the backup')
      if (!header) {
        header = parseHeader(line)
        onHeader?.(header)
        continue
      }
      if (line.startsWith('{')) {
        const end = JSON.parse(line) as { end?: boolean; rows?: number; sha256?: string }
        if (end.end !== true || typeof end.rows !== 'number' || typeof end.sha256 !== 'string') throw new Error('malformed trailer')
        trailer = { rows: end.rows, sha256: end.sha256 }
        continue
      }
      hash.update(line + '\n')
      const row = JSON.parse(line) as unknown
      if (!Array.isArray(row) || row.length !== 2 || typeof row[0] !== 'string' || typeof row[1] !== 'string') throw new Error(`malformed row ${rows + 1}`)
      page.push(row as [string, string])
      rows++
      if (page.length >= PAGE) {
        await onRows(page)
        page = []
      }
    }
  } catch (err) {
    raw.destroy()
    throw new Error(`${file} is not a readable backup: ${(err as Error).message}`, { cause: err })
  }
  if (failed) throw new Error(`${file} is not a readable backup: ${(failed as Error).message}`, { cause: failed })
  if (!header) throw new Error(`${file} is empty`)
  if (!trailer) throw new Error(`${file} is truncated (no end marker after ${rows} rows)`)
  const sha256 = hash.digest('hex')
  if (trailer.rows !== rows || trailer.sha256 !== sha256) throw new Error(`${file} is damaged: ${rows} rows with digest ${sha256.slice(0, 12)}, expected ${trailer.rows} rows with ${trailer.sha256.slice(0, 12)}`)
  if (page.length > 0) await onRows(page)
  return { header, rows, sha256 }
}

function parseHeader(line: string): BackupHeader {
  const h = JSON.parse(line) as Partial<BackupHeader>
  if (h.format !== BACKUP_FORMAT) throw new Error('not a chat-cluster backup')
  if (h.version !== BACKUP_VERSION) throw new Error(`backup format version ${String(h.version)} is not supported (this release reads ${BACKUP_VERSION})`)
  return h as BackupHeader
}

/** Writes a backup straight to a file (an offline backup, or the client side of one). */
export async function writeBackupFile(
  snap: KvSnapshot, header: Omit<BackupHeader, 'format' | 'version'>, file: string, files: Array<[string, string]> = [],
): Promise<BackupSummary> {
  const out = createWriteStream(file, { mode: 0o600 })
  const done = once(out, 'close')
  const summary = await writeBackup(snap, header, out, files)
  await done
  return summary
}
