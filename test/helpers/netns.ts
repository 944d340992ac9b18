/**
 * A private network for one test run, made of Linux network namespaces: a bridge in the test's
 * own namespace (the "switch", at `.1`, where the test and its clients live) and one namespace
 * per host (a node, or nats-server) joined to it by a veth pair, each with its own address in a
 * /24 chosen for this run. Faults are nftables rules inside a host's namespace that silently drop
 * packets (no reset, no ICMP): the kind of cut that makes a peer hang rather than fail fast.
 *
 * Needs root (CAP_NET_ADMIN), `ip` (iproute2) and `nft` (nftables). Every namespace, bridge and
 * veth carries the test process's pid in its name; `destroy()` removes them, an exit hook does it
 * if the test dies first, and `Network.create` also removes what dead test processes left behind.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const NS_DIR = '/var/run/netns'
const PREFIX = 'chatt'

export interface Host {
  name: string
  /** The namespace's name (`ip netns exec <ns> ...`). */
  ns: string
  ip: string
}

/** A cut in one host's namespace: drop packets to and/or from addresses, optionally one TCP port only. */
export interface Drop {
  /** Packets this host sends to `to` are dropped (optionally only those to the TCP `ports`). */
  to?: string[]
  /** Packets this host receives from `from` are dropped (optionally only those from the TCP `ports`). */
  from?: string[]
  ports?: number[]
}

export class Network {
  private readonly hosts = new Map<string, Host>()
  private readonly cuts = new Set<string>()
  private destroyed = false
  private readonly onExit = () => this.destroySync()

  private constructor(private readonly tag: string, private readonly subnet: string) {
    process.once('exit', this.onExit)
  }

  /** Whether this process may make namespaces here (root, with `ip` and `nft` installed). */
  static available(): { ok: true } | { ok: false; why: string } {
    if (process.platform !== 'linux') return { ok: false, why: 'network namespaces need Linux' }
    if (process.getuid?.() !== 0) return { ok: false, why: 'network namespaces need root' }
    for (const [bin, args] of [['ip', ['-V']], ['nft', ['--version']]] as const) {
      try {
        execFileSync(bin, [...args], { stdio: 'ignore' })
      } catch {
        return { ok: false, why: `${bin} is not installed (apt-get install -y ${bin === 'ip' ? 'iproute2' : 'nftables'})` }
      }
    }
    return { ok: true }
  }

  /** A bridge at `<subnet>.1` in this namespace, for hosts to join. */
  static create(): Network {
    removeLeftovers()
    const tag = process.pid.toString(36)
    // A /24 in 10.0.0.0/8 picked from the pid, so concurrent runs do not share addresses.
    const subnet = `10.${100 + ((process.pid >> 8) % 150)}.${process.pid % 256}`
    const net = new Network(tag, subnet)
    try {
      run('ip', ['link', 'add', net.bridge, 'type', 'bridge'])
      run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', net.bridge])
      run('ip', ['link', 'set', net.bridge, 'up'])
    } catch (err) {
      net.destroySync()
      throw err
    }
    return net
  }

  /** The test's own address on the bridge: where clients and the test harness connect from. */
  get gateway(): string {
    return `${this.subnet}.1`
  }

  private get bridge(): string {
    return `${PREFIX}${this.tag}`
  }

  /** Adds a host namespace on the bridge with the next free address. */
  addHost(name: string): Host {
    const existing = this.hosts.get(name)
    if (existing) return existing
    const index = this.hosts.size + 2
    const host: Host = { name, ns: `${PREFIX}-${this.tag}-${name}`, ip: `${this.subnet}.${index}` }
    const outside = `${PREFIX}${this.tag}x${index}`
    run('ip', ['netns', 'add', host.ns])
    this.hosts.set(name, host)
    run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns])
    run('ip', ['link', 'set', outside, 'master', this.bridge])
    run('ip', ['link', 'set', outside, 'up'])
    inNs(host.ns, 'ip', ['addr', 'add', `${host.ip}/24`, 'dev', 'eth0'])
    inNs(host.ns, 'ip', ['link', 'set', 'eth0', 'up'])
    inNs(host.ns, 'ip', ['link', 'set', 'lo', 'up'])
    nft(host.ns, [
      'table inet chaos {',
      '  chain in { type filter hook input priority 0; policy accept; }',
      '  chain out { type filter hook output priority 0; policy accept; }',
      '}',
    ])
    return host
  }

  host(name: string): Host {
    const h = this.hosts.get(name)
    if (!h) throw new Error(`no host ${name} in this network`)
    return h
  }

  /** The command prefix that runs a program inside `host`'s namespace. */
  exec(name: string): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns]
  }

  /** Adds drop rules inside `name`'s namespace. Cuts add up until `heal`. */
  drop(name: string, d: Drop): void {
    const host = this.host(name)
    const lines: string[] = []
    const port = (dir: 'dport' | 'sport') => (d.ports?.length ? ` tcp ${dir} { ${d.ports.join(', ')} }` : '')
    for (const ip of d.to ?? []) lines.push(`add rule inet chaos out ip daddr ${ip}${port('dport')} drop`)
    for (const ip of d.from ?? []) lines.push(`add rule inet chaos in ip saddr ${ip}${port('sport')} drop`)
    if (lines.length === 0) return
    nft(host.ns, lines)
    this.cuts.add(name)
  }

  /** Cuts every packet between hosts `a` and `b`, both ways, in both namespaces. */
  cutBetween(a: string, b: string): void {
    const ia = this.host(a).ip
    const ib = this.host(b).ip
    this.drop(a, { to: [ib], from: [ib] })
    this.drop(b, { to: [ia], from: [ia] })
  }

  /** Removes every cut: the network is whole again. */
  heal(): void {
    for (const name of this.cuts) nft(this.host(name).ns, ['flush chain inet chaos in', 'flush chain inet chaos out'])
    this.cuts.clear()
  }

  /** Removes the namespaces, veths and the bridge. Processes inside must be stopped first. */
  destroy(): void {
    this.destroySync()
  }

  private destroySync(): void {
    if (this.destroyed) return
    this.destroyed = true
    process.off('exit', this.onExit)
    for (const host of this.hosts.values()) quiet('ip', ['netns', 'del', host.ns])
    quiet('ip', ['link', 'del', this.bridge])
  }
}

function run(bin: string, args: string[], input?: string): void {
  try {
    execFileSync(bin, args, { stdio: ['pipe', 'ignore', 'pipe'], input, timeout: 10_000 })
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim()
    throw new Error(`${bin} ${args.join(' ')} failed: ${stderr || (err as Error).message}`, { cause: err })
  }
}

function quiet(bin: string, args: string[]): void {
  try {
    execFileSync(bin, args, { stdio: 'ignore', timeout: 10_000 })
  } catch {
    // already gone
  }
}

function inNs(ns: string, bin: string, args: string[]): void {
  run('ip', ['netns', 'exec', ns, bin, ...args])
}

function nft(ns: string, lines: string[]): void {
  run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], lines.join('\n') + '\n')
}

/** Namespaces and bridges of test processes that no longer run (killed before their cleanup). */
function removeLeftovers(): void {
  let names: string[] = []
  try {
    names = readdirSync(NS_DIR)
  } catch {
    return
  }
  const dead = new Set<string>()
  for (const ns of names) {
    const m = new RegExp(`^${PREFIX}-([0-9a-z]+)-`).exec(ns)
    if (!m || alive(parseInt(m[1]!, 36))) continue
    dead.add(m[1]!)
    quiet('ip', ['netns', 'del', ns])
  }
  for (const tag of dead) quiet('ip', ['link', 'del', `${PREFIX}${tag}`])
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
