/**
 * Backup and restore with the real binary: `chat-node backup` of a running node (through its admin
 * socket) while it takes writes, wipe, `chat-node restore`, and every message acknowledged before
 * the backup is there again (backup-cluster.test.ts does the same for a whole cluster). Damaged
 * backups and non-empty targets are refused.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PROTOCOL_VERSION } from '../../src/cluster/protocol-version.js'
import { chatNode } from '../helpers/chat-node-cli.js'
import { NodeProcess, api } from '../helpers/node-process.js'
import { Traffic, fullHistory, fullInbox, missingFrom, signIn, workload } from '../helpers/traffic.js'

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}


t.test('standalone: back up a running node under writes, wipe it, restore it, every acknowledged message is back', async (t) => {
  const files = tempDir('chat-backup-')
  const node = await NodeProcess.start(t, { id: 'solo' })
  const { tokens, channels } = await workload([node.url], ['ann', 'ben', 'cat'], [['ann', 'ben', 'cat']], [['ann', 'ben']])
  const traffic = new Traffic({ tokens, channels, nodes: () => [{ id: node.id, url: node.url }], pauseMs: 5 })
  t.teardown(() => traffic.stop(5000))
  await traffic.progress(150)
  const vapid = await api(node.url, 'GET', '/v1/push/vapid', undefined, tokens.get('ann'))
  t.equal(vapid.status, 200, 'the node has a VAPID key pair (vapid.json in its data dir)')
  const before = traffic.acked().slice()
  const file = join(files, 'solo.backup')
  const backup = await chatNode(['backup', '--data-dir', node.dataDir, '--out', file])
  t.equal(backup.code, 0, `backup exits 0: ${backup.stderr}`)
  t.match(backup.stdout, /backup of solo \(standalone, running node\): \d+ rows/, backup.stdout.trim())
  t.equal(statSync(file).mode & 0o777, 0o600, 'the backup file is readable by its owner only')
  const status = JSON.parse((await chatNode(['status', '--data-dir', node.dataDir])).stdout)
  t.match(status, { nodeId: 'solo', mode: 'standalone', fsync: 'never', protocol: PROTOCOL_VERSION }, '`chat-node status` asks the running node')
  t.ok(status.storageBytes > 0, 'and reports its storage')
  await traffic.stop()
  t.equal((await node.stop()).code, 0, 'the node stopped')

  t.not((await chatNode(['restore', '--data-dir', node.dataDir, '--in', file])).code, 0, 'restoring over a data dir in use is refused')
  t.match((await chatNode(['status', '--data-dir', node.dataDir])).stderr, /no node is running/, 'status of a stopped node says so')
  rmSync(node.dataDir, { recursive: true, force: true })
  const restored = await chatNode(['restore', '--data-dir', node.dataDir, '--in', file])
  t.equal(restored.code, 0, `restore exits 0: ${restored.stderr}`)
  t.match(restored.stdout, /restored \d+ rows of solo's backup/)
  await node.launch()

  const histories = new Map<string, any[]>()
  for (const [channel, members] of channels) histories.set(channel, await fullHistory(node.url, channel, tokens.get(members[0]!)!))
  t.same(missingFrom(before, histories), [], `all ${before.length} messages acknowledged before the backup are back`)
  // Logins made before the backup still work: the token secret came back with the data.
  const me = await api(node.url, 'GET', '/v1/me', undefined, tokens.get('ann'))
  t.equal(me.status, 200, 'a token issued before the backup is still valid')
  const inbox = await fullInbox(node.url, tokens.get('ben')!)
  t.same(inbox.map((e) => e.inboxSeq), inbox.map((_, i) => i + 1), 'inboxSeq is 1..N after the restore')
  // Browsers' push subscriptions are bound to the VAPID public key: a new pair would silence them all.
  const after = await api(node.url, 'GET', '/v1/push/vapid', undefined, tokens.get('ann'))
  t.equal(after.body.publicKey, vapid.body.publicKey, 'the VAPID key pair came back with the data: push subscriptions keep working')
  t.equal(statSync(join(node.dataDir, 'vapid.json')).mode & 0o777, 0o600, 'its file is readable by the node\'s user only')
})

t.test('a damaged or truncated backup is refused, and nothing is written', async (t) => {
  const files = tempDir('chat-backup-bad-')
  const node = await NodeProcess.start(t, { id: 'src' })
  await signIn(node.url, 'dora')
  const good = join(files, 'good.backup')
  t.equal((await chatNode(['backup', '--data-dir', node.dataDir, '--out', good])).code, 0, 'backup taken')
  const size = statSync(good).size
  // Flip one byte in the middle (gzip's own check or the digest catches it), and cut another copy short.
  const flipped = join(files, 'flipped.backup')
  const cut = join(files, 'cut.backup')
  const bytes = Buffer.alloc(size)
  const fd = openSync(good, 'r')
  readSync(fd, bytes, 0, size, 0)
  closeSync(fd)
  const bad = Buffer.from(bytes)
  bad[Math.floor(size / 2)] ^= 0xff
  for (const [path, data] of [[flipped, bad], [cut, bytes.subarray(0, Math.floor(size * 0.7))]] as const) {
    const out = openSync(path, 'w')
    writeSync(out, data)
    closeSync(out)
  }
  for (const file of [flipped, cut]) {
    const target = join(files, `target-${file.endsWith('cut.backup') ? 'cut' : 'flipped'}`)
    const r = await chatNode(['restore', '--data-dir', target, '--in', file])
    t.not(r.code, 0, `${file}: refused`)
    t.match(r.stderr, /not a readable backup|damaged|truncated/, r.stderr.trim())
    t.notOk(existsSync(target), 'no data dir was left behind')
  }
  const busy = await chatNode(['restore', '--data-dir', node.dataDir, '--in', good])
  t.equal(busy.code, 2, 'a non-empty target is an operator error')
  t.match(busy.stderr, /is not empty/)
})
