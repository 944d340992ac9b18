/**
 * A real `bin/chat-node` process for tests: started on free ports with a temp data dir, waited on
 * until it logs `ready`, and killed by pid in the test's teardown whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { waitFor } from './wait.js'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'chat-node')

interface Teardown { teardown(fn: () => unknown): void }

export interface NodeOptions {
  id?: string
  dataDir?: string
  /** Extra flags, e.g. ['--presence-timeout-ms', '500']. */
  args?: string[]
  env?: Record<string, string>
  nats?: string
  secret?: string
  /** Address to bind and advertise (default 127.0.0.1). */
  host?: string
  /** A command prefix the node runs under, e.g. `ip netns exec <ns>` (test/helpers/netns.ts). */
  wrap?: string[]
}

export interface ReadyLine { http: string; grpc: string | null; nodeId: string; /** The peer link's address, when the node serves one. */ link?: string }

export class NodeProcess {
  proc: ChildProcess | null = null
  ready: ReadyLine | null = null
  lines: string[] = []
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null })
  private port = 0
  private grpcPort = 0

  private constructor(readonly options: NodeOptions & { id: string; dataDir: string }) {}

  /** Starts a node and registers its removal (SIGKILL, data dir deleted) as teardown of `t`. */
  static async start(t: Teardown, options: NodeOptions = {}): Promise<NodeProcess> {
    const id = options.id ?? `n${Math.random().toString(36).slice(2, 8)}`
    const ownDir = options.dataDir === undefined
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `chat-${id}-`))
    const node = new NodeProcess({ ...options, id, dataDir })
    t.teardown(async () => {
      await node.kill()
      if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    })
    await node.launch()
    return node
  }

  get url(): string { return this.ready!.http }
  get wsUrl(): string { return this.ready!.http.replace(/^http/, 'ws') + '/ws' }
  get pid(): number { return this.proc?.pid ?? -1 }
  get id(): string { return this.options.id }
  get dataDir(): string { return this.options.dataDir }
  get log(): string { return this.lines.join('\n') }

  /** Starts the process (again, on the same ports and data dir after a stop or kill). */
  async launch(timeoutMs = 20_000): Promise<void> {
    const o = this.options
    const args = [BIN, '--id', o.id, '--host', o.host ?? '127.0.0.1', '--port', String(this.port), '--grpc-port', String(this.grpcPort), '--data-dir', o.dataDir, ...(o.args ?? [])]
    if (o.nats) args.push('--nats', o.nats)
    if (o.secret) args.push('--secret', o.secret)
    this.ready = null
    // The test runner adds its loader hooks to NODE_OPTIONS of every child it sees spawned; they
    // must not reach the node under test. `env -u` drops them and execs node (same pid).
    // A wrapper (`ip netns exec`) execs too, so the pid is still the node's.
    const command = [...(o.wrap ?? []), 'env', '-u', 'NODE_OPTIONS', process.execPath, ...args]
    const proc = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: { ...process.env, CHAT_EXIT_WITH_PARENT: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    // Should the test process end without its teardown (killed on a timeout), take the node along.
    const orphanGuard = () => { try { proc.kill('SIGKILL') } catch { /* already gone */ } }
    process.once('exit', orphanGuard)
    proc.once('exit', () => process.off('exit', orphanGuard))
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })))
    let buffered = ''
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (this.lines.length > 20_000) this.lines.splice(0, 10_000)
        this.lines.push(line)
        if (!this.ready && line.includes('"msg":"ready"')) this.ready = JSON.parse(line) as ReadyLine
      }
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    // waitFor treats a throw as "not yet", so an early exit ends the wait through its own value.
    const outcome = await waitFor(() => (proc.exitCode !== null || proc.signalCode !== null ? 'exited' : this.ready ? 'ready' : null), {
      timeout: timeoutMs, every: 20, what: `node ${o.id} ready`,
    }).catch((err) => {
      throw new Error(`${(err as Error).message}; log: ${this.log.slice(-2000)}`, { cause: err })
    })
    if (outcome === 'exited') throw new Error(`node ${o.id} exited (${proc.exitCode ?? proc.signalCode}): ${this.log.slice(-2000)}`)
    this.port = Number(new URL(this.ready!.http).port)
    if (this.ready!.grpc) this.grpcPort = Number(this.ready!.grpc.split(':').pop())
  }

  /** SIGTERM (graceful leave) and the exit status; SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const proc = this.proc
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return this.exited
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
    const status = await this.exited
    clearTimeout(timer)
    return status
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const proc = this.proc
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGKILL')
    await this.exited
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig)
  }
}

export async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  let json: unknown = null
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON; the caller looks at text
  }
  return { status: res.status, body: json, text }
}

/** Signs `username` up (if new) and logs in; returns the token. */
export async function login(base: string, username: string, deviceId?: string, password = 'password-123'): Promise<string> {
  const s = await api(base, 'POST', '/v1/users', { username, password })
  if (s.status !== 201 && s.status !== 409) throw new Error(`signup ${username}: ${s.status} ${s.text}`)
  const l = await api(base, 'POST', '/v1/sessions', { username, password, deviceId })
  if (l.status !== 200) throw new Error(`login ${username}: ${l.status} ${l.text}`)
  return l.body.token as string
}
