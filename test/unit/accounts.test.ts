/**
 * Accounts in one process, over the real runtime, user actors and LevelDB: signup, duplicate
 * names, login with right and wrong passwords, tokens that carry user and device, profile
 * updates, and a stored hash that is not the password, also after a restart of the stack.
 */
import { systemClock } from '../../src/clock.js'
import { systemRandom } from '../../src/random.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { Actors, type ActorEnv } from '../../src/actors/env.js'
import { actorFactory } from '../../src/actors/factory.js'
import { LocalRouter } from '../../src/actors/local-router.js'
import { ActorRuntime } from '../../src/actors/runtime.js'
import { ChatService } from '../../src/gateway/chat-service.js'
import { verifyPassword } from '../../src/gateway/passwords.js'
import { Tokens } from '../../src/gateway/tokens.js'
import { LocalActorStorage, PrefixedStore } from '../../src/storage/actor-store.js'
import { LevelKv } from '../../src/storage/leveldb.js'

const PASSWORD = 'hunter2-but-longer'
const SECRET = 'unit-test-secret-0123456789'

interface Teardown { teardown(fn: () => unknown): void }

/** The standalone node's actor stack without the HTTP layer. */
async function stack(t: Teardown, dir: string) {
  const kv = await LevelKv.open(dir)
  const env: ActorEnv = {
    actors: undefined as unknown as Actors,
    pusher: { push() {} },
    notifier: { operatorWebhook: false, submit() {}, cancel() {} },
    wake() {},
    config: { nodeId: 'unit', maxGroupSize: 100, maxDevices: 20 },
    log: pino({ level: 'silent' }),
    now: Date.now,
    clock: systemClock,
    random: systemRandom,
  }
  const runtime = new ActorRuntime({ factory: actorFactory(new LocalActorStorage(kv), env), passivateAfterMs: 60_000 })
  env.actors = new Actors(new LocalRouter(runtime))
  const tokens = new Tokens(SECRET, 86_400_000)
  const service = new ChatService(env.actors, tokens, 100)
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await runtime.stop()
    await kv.close()
  }
  t.teardown(close)
  return { kv, runtime, service, tokens, close }
}

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-accounts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('signup, duplicate, login and profile', async (t) => {
  const { service, tokens, kv } = await stack(t, tempDir(t))
  const signedUp = await service.signup('alice', PASSWORD, 'Alice A.', 'phone')
  t.same(signedUp.user, { username: 'alice', displayName: 'Alice A.' })
  t.equal(signedUp.deviceId, 'phone')
  t.match(tokens.verify(signedUp.token), { user: 'alice', device: 'phone' }, 'a sign-up logs the new account in: its token carries user and device')
  await service.checkToken(tokens.verify(signedUp.token)!)
  const bob = await service.signup('bob', PASSWORD)
  t.same(bob.user, { username: 'bob', displayName: 'bob' }, 'displayName defaults to the username')
  t.match(bob.deviceId, /^d-[0-9a-f]{16}$/, 'a device id is made up when none is given')
  await t.rejects(service.signup('alice', 'another-password'), { code: 'USERNAME_TAKEN', status: 409 })

  const session = await service.login('alice', PASSWORD, 'laptop')
  t.same(session.user, { username: 'alice', displayName: 'Alice A.' })
  t.equal(session.deviceId, 'laptop')
  t.match(tokens.verify(session.token), { user: 'alice', device: 'laptop' }, 'the token carries user and device')
  const generated = await service.login('alice', PASSWORD)
  t.match(generated.deviceId, /^d-[0-9a-f]{16}$/, 'a device id is made up when none is given')
  t.equal(tokens.verify(generated.token)?.device, generated.deviceId)

  await t.rejects(service.login('alice', 'wrong-password'), { code: 'UNAUTHORIZED', status: 401 })
  await t.rejects(service.login('nobody', PASSWORD), { code: 'UNAUTHORIZED' }, 'an unknown user looks like a wrong password')
  await t.rejects(service.login('Not A Name!', PASSWORD), { code: 'UNAUTHORIZED' })

  t.same(await service.me('alice'), { username: 'alice', displayName: 'Alice A.' })
  t.same(await service.updateMe('alice', 'Al'), { username: 'alice', displayName: 'Al' })
  t.same((await service.login('alice', PASSWORD)).user.displayName, 'Al', 'login returns the current profile')
  await t.rejects(service.me('ghost'), { code: 'NOT_FOUND' })

  const profile = await new PrefixedStore(kv, 'user:alice').get<{ passwordHash: string }>('p')
  t.ok(profile, 'the profile is stored under the user actor')
  t.notOk(JSON.stringify(profile).includes(PASSWORD), 'the stored profile does not hold the password')
  t.match(profile!.passwordHash, /^scrypt\$/)
  t.equal(await verifyPassword(PASSWORD, profile!.passwordHash), true)
})

t.test('concurrent signups of one name: exactly one wins', async (t) => {
  const { service } = await stack(t, tempDir(t))
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => service.signup('carol', `password-${i}-xx`)))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  for (const r of results) if (r.status === 'rejected') t.equal(r.reason.code, 'USERNAME_TAKEN')
  const winner = results.findIndex((r) => r.status === 'fulfilled')
  t.ok(await service.login('carol', `password-${winner}-xx`), 'the winner\'s password is the one kept')
})

t.test('accounts and tokens survive a restart of the stack', async (t) => {
  const dir = tempDir(t)
  const first = await stack(t, dir)
  await first.service.signup('dave', PASSWORD, 'Dave')
  await first.service.updateMe('dave', 'David')
  const { token } = await first.service.login('dave', PASSWORD, 'tablet')
  await first.close()

  const second = await stack(t, dir)
  t.same(await second.service.me('dave'), { username: 'dave', displayName: 'David' })
  t.ok(await second.service.login('dave', PASSWORD), 'the password still works')
  await t.rejects(second.service.login('dave', 'not-the-password'), { code: 'UNAUTHORIZED' })
  t.match(second.tokens.verify(token), { user: 'dave', device: 'tablet' }, 'a token from before verifies under the same secret')
})
