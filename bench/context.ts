import type pg from "pg";
import type { StandIn } from "../dev/standin/index";
import type { BenchSettings } from "./settings";
import type { WorkerProcess } from "./worker-process";

/** What every phase of the bench works with. */
export interface BenchContext {
  settings: BenchSettings;
  /** A direct connection to the bench's database, for setup and for reading what was written. */
  client: pg.Client;
  standIn: StandIn;
  worker: WorkerProcess;
  log: (line: string) => void;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
