/**
 * Where the next connection attempt goes: a fixed WebSocket URL, or a node picked by
 * `GET /v1/discover` on one of several HTTP base URLs, asked anew before every attempt so that a
 * reconnect after a node failure lands on a live node.
 */
import { ApiError } from './errors.js'
import { HttpApi } from './http.js'

/**
 * How to find a node: one HTTP base URL or several (`http://host:port`; tried in turn, moving
 * on after a failure), or a function returning a WebSocket URL.
 */
export type DiscoverOption = string | string[] | (() => Promise<string>)

export interface EndpointOptions {
  url?: string
  discover?: DiscoverOption
  region?: string
  fetch?: typeof fetch
  timeoutMs: number
}

export class Endpoint {
  private readonly bases: string[]
  private next = 0

  constructor(private readonly options: EndpointOptions) {
    const { url, discover } = options
    if ((url === undefined) === (discover === undefined)) throw new TypeError('give exactly one of url and discover')
    this.bases = typeof discover === 'string' ? [discover] : Array.isArray(discover) ? [...discover] : []
    if (Array.isArray(discover) && discover.length === 0) throw new TypeError('discover needs at least one base URL')
  }

  /** The WebSocket URL (without credentials) for the next attempt. Throws when no node answers. */
  async resolve(): Promise<string> {
    const { url, discover } = this.options
    if (url !== undefined) return url
    if (typeof discover === 'function') return await discover()
    let lastError: unknown
    for (let i = 0; i < this.bases.length; i++) {
      const index = (this.next + i) % this.bases.length
      try {
        const api = this.api(this.bases[index] as string)
        const found = await api.discover(this.options.region)
        this.next = index
        return found.url
      } catch (err) {
        lastError = err
      }
    }
    // Start the next round at the base after the one that failed first.
    this.next = (this.next + 1) % this.bases.length
    throw lastError
  }

  /** HTTP base URLs that can tell whether a token is valid: the discover bases, or the socket's own host. */
  httpBases(wsUrl: string | undefined): string[] {
    if (this.bases.length > 0) return [this.bases[this.next] as string]
    return wsUrl === undefined ? [] : [httpBaseOf(wsUrl)]
  }

  /**
   * Whether the server rejects `token` (HTTP 401 from `GET /v1/me`). Used after a socket fails to
   * open, because browsers hide the HTTP status of a refused upgrade.
   */
  async rejectsToken(wsUrl: string | undefined, token: string): Promise<boolean> {
    for (const base of this.httpBases(wsUrl)) {
      try {
        const api = this.api(base)
        api.token = token
        await api.me()
        return false
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return true
      }
    }
    return false
  }

  private api(baseUrl: string): HttpApi {
    return new HttpApi({ baseUrl, fetch: this.options.fetch, timeoutMs: this.options.timeoutMs })
  }
}

/** `ws://h:p/ws` plus the credentials the gateway reads from the query string. */
export function socketUrl(wsUrl: string, token: string, deviceId: string | undefined): string {
  const url = new URL(wsUrl)
  url.searchParams.set('token', token)
  if (deviceId !== undefined) url.searchParams.set('deviceId', deviceId)
  return url.toString()
}

/** `ws://host:port/ws` -> `http://host:port`. */
export function httpBaseOf(wsUrl: string): string {
  const url = new URL(wsUrl)
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:'
  return url.origin
}
