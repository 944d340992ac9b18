/** One JSON log line per event (pino), tagged with the node id. */
import { pino, type Logger } from 'pino'

export function createLogger(level: string, nodeId: string): Logger {
  return pino({ level, base: { node: nodeId }, timestamp: pino.stdTimeFunctions.epochTime })
}

export type { Logger }
