/**
 * `CHAT_EXIT_WITH_PARENT=1` (set by the test helpers and the benchmark for every node they
 * start): a node whose parent process is killed before it could stop the node ends within a few
 * seconds instead of running on as an orphan. Without the variable a node outlives its parent.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { BIN } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A parent process that starts a node (with `env`) and prints the node's pid once it is ready. */
async function parentWithNode(t: Test, env: Record<string, string>): Promise<{ parent: number; node: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-orphan-'))
  const script = `
    const { spawn } = require('node:child_process')
    const node = spawn(process.execPath, [${JSON.stringify(BIN)}, '--host', '127.0.0.1', '--port', '0', '--data-dir', ${JSON.stringify(dir)}, '--log-level', 'info'],
      { env: { ...process.env, ...${JSON.stringify(env)} }, stdio: ['ignore', 'pipe', 'inherit'] })
    node.stdout.on('data', (d) => { if (String(d).includes('"msg":"ready"')) console.log(node.pid) })
    setInterval(() => {}, 1000)`
  // `env -u`: the test runner's loader hooks (which it adds to every child it sees spawned) must not
  // reach the parent or its node.
  const parent = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  parent.stdout.on('data', (d) => { out += String(d) })
  const node = Number(await waitFor(() => out.trim(), { timeout: 30_000, what: 'the node ready under its parent' }))
  t.teardown(() => {
    for (const pid of [parent.pid!, node]) if (alive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return { parent: parent.pid!, node }
}

t.test('with CHAT_EXIT_WITH_PARENT=1 the node ends when its parent is killed', async (t) => {
  const { parent, node } = await parentWithNode(t, { CHAT_EXIT_WITH_PARENT: '1' })
  t.ok(alive(node), 'the node runs')
  process.kill(parent, 'SIGKILL')
  await waitFor(() => !alive(node), { timeout: 10_000, what: 'the orphaned node to end' })
  t.pass('the node ended after its parent was killed')
})

t.test('without it the node outlives its parent', async (t) => {
  const { parent, node } = await parentWithNode(t, {})
  process.kill(parent, 'SIGKILL')
  await waitFor(() => !alive(parent), { timeout: 10_000, what: 'the parent gone' })
  // Two of the watch's periods: a watching node would have ended by now.
  await new Promise((r) => setTimeout(r, 2500))
  t.ok(alive(node), 'still running (the teardown kills it)')
})
