import type pg from "pg";
import type { BenchSettings } from "./settings";
import type { StandInControl } from "./standin-control";
import type { WorkerProcess } from "./worker-process";

/** What every phase of the bench works with. */
export interface BenchContext {
  settings: BenchSettings;
  /** A direct connection to the bench's database, for setup and for reading what was written. */
  client: pg.Client;
  standIn: StandInControl;
  /** session-gate's bench build (bench/worker.ts), cache off. */
  worker: WorkerProcess;
  log: (line: string) => void;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
