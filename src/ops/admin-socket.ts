/**
 * The node's local admin socket: a Unix domain socket in its data dir (`admin.sock`, mode 0600),
 * through which `chat-node backup` and `chat-node compact` reach a running node. A running node
 * holds the LevelDB lock, so anything that must read its database consistently goes through it.
 * Only whoever may read the data dir may connect: the file system is the authentication, as for
 * a database's local socket; nothing of this listens on the network.
 *
 * Protocol: the client writes one JSON line `{"op": "backup" | "compact" | "status"}`. `backup` is
 * answered with the backup file's bytes (gzip; see backup-format.ts) and the socket is closed;
 * the others with one JSON line. A failure before any byte of a backup is one JSON line
 * `{"error": "..."}`; a failure during one cuts the stream, which the client detects (no trailer).
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs'
import { type Server, type Socket, createServer } from 'node:net'
import { join } from 'node:path'
import type { Logger } from 'pino'

export const ADMIN_SOCKET = 'admin.sock'
/** Unix socket paths longer than this do not fit in sockaddr_un on Linux. */
const MAX_PATH = 107

export interface AdminOps {
  /** Streams a consistent backup of the whole store into `out`, then ends it. */
  backup(out: Socket): Promise<void>
  compact(): Promise<Record<string, unknown>>
  status(): Promise<Record<string, unknown>>
}

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, ADMIN_SOCKET)
}

export class AdminSocket {
  private constructor(private readonly server: Server, readonly path: string) {}

  /** Listens in `dataDir`; null (with a warning) when the path is too long for a Unix socket. */
  static async listen(dataDir: string, ops: AdminOps, log: Logger): Promise<AdminSocket | null> {
    const path = adminSocketPath(dataDir)
    if (Buffer.byteLength(path) > MAX_PATH) {
      log.warn({ path }, 'data dir path too long for the admin socket; backups of this running node are not possible (use a shorter --data-dir)')
      return null
    }
    // This node holds the data dir's LevelDB lock: a socket file left here is from a node that died.
    if (existsSync(path)) unlinkSync(path)
    const server = createServer((socket) => serve(socket, ops, log))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(path, 0o600)
    server.on('error', (err) => log.warn({ err }, 'admin socket error'))
    return new AdminSocket(server, path)
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    if (existsSync(this.path)) unlinkSync(this.path)
  }
}

function serve(socket: Socket, ops: AdminOps, log: Logger): void {
  socket.on('error', () => undefined)
  let buffered = ''
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const nl = buffered.indexOf('\n')
    if (nl < 0) {
      if (buffered.length > 4096) socket.destroy()
      return
    }
    socket.off('data', onData)
    socket.pause()
    void answer(buffered.slice(0, nl), socket, ops, log)
  }
  socket.on('data', onData)
}

async function answer(line: string, socket: Socket, ops: AdminOps, log: Logger): Promise<void> {
  const reply = (body: Record<string, unknown>): void => {
    socket.end(JSON.stringify(body) + '\n')
  }
  let op: unknown
  try {
    op = (JSON.parse(line) as { op?: unknown }).op
  } catch {
    return reply({ error: 'the request must be one JSON line' })
  }
  try {
    switch (op) {
      case 'backup':
        log.info({ op }, 'backup started')
        await ops.backup(socket)
        log.info({ op }, 'backup streamed')
        return
      case 'compact':
        return reply(await ops.compact())
      case 'status':
        return reply(await ops.status())
      default:
        return reply({ error: `unknown admin op ${JSON.stringify(op)}` })
    }
  } catch (err) {
    log.warn({ err, op }, 'admin request failed')
    if (socket.bytesWritten === 0) reply({ error: (err as Error).message })
    else socket.destroy()
  }
}
