/**
 * The peer link: the stream's frames (grpc-stream.ts) on a TCP connection of their own, each
 * prefixed with its length, instead of on an HTTP/2 stream. Same frames, same signatures (every
 * frame the caller sends is signed over its bytes with a fresh nonce, rpc-auth.ts, for
 * LINK_PATH), same answers; only the carriage differs. A request costs the two nodes about a
 * fifth of the CPU it costs on the gRPC stream (docs/PERFORMANCE.md, "What one request between
 * nodes costs" and "Peer links").
 *
 * A node with links on (`--peer-links true`; off by default, docs/PERFORMANCE.md says why)
 * listens on a second port beside its gRPC one and tells it to peers that ask (`LINK_INFO`, over
 * the stream); a peer without links, or of an older release, answers without a port and is
 * reached on the stream as before. With certificates the link is mutual TLS with the cluster CA,
 * as the gRPC channel is. The answering side stops reading a link whose requests it has not
 * caught up with (grpc-stream.ts, MAX_IN_FLIGHT), as HTTP/2 flow control does for a stream.
 *
 * Framing: a 4-byte big-endian length, then that many bytes of StreamFrame. A frame over the
 * largest message size, a frame that fails verification, or one that does not decode closes the
 * connection. A link with requests past their deadline and nothing heard since they were sent is
 * taken for dead (grpc-stream.ts): a peer cut off keeps a TCP connection open for minutes.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import type { ConnEvents, FrameConn, ServedConn, StreamServer } from './grpc-stream.js'
import { TransportError } from './transport.js'

/** What link frames are signed for: never valid as a gRPC method's signature, nor the other way round. */
export const LINK_PATH = '/chat.node.Link/Frames'
/** The peer request asking a node for its link port (answered by the transport, not the node). */
export const LINK_INFO = 'transport.link'

const HEADER = 4
/**
 * A link not connected within this is given up, and what was sent on it goes on the stream: a
 * firewall that drops packets to the link port would otherwise hold requests until their deadline.
 */
const CONNECT_MS = 1000

export interface LinkTls { ca: Buffer; cert: Buffer; key: Buffer }

/** Splits a byte stream into frames; `onFrame` gets each whole frame, `onError` a frame too large. */
export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0

  constructor(private readonly maxFrameBytes: number, private readonly onFrame: (frame: Buffer) => void, private readonly onError: (why: string) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= HEADER) {
      const head = this.chunks[0]!.length >= HEADER ? this.chunks[0]! : this.merge()
      const length = head.readUInt32BE(0)
      if (length > this.maxFrameBytes) return this.onError(`a frame of ${length} bytes is over the largest (${this.maxFrameBytes})`)
      // Chunks are joined once the whole frame is here, not as each arrives.
      if (this.buffered < HEADER + length) return
      const all = this.chunks.length === 1 ? head : this.merge()
      this.onFrame(all.subarray(HEADER, HEADER + length))
      const rest = all.subarray(HEADER + length)
      this.chunks = rest.length > 0 ? [rest] : []
      this.buffered = rest.length
    }
  }

  private merge(): Buffer {
    const all = Buffer.concat(this.chunks, this.buffered)
    this.chunks = [all]
    return all
  }
}

function writeFrame(socket: net.Socket, frame: Buffer): void {
  const head = Buffer.allocUnsafe(HEADER)
  head.writeUInt32BE(frame.length, 0)
  socket.cork()
  socket.write(head)
  socket.write(frame)
  socket.uncork()
}

/** Serves links: each connection's frames go to `streams` as a stream's would. */
export class LinkServer {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()

  constructor(private readonly streams: StreamServer, private readonly maxFrameBytes: number, private readonly tlsOptions?: LinkTls) {}

  /** Listens on host:port (0 = pick); resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const onSocket = (socket: net.Socket) => this.serve(socket)
    const server = this.tlsOptions
      // `requestCert` and `rejectUnauthorized`: a caller must present a certificate the cluster CA signed.
      ? tls.createServer({ ca: this.tlsOptions.ca, cert: this.tlsOptions.cert, key: this.tlsOptions.key, requestCert: true, rejectUnauthorized: true }, onSocket)
      : net.createServer(onSocket)
    this.server = server
    server.on('error', () => undefined)
    return new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve((server.address() as net.AddressInfo).port)
      })
    })
  }

  /**
   * Stops accepting links. The open ones end by themselves once what they were asked is answered
   * (the caller drains the streams); `force` cuts them at once.
   */
  close(force = false): void {
    this.server?.close()
    if (!force) return
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    // The socket's bytes as the events a served connection has: 'data' (a frame), 'end', 'gone'.
    const events = new EventEmitter()
    const reader = new FrameReader(this.maxFrameBytes, (f) => events.emit('data', f), () => socket.destroy())
    // One read's requests per turn of the event loop: the rest wait in the socket (and, past its
    // buffers, in the peer's), as HTTP/2 flow control holds a stream's, while timers, sockets and
    // the other links get their turn. Read at once, a peer's backlog ran as one long turn (the
    // overload run's event-loop lag, max: 334-1,393 ms against 115-190 on the stream;
    // docs/PERFORMANCE.md, "Peer links").
    let held = false
    let yielding = false
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      if (held || yielding) return
      yielding = true
      socket.pause()
      setImmediate(() => {
        yielding = false
        if (!held) socket.resume()
      })
    })
    socket.on('end', () => events.emit('end'))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      this.sockets.delete(socket)
      events.emit('gone')
    })
    const conn: ServedConn = {
      write: (frame) => { if (!socket.destroyed) writeFrame(socket, frame) },
      end: () => socket.end(),
      refuse: () => socket.destroy(),
      on: (event: string, fn: (frame: Buffer) => void) => void events.on(event, fn),
      hold: (h) => {
        held = h
        if (h) socket.pause()
        else if (!yielding) socket.resume()
      },
    }
    this.streams.serve(conn, LINK_PATH)
  }
}

/**
 * Opens links to `host:port` for a stream client (StreamClientOptions.connect). `told` hears of
 * each link connected, and of each that failed before it was (within CONNECT_MS): nothing sent on
 * that one reached the peer, and its requests fail with an error marked `notDelivered` (the caller
 * may send them another way).
 */
export function linkConnector(
  host: string, port: number, maxFrameBytes: number, tlsOptions: LinkTls | undefined,
  told: { connected(): void; neverConnected(): void },
): { path: string; open(events: ConnEvents): FrameConn } {
  return {
    path: LINK_PATH,
    open(events) {
      const socket = tlsOptions
        // Peers are dialled by address; what proves membership is the CA's signature, not a name.
        ? tls.connect({ host, port, ca: tlsOptions.ca, cert: tlsOptions.cert, key: tlsOptions.key, checkServerIdentity: () => undefined })
        : net.connect({ host, port })
      socket.setNoDelay(true)
      let connected = false
      const giveUp = setTimeout(() => socket.destroy(), CONNECT_MS)
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
        connected = true
        clearTimeout(giveUp)
        told.connected()
      })
      const conn = {
        receivedAt: Date.now(),
        write: (frame: Buffer) => { if (!socket.destroyed) writeFrame(socket, frame) },
        cancel: () => socket.destroy(),
      }
      const reader = new FrameReader(maxFrameBytes, (frame) => {
        conn.receivedAt = Date.now()
        events.answers(frame)
      }, (why) => {
        socket.destroy()
        events.broken(new TransportError('INTERNAL', `${host}:${port} sent ${why}`))
      })
      socket.on('data', (chunk: Buffer) => reader.push(chunk))
      socket.on('error', () => undefined)
      socket.on('close', () => {
        clearTimeout(giveUp)
        if (connected) return events.broken(new TransportError('UNAVAILABLE', `the link to ${host}:${port} closed`))
        events.broken(Object.assign(new TransportError('UNAVAILABLE', `the link to ${host}:${port} could not be opened`), { notDelivered: true }))
        told.neverConnected()
      })
      return conn
    },
  }
}
