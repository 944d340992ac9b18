/** The node's view of its cluster as operators and clients see it (`/v1/cluster`, `/v1/discover`). */

export interface MemberStatus {
  id: string
  http: string
  grpc: string | null
  region: string | null
  live: boolean
  connections: number
  actors: number
}

export interface Topology {
  ringVersion(): number
  members(): MemberStatus[]
  /** This node's replica of an actor key (cluster only): log marks and a state digest, for operators and checks. */
  replica?(key: string): Promise<object | null>
}
