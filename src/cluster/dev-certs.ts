/**
 * `chat-node dev-certs`: a development CA and one certificate per node, for mutual TLS between
 * nodes (`--tls-ca`, `--tls-cert`, `--tls-key`) and for HTTPS on the client port
 * (`--http-tls-cert`, `--http-tls-key`). ECDSA P-256, made with node's WebCrypto and
 * @peculiar/x509 (no openssl needed). A CA already in the output dir is reused, so nodes can be
 * added later. For production use the organisation's own CA; see docs/SECURITY.md.
 *
 * Files: `ca.pem`, `ca-key.pem`, and `<id>.pem`, `<id>-key.pem` per node; keys are 0600.
 */
import { webcrypto } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
// @peculiar/x509 builds on tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

export class DevCertsError extends Error {
  override readonly name = 'DevCertsError'
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY = 86_400_000

interface Options { out: string; nodes: string[]; hosts: string[]; days: number }

export function parseDevCertsArgs(argv: string[]): Options {
  const o: Options = { out: '', nodes: [], hosts: [], days: 365 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new DevCertsError(`${arg} needs a value`)
      return v
    }
    const list = () => value().split(',').map((s) => s.trim()).filter(Boolean)
    if (arg === '--out') o.out = value()
    else if (arg === '--nodes') o.nodes = list()
    else if (arg === '--hosts') o.hosts = list()
    else if (arg === '--days') o.days = Number(value())
    else throw new DevCertsError(`unknown option ${arg}`)
  }
  if (!o.out) throw new DevCertsError('--out DIR is required')
  if (o.nodes.length === 0) throw new DevCertsError('--nodes ID[,ID...] is required')
  for (const n of o.nodes) if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n)) throw new DevCertsError(`bad node id "${n}"`)
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 3650) throw new DevCertsError('--days must be 1..3650')
  return o
}

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1')
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 })
  chmodSync(path, 0o600)
}

async function loadOrMakeCa(out: string, days: number): Promise<{ cert: x509.X509Certificate; key: CryptoKey; made: boolean }> {
  const certPath = join(out, 'ca.pem')
  const keyPath = join(out, 'ca-key.pem')
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'))
    const key = await webcrypto.subtle.importKey('pkcs8', derOf(readFileSync(keyPath, 'utf8')), ALG, false, ['sign'])
    return { cert, key, made: false }
  }
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as CryptoKeyPair
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: 'CN=chat-cluster development CA', keys, signingAlgorithm: ALG,
    notBefore: new Date(now - DAY), notAfter: new Date(now + days * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  writeFileSync(certPath, cert.toString('pem') + '\n')
  writeSecret(keyPath, pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)))
  return { cert, key: keys.privateKey, made: true }
}

/** Makes (or reuses) the CA and a certificate for each node; returns what it wrote, for the operator. */
export async function runDevCerts(argv: string[]): Promise<string> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto)
  const o = parseDevCertsArgs(argv)
  mkdirSync(o.out, { recursive: true, mode: 0o700 })
  const ca = await loadOrMakeCa(o.out, o.days)
  const lines = [ca.made ? `made CA ${join(o.out, 'ca.pem')}` : `reused CA ${join(o.out, 'ca.pem')}`]
  const names = [...new Set(['localhost', ...o.hosts.filter((h) => isIP(h) === 0)])]
  const ips = [...new Set(['127.0.0.1', '::1', ...o.hosts.filter((h) => isIP(h) !== 0)])]
  for (const id of o.nodes) {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as CryptoKeyPair
    const now = Date.now()
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(), subject: `CN=${id}`, issuer: ca.cert.subject, signingKey: ca.key, publicKey: keys.publicKey,
      signingAlgorithm: ALG, notBefore: new Date(now - DAY), notAfter: new Date(now + o.days * DAY),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        // The same certificate serves as server (peers dial it) and as client (it dials peers).
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: id }, ...names.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    })
    writeFileSync(join(o.out, `${id}.pem`), cert.toString('pem') + '\n')
    writeSecret(join(o.out, `${id}-key.pem`), pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)))
    lines.push(`made ${join(o.out, `${id}.pem`)} and ${join(o.out, `${id}-key.pem`)} (${[id, ...names, ...ips].join(', ')})`)
  }
  lines.push(`run each node with --tls-ca ${join(o.out, 'ca.pem')} --tls-cert ${join(o.out, '<id>.pem')} --tls-key ${join(o.out, '<id>-key.pem')}`)
  return lines.join('\n')
}
