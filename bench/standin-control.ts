/**
 * The stand-in every Worker of the bench talks to, restartable on the same port with the same
 * secret, so that the Workers' DATABASE_URLs stay valid while the bench changes what is behind
 * them: a network delay (`delayMs`), a database that refuses connections, nothing listening.
 */
import { randomBytes } from "node:crypto";
import { type StandIn, startStandIn } from "../dev/standin/index";

export interface StandInControl {
  /** The stand-in running now, undefined while stopped. Its counts start at 0 at every start. */
  readonly current: StandIn | undefined;
  port: number;
  /** Requests the running stand-in has served for `applicationName` (0 while stopped). */
  requests(applicationName: string): number;
  /** Starts a stand-in on the port (any free port the first time), stopping the running one first. */
  start(options?: { delayMs?: number; databaseUrl?: string }): Promise<StandIn>;
  stop(): Promise<void>;
}

export function standInControl(databaseUrl: string, log: (line: string) => void): StandInControl {
  const secret = randomBytes(24).toString("base64url");
  let current: StandIn | undefined;
  let port = 0;
  const control: StandInControl = {
    get current() {
      return current;
    },
    get port() {
      return port;
    },
    requests(applicationName) {
      return current?.stats().byApplicationName[applicationName] ?? 0;
    },
    async start(options = {}) {
      await control.stop();
      current = await startStandIn({
        databaseUrl: options.databaseUrl ?? databaseUrl,
        port,
        secret,
        log,
        delayMs: options.delayMs ?? 0,
      });
      port = current.port;
      return current;
    },
    async stop() {
      const running = current;
      current = undefined;
      await running?.close();
    },
  };
  return control;
}
