import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'

export interface NatsServer {
  /** e.g. 'nats://127.0.0.1:4222' */
  url: string
  port: number
  /** Pid of the current server process (changes on restart()). */
  readonly pid: number
  /** Graceful shutdown (SIGTERM, SIGKILL if it lingers), then deletes the store directory. */
  stop(): Promise<void>
  /** SIGKILL, as a crash would; the store directory is kept for restart(). */
  kill(): Promise<void>
  /** Starts a new server on the same port and store directory (after kill()). */
  restart(): Promise<void>
}

/** The binary is found on PATH unless NATS_SERVER names it. */
const BINARY = process.env.NATS_SERVER ?? 'nats-server'
const READY_MS = 10_000
const EXIT_MS = 5_000

/**
 * Starts `nats-server -js` (plus `extraArgs`, e.g. `--user u --pass p`) on 127.0.0.1, on a free port, with a fresh store directory, and resolves
 * once it logs that it is ready. The caller registers `stop()` as teardown; if the test process
 * dies first, an exit hook still kills the server.
 */
export interface NatsPlace {
  /** Address to listen on (default 127.0.0.1). */
  host: string
  /** A command prefix the server runs under, e.g. `ip netns exec <ns>`; its own namespace has every port free. */
  wrap: string[]
  /** Extra nats-server arguments (authentication, say). */
  args?: string[]
}

/** `startNats(['--user', 'u', '--pass', 'p'])` is `startNats({ args: [...] })`. */
export async function startNats(placeOrArgs?: Partial<NatsPlace> | string[]): Promise<NatsServer> {
  const place: Partial<NatsPlace> | undefined = Array.isArray(placeOrArgs) ? { args: placeOrArgs } : placeOrArgs
  const dir = await mkdtemp(join(tmpdir(), 'nats-js-'))
  const where: Where = { host: place?.host ?? '127.0.0.1', wrap: place?.wrap ?? [], args: place?.args ?? [] }
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = place?.wrap?.length ? 4222 : await freePort()
    try {
      const child = await launch(port, dir, where)
      return handle(port, dir, child, where)
    } catch (err) {
      lastError = err // most likely the port was taken between freePort() and bind; try another
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw new Error('could not start nats-server', { cause: lastError })
}

type Where = NatsPlace

function handle(port: number, dir: string, first: ChildProcess, where: Where): NatsServer {
  let child: ChildProcess | undefined = first
  const killOnExit = () => { child?.kill('SIGKILL') }
  process.on('exit', killOnExit)

  const end = async (signal: NodeJS.Signals) => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill(signal)
    const timer = setTimeout(() => c.kill('SIGKILL'), EXIT_MS)
    await exited
    clearTimeout(timer)
  }

  return {
    url: `nats://${where.host}:${port}`,
    port,
    get pid() {
      return child?.pid ?? -1
    },
    async stop() {
      await end('SIGTERM')
      process.off('exit', killOnExit)
      await rm(dir, { recursive: true, force: true })
    },
    async kill() {
      await end('SIGKILL')
    },
    async restart() {
      await end('SIGKILL')
      child = await launch(port, dir, where)
    },
  }
}

/** Spawns the server and resolves once it is ready; rejects (and reaps it) if it exits or stalls first. */
function launch(port: number, dir: string, where: Where): Promise<ChildProcess> {
  const command = [...where.wrap, BINARY, '-a', where.host, '-p', String(port), '-js', '-sd', dir, ...(where.args ?? [])]
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let log = ''
    const fail = (why: string) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`nats-server on port ${port} ${why}\n${log.slice(-2000)}`))
    }
    const timer = setTimeout(() => fail(`not ready after ${READY_MS} ms`), READY_MS)
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes('Server is ready')) {
        clearTimeout(timer)
        child.off('exit', onExit)
        child.off('error', onError)
        // Keep draining its output so the server never blocks on a full pipe.
        child.stderr?.removeAllListeners('data').resume()
        child.stdout?.removeAllListeners('data').resume()
        resolve(child)
      }
    }
    const onExit = (code: number | null, signal: string | null) => fail(`exited early (code ${code}, signal ${signal})`)
    const onError = (err: Error) => fail(`could not be spawned: ${err.message}`)
    child.stderr?.on('data', onData)
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
    child.once('error', onError)
  })
}
