/**
 * `examples/chat.mjs` against a standalone node in the test process: two terminal clients, driven through their
 * stdin and read from their stdout, chat with each other both ways.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { ROOT } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

interface Terminal {
  proc: ChildProcess
  /** Every stdout and stderr line so far. */
  lines: string[]
  exited: Promise<number | null>
}

const node = await InProcessNode.start(t)

/** Runs the example as a user would, with a pipe for a keyboard; killed in teardown. */
function terminal(user: string, to: string): Terminal {
  const args = [join(ROOT, 'examples', 'chat.mjs'), '--url', node.url, '--user', user, '--password', 'secret-123', '--to', to]
  // The test runner's loader hooks in NODE_OPTIONS must not reach the example (see InProcessNode).
  const proc = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const lines: string[] = []
  let buffered = ''
  const onData = (chunk: Buffer): void => {
    buffered += chunk.toString()
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    lines.push(...parts)
  }
  proc.stdout!.on('data', onData)
  proc.stderr!.on('data', onData)
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  return { proc, lines, exited }
}

function waitLine(term: Terminal, pattern: RegExp, what: string): Promise<string> {
  return waitFor(() => term.lines.find((line) => pattern.test(line)), { timeout: 15_000, what })
    .catch((err: Error) => { throw new Error(`${err.message}; output:\n${term.lines.join('\n')}`) })
}

function count(term: Terminal, pattern: RegExp): number {
  return term.lines.filter((line) => pattern.test(line)).length
}

t.test('alice and bob chat through two example processes', async (t) => {
  // Alice starts first, before bob has an account: she waits for him.
  const alice = terminal('ex_alice', 'ex_bob')
  await waitLine(alice, /waiting for ex_bob to sign up/, 'alice waits for bob')
  const bob = terminal('ex_bob', 'ex_alice')
  await waitLine(bob, /^-- chatting in dm:ex_alice:ex_bob/, 'bob is chatting')
  await waitLine(alice, /^-- chatting in dm:ex_alice:ex_bob/, 'alice is chatting')

  alice.proc.stdin!.write('hello bob\n')
  await waitLine(bob, /^\[\d\d:\d\d\] ex_alice: hello bob$/, 'bob sees alice\'s line')
  await waitLine(alice, /^\[\d\d:\d\d\] ex_alice: hello bob$/, 'alice sees her own line once the server has it')

  bob.proc.stdin!.write('hi alice\n')
  await waitLine(alice, /^\[\d\d:\d\d\] ex_bob: hi alice$/, 'alice sees bob\'s reply')
  await waitLine(bob, /^\[\d\d:\d\d\] ex_bob: hi alice$/, 'bob sees his own reply')

  // Both asked to be friends, so each sees the other's presence.
  alice.proc.stdin!.write('/who\n')
  await waitLine(alice, /^-- ex_bob: online$/, '/who shows bob online')

  // Changes: alice fixes her last line, bob reacts to it, alice finds it, then takes it back.
  alice.proc.stdin!.write('/edit hello bob, how are you?\n')
  await waitLine(bob, /^-- ex_alice edited: hello bob, how are you\?$/, 'bob sees the edit')
  bob.proc.stdin!.write('/react 👍\n')
  await waitLine(alice, /^-- ex_bob reacted 👍 to "hello bob, how are you\?"$/, 'alice sees bob\'s reaction')
  alice.proc.stdin!.write('/search HOW ARE\n')
  await waitLine(alice, /^ {3}\[\d\d:\d\d\] \(dm:ex_alice:ex_bob\) ex_alice: hello bob, how are you\?$/, '/search finds it')
  alice.proc.stdin!.write('/delete\n')
  await waitLine(bob, /^-- ex_alice deleted message 1$/, 'bob sees the delete')

  // End of input: the example waits for its acks and exits 0; bob sees alice go offline.
  alice.proc.stdin!.write('one more\n')
  alice.proc.stdin!.end()
  t.equal(await alice.exited, 0, 'alice exits 0 at the end of her input')
  t.equal(count(alice, /not acknowledged|not sent/), 0, 'every line was acknowledged')
  await waitLine(bob, /^\[\d\d:\d\d\] ex_alice: one more$/, 'the last line was delivered')
  await waitLine(bob, /^-- ex_alice is offline$/, 'bob sees alice leave')
  bob.proc.stdin!.end()
  t.equal(await bob.exited, 0, 'bob exits 0')

  for (const [who, term] of [['alice', alice], ['bob', bob]] as const) {
    for (const text of ['ex_alice: hello bob', 'ex_bob: hi alice']) {
      t.equal(count(term, new RegExp(`^\\[\\d\\d:\\d\\d\\] ${text}$`)), 1, `${who} shows "${text}" once`)
    }
  }
  t.equal(count(bob, /ex_alice: one more$/), 1)
})
