/**
 * A node that the others declare down only because they stopped hearing its heartbeats (cut from
 * the bus, as a stalled event loop or a NATS hiccup would do) keeps its sockets open. The user
 * actors elsewhere that dropped its devices meanwhile must not leave those sockets silent: each
 * socket is pushed every later event of its inbox, or closed with 1013 so that it reconnects and
 * syncs. (What happens here: the owner tells the dropped devices to register again; that push
 * to a node seen as down fails, so the pusher asks the node to resync them until it answers, and
 * once it is back it closes them with 1013.)
 */
import t from 'tap'
import { InProcessCluster } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { clusterView, signIn, usersOn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(120_000) // three nodes in one process, every login a password hash

const cluster = await InProcessCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn'] })
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id)) as [ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>]
const liveOn = async (observer: typeof n1, id: string) => (await clusterView(observer.url)).members.find((m) => m.id === id)?.live

t.test('devices of a node declared down while it was only silent are not left silent once it is back', async (t) => {
  // Both user actors live on n1; bob's device is on n3, the node that goes silent.
  const [alice, bob] = usersOn(await clusterView(n1.url), ['n1', 'n1'], 'silent') as [string, string]
  const aliceTok = await signIn(n2.url, alice)
  const bobTok = await signIn(n2.url, bob)
  const channel = `dm:${[alice, bob].sort().join(':')}`
  const aliceDev = await Device.open(t, n2.wsUrl, aliceTok, 'alice-phone', 300)
  const bobDev = await Device.open(t, n3.wsUrl, bobTok, 'bob-phone', 300)
  t.equal((await aliceDev.send(channel, 'before', 'c-before')).op, 'ack')
  await bobDev.waitPush((f) => f.op === 'message' && f.clientMsgId === 'c-before', 'the first message on bob\'s socket', 10_000)

  cluster.bus.setCut('n3', true)
  await waitFor(async () => (await liveOn(n1, 'n3')) === false, { timeout: 10_000, what: 'n1 declares n3 down' })
  t.match((await api(n1.url, 'GET', '/metrics')).text, /chat_peers_declared_down_total\{peer="n3"\} [1-9]/, 'and counts it')
  cluster.bus.setCut('n3', false)
  await waitFor(async () => (await liveOn(n1, 'n3')) === true && (await liveOn(n3, 'n1')) === true, { timeout: 10_000, what: 'n3 live again' })

  t.equal((await aliceDev.send(channel, 'after', 'c-after')).op, 'ack')
  await waitFor(() => bobDev.pushes.some((f) => f.op === 'message' && f.clientMsgId === 'c-after') || bobDev.closed?.code === 1013, {
    timeout: 10_000, what: "the message after the cut pushed to bob's socket, or the socket closed to resync",
  })
  t.pass(bobDev.closed ? `closed with 1013 (${bobDev.closed.reason}): the device reconnects and syncs` : 'pushed on the open socket')
})
