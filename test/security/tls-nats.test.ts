/**
 * Transport security end to end: `chat-node dev-certs` makes a CA and node certificates; nodes
 * with `--tls-ca/--tls-cert/--tls-key` form a cluster over mutual TLS that a client without a
 * certificate of that CA cannot talk to; NATS that requires a user and password (or a token) is
 * joined with `--nats-user/--nats-pass` (`--nats-token`) and refuses a node without them; the
 * client port serves HTTPS and WSS with `--http-tls-cert/--http-tls-key`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { request } from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import t from 'tap'
import WebSocket from 'ws'
import { SECRET } from '../helpers/cluster.js'
import { BIN, NodeProcess, api, login } from '../helpers/node-process.js'
import { startNats } from '../helpers/nats.js'
import { waitFor } from '../helpers/wait.js'

const certs = mkdtempSync(join(tmpdir(), 'chat-certs-'))
t.teardown(() => rmSync(certs, { recursive: true, force: true }))
const made = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, 'dev-certs', '--out', certs, '--nodes', 'n1,n2,rogue'], { encoding: 'utf8' })
const other = mkdtempSync(join(tmpdir(), 'chat-certs-other-'))
t.teardown(() => rmSync(other, { recursive: true, force: true }))
spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, 'dev-certs', '--out', other, '--nodes', 'stranger'], { encoding: 'utf8' })
const tlsArgs = (id: string) => ['--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, `${id}.pem`), '--tls-key', join(certs, `${id}-key.pem`)]

t.test('dev-certs makes a CA and node certificates, keys readable by the owner only', async (t) => {
  t.equal(made.status, 0, `exit 0 (${made.stderr})`)
  t.match(made.stdout, /made CA/)
  for (const f of ['ca.pem', 'ca-key.pem', 'n1.pem', 'n1-key.pem']) t.match(readFileSync(join(certs, f), 'utf8'), /-----BEGIN/, `${f} is PEM`)
  t.equal(statSync(join(certs, 'n1-key.pem')).mode & 0o777, 0o600, 'a node key is 0600')
  t.equal(statSync(join(certs, 'ca-key.pem')).mode & 0o777, 0o600, 'the CA key is 0600')
})

t.test('a cluster over mutual TLS with NATS user/password auth', async (t) => {
  const nats = await startNats(['--user', 'chat', '--pass', 'nats-password-1'])
  t.teardown(() => nats.stop())
  const natsAuth = ['--nats-user', 'chat', '--nats-pass', 'nats-password-1']
  const common = ['--heartbeat-ms', '200', '--dead-after-ms', '1000', '--replicas', '2', '--peer-links', 'true', ...natsAuth]
  const n1 = await NodeProcess.start(t, { id: 'n1', nats: nats.url, secret: SECRET, args: [...common, ...tlsArgs('n1')] })
  const n2 = await NodeProcess.start(t, { id: 'n2', nats: nats.url, secret: SECRET, args: [...common, ...tlsArgs('n2')] })
  await waitFor(async () => ((await api(n1.url, 'GET', '/v1/cluster')).body.members as any[]).filter((m) => m.live).length === 2, { timeout: 20_000, what: 'two live members' })

  // Chat across the two nodes: every actor call between them is over mutual TLS.
  const users = ['tls_a', 'tls_b', 'tls_c', 'tls_d', 'tls_e', 'tls_f']
  const tokens = await Promise.all(users.map((u, i) => login([n1, n2][i % 2]!.url, u)))
  const group = await api(n1.url, 'POST', '/v1/groups', { name: 'tls', members: users.slice(1) }, tokens[0])
  t.equal(group.status, 201, 'a group spanning both nodes')
  for (const [i, n] of [n1, n2].entries()) {
    const res = await api(n.url, 'GET', `/v1/channels/${group.body.channel.id}/messages`, undefined, tokens[i])
    t.equal(res.status, 200, `history read through ${n.id}`)
  }

  // A client of the gRPC port without a certificate, or with one of another CA, gets nowhere.
  const ping = (creds: grpc.ChannelCredentials) => new Promise<number>((resolve) => {
    const c = new grpc.Client(n1.ready!.grpc!, creds)
    c.makeUnaryRequest('/chat.cluster.v1.Node/Push', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 3000 },
      (err) => { c.close(); resolve(err ? err.code : grpc.status.OK) })
  })
  const ca = readFileSync(join(certs, 'ca.pem'))
  const noCheck = { checkServerIdentity: () => undefined }
  t.not(await ping(grpc.credentials.createInsecure()), grpc.status.OK, 'plain text is refused')
  t.not(await ping(grpc.credentials.createSsl(ca, null, null, noCheck)), grpc.status.OK, 'TLS without a client certificate is refused')
  t.not(await ping(grpc.credentials.createSsl(ca, readFileSync(join(other, 'stranger-key.pem')), readFileSync(join(other, 'stranger.pem')), noCheck)), grpc.status.OK, 'a certificate of another CA is refused')
  t.equal(await ping(grpc.credentials.createSsl(ca, readFileSync(join(certs, 'rogue-key.pem')), readFileSync(join(certs, 'rogue.pem')), noCheck)), grpc.status.UNAUTHENTICATED,
    'a cluster certificate without the cluster secret still gets UNAUTHENTICATED')

  // The peer link port likewise: nodes talk over it (mutual TLS), a stranger gets no answer.
  t.ok(n1.ready!.link && n2.ready!.link, 'both nodes serve a peer link')
  const [linkHost, linkPort] = [n1.ready!.link!.slice(0, n1.ready!.link!.lastIndexOf(':')), Number(n1.ready!.link!.split(':').pop())]
  /** What a connection to the link port gets: a TLS session or not, then an answer or a close. */
  const tryLink = (open: () => net.Socket) => new Promise<string>((resolve) => {
    const socket = open()
    let answered = false
    let secured = false
    let refused = false
    socket.on('data', () => { answered = true })
    // The server's TLS alert (no certificate, or one of another CA), as TLS 1.3 sends it after the client's handshake.
    socket.on('error', (err: NodeJS.ErrnoException) => { if (/SSL|TLS|ALERT|CERT/i.test(`${err.code} ${err.message}`)) refused = true })
    // A frame of requests, unsigned: whatever gets through the TLS handshake must not answer it.
    const frame = Buffer.from([0, 0, 0, 2, 10, 0])
    socket.on('secureConnect', () => {
      secured = true
      socket.write(frame)
    })
    socket.on('connect', () => { if (!(socket instanceof tls.TLSSocket)) socket.write(frame) })
    socket.on('close', () => resolve(refused ? 'refused by TLS' : `${secured ? 'TLS, ' : ''}${answered ? 'answered' : 'closed'}`))
    setTimeout(() => socket.destroy(), 5000)
  })
  const tlsTo = (keyPair: { key?: Buffer; cert?: Buffer }) => () => tls.connect({ host: linkHost, port: linkPort, ca, ...keyPair, ...noCheck })
  t.equal(await tryLink(() => net.connect(linkPort, linkHost)), 'closed', 'plain text on the link port is closed unanswered')
  t.equal(await tryLink(tlsTo({})), 'refused by TLS', 'TLS without a client certificate is refused')
  // (Whether its client sees the server's alert or just the close depends on timing.)
  t.match(await tryLink(tlsTo({ key: readFileSync(join(other, 'stranger-key.pem')), cert: readFileSync(join(other, 'stranger.pem')) })), /^(refused by TLS|TLS, closed)$/,
    'a certificate of another CA is refused, unanswered')
  t.equal(await tryLink(tlsTo({ key: readFileSync(join(certs, 'rogue-key.pem')), cert: readFileSync(join(certs, 'rogue.pem')) })), 'TLS, closed',
    'a cluster certificate gets a TLS session, but without the cluster secret its unsigned frame closes the link unanswered')

  // A node without the NATS credentials never joins.
  const outsider = NodeProcess.start(t, { id: 'n3', nats: nats.url, secret: SECRET, args: ['--heartbeat-ms', '200', ...tlsArgs('rogue')] })
  const joined = await Promise.race([outsider.then(() => true, () => false), new Promise((r) => setTimeout(() => r(false), 8000))])
  t.equal(joined, false, 'a node without NATS credentials does not become ready')
  t.equal(((await api(n1.url, 'GET', '/v1/cluster')).body.members as any[]).length, 2, 'and is not in the ring')
})

t.test('NATS token auth', async (t) => {
  const nats = await startNats(['--auth', 'nats-token-123'])
  t.teardown(() => nats.stop())
  const n = await NodeProcess.start(t, { id: 'tok1', nats: nats.url, secret: SECRET, args: ['--nats-token', 'nats-token-123', '--replicas', '1'] })
  t.equal((await api(n.url, 'GET', '/healthz')).status, 200, 'joined with the token')
})

t.test('HTTPS and WSS on the client port', async (t) => {
  const node = await NodeProcess.start(t, { args: ['--http-tls-cert', join(certs, 'n1.pem'), '--http-tls-key', join(certs, 'n1-key.pem')] })
  t.match(node.url, /^https:\/\//, 'the ready line says https')
  const ca = readFileSync(join(certs, 'ca.pem'))
  const status = await new Promise<number>((resolve, reject) => {
    request(`${node.url}/healthz`, { ca }, (res) => { res.resume(); resolve(res.statusCode!) }).on('error', reject).end()
  })
  t.equal(status, 200, 'healthz over HTTPS')
  const plain = await fetch(node.url.replace('https', 'http') + '/healthz').then((r) => r.status, () => 'refused')
  t.not(plain, 200, 'plain HTTP is not served')
  const signup = await new Promise<number>((resolve, reject) => {
    const req = request(`${node.url}/v1/users`, { ca, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); resolve(res.statusCode!) })
    req.on('error', reject)
    req.end(JSON.stringify({ username: 'secure_sam', password: 'password-123' }))
  })
  t.equal(signup, 201)
  const token = await new Promise<string>((resolve, reject) => {
    const req = request(`${node.url}/v1/sessions`, { ca, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body).token))
    })
    req.on('error', reject)
    req.end(JSON.stringify({ username: 'secure_sam', password: 'password-123' }))
  })
  const first = await new Promise<any>((resolve, reject) => {
    const ws = new WebSocket(`${node.url.replace('https', 'wss')}/ws?token=${token}`, { ca })
    ws.on('message', (d) => { resolve(JSON.parse(d.toString())); ws.close() })
    ws.on('error', reject)
  })
  t.equal(first.op, 'ready', 'a WSS socket works')
})
