/**
 * Every process the benchmark starts: chat nodes, nats-server and the baseline relay, each on
 * 127.0.0.1 with a free port and its own temp directory. All are tracked by pid and SIGKILLed by
 * `killAll()`; an exit hook does the same if the benchmark dies first, so nothing outlives it.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..')
const RELAY = join(ROOT, 'bench', 'relay.mjs')
const READY_MS = 30_000

/** A port that was free a moment ago; the caller retries if it is taken before it binds. */
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => res(port))
    })
  })
}

export class Procs {
  children = new Set()
  nodes = new Set()
  dirs = new Set()

  /**
   * `root`: the checkout whose bin/chat-node (and dist/) is measured; this one by default.
   * `nodeArgs`: Node.js flags for every chat node (e.g. --cpu-prof, written when it exits).
   */
  constructor({ root = ROOT, nodeArgs = [] } = {}) {
    this.root = root
    this.nodeArgs = nodeArgs
    // Synchronous: on 'exit' nothing asynchronous runs any more.
    this.onExit = () => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
      for (const d of this.dirs) rmSync(d, { recursive: true, force: true })
    }
    process.on('exit', this.onExit)
  }

  tempDir(prefix) {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    this.dirs.add(dir)
    return dir
  }

  /**
   * Spawns a process and resolves once `isReady(line)` returns something for one line of its
   * output (rejecting if it exits or stays silent past the deadline). Output keeps being drained.
   */
  spawnReady(name, cmd, args, isReady) {
    const env = { ...process.env }
    // Loader hooks meant for the benchmark (if any) must not reach the servers it measures.
    delete env.NODE_OPTIONS
    // Should the benchmark be killed before it stops them, the chat nodes end with it.
    env.CHAT_EXIT_WITH_PARENT = '1'
    const child = spawn(cmd, args, { cwd: this.root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.add(child)
    const tail = []
    return new Promise((res, rej) => {
      let buffered = ''
      let done = false
      const finish = (err, value) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (err) {
          child.kill('SIGKILL')
          rej(new Error(`${name}: ${err}\n${tail.join('\n')}`))
        } else res({ name, child, pid: child.pid, ready: value, tail })
      }
      const onData = (chunk) => {
        buffered += chunk.toString()
        let nl
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl)
          buffered = buffered.slice(nl + 1)
          tail.push(line)
          if (tail.length > 50) tail.shift()
          if (!done) {
            const value = isReady(line)
            if (value) finish(null, value)
          }
        }
      }
      const timer = setTimeout(() => finish(`not ready after ${READY_MS} ms`), READY_MS)
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      child.once('error', (err) => finish(`could not start: ${err.message}`))
      child.once('exit', (code, signal) => finish(`exited (code ${code}, signal ${signal})`))
    })
  }

  /** A chat node; `extra` are flags added after the standard ones; a fresh data dir unless given. */
  async startNode(id, extra = [], dataDir = this.tempDir(`chat-bench-${id}-`)) {
    const args = [...this.nodeArgs, join(this.root, 'bin', 'chat-node'), '--id', id, '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0', '--data-dir', dataDir, ...extra]
    const p = await this.spawnReady(`node ${id}`, process.execPath, args, readyLine)
    this.nodes.add(p.child)
    return { ...p, id, dataDir, extra, http: p.ready.http, ws: p.ready.http.replace(/^http/, 'ws') + '/ws' }
  }

  /** Stops a process (SIGTERM, SIGKILL after `graceMs`) and waits until it is gone. */
  async stop(p, graceMs = 10_000) {
    const c = p.child
    this.nodes.delete(c)
    if (c.exitCode !== null || c.signalCode !== null) return void this.children.delete(c)
    const gone = new Promise((r) => c.once('exit', r))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    await gone
    clearTimeout(timer)
    this.children.delete(c)
  }

  /** The same chat node as a new process on its data dir (a fresh heap; a new port). */
  async restartNode(node) {
    await this.stop(node)
    return this.startNode(node.id, node.extra, node.dataDir)
  }

  async startRelay() {
    const p = await this.spawnReady('relay', process.execPath, [RELAY], readyLine)
    return { ...p, id: 'relay', http: p.ready.http, ws: p.ready.http.replace(/^http/, 'ws') + '/ws' }
  }

  async startNats() {
    const dir = this.tempDir('chat-bench-nats-')
    let last
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      try {
        const p = await this.spawnReady('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
          (line) => line.includes('Server is ready'))
        return { ...p, url: `nats://127.0.0.1:${port}` }
      } catch (err) {
        if (/ENOENT/.test(err.message)) throw new Error('nats-server is not on the PATH (the cluster needs it; e.g. apt-get install nats-server)', { cause: err })
        last = err // most likely the port was taken between freePort() and bind
      }
    }
    throw last
  }

  /** SIGTERM to every chat node still running, so each exits cleanly (and writes its profile). */
  async stopNodes() {
    await Promise.all([...this.nodes].map((child) => this.stop({ child }, 20_000)))
  }

  /** SIGKILL by pid for every process still running, then deletes every temp directory. */
  async killAll() {
    const waits = []
    for (const c of this.children) {
      if (c.exitCode !== null || c.signalCode !== null) continue
      waits.push(new Promise((r) => c.once('exit', r)))
      c.kill('SIGKILL')
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000).unref())])
    this.children.clear()
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true })
    this.dirs.clear()
    process.off('exit', this.onExit)
  }
}

function readyLine(line) {
  if (!line.includes('"msg":"ready"')) return null
  try {
    return JSON.parse(line)
  } catch {
    return null
  }
}

/** Resident set size of a process in bytes (VmRSS), or null if it is gone. */
export async function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/** User + system CPU time of a process in seconds (from /proc/<pid>/stat; 100 ticks a second). */
export async function cpuSeconds(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** Bytes a directory takes on disk (`du -sb`), or null. */
export async function diskBytes(dir) {
  return new Promise((res) => {
    execFile('du', ['-sb', dir], (err, out) => res(err ? null : Number(out.split(/\s/)[0])))
  })
}

/** This process's soft limit of open files (children inherit it), or null if unknown. */
export function openFilesLimit() {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    return !m || m[1] === 'unlimited' ? null : Number(m[1])
  } catch {
    return null
  }
}
