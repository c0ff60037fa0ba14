/** What a run records: bench/results.json's shape, read back by bench/render.ts. */
import type { Bursts } from "./bursts";
import type { DelayPoint, HopPoint } from "./delay";
import type { DownResult } from "./down-database";
import type { RunEnvironment } from "./environment";
import type { Expiry } from "./expiry";
import type { Revocation } from "./revocation";
import type { HotSessionWrites, RoundTrips } from "./round-trips";
import type { ScalePoint } from "./scale";
import type { BenchSettings } from "./settings";
import type { SystemDescription, SystemName } from "./systems";
import type { LoadSummary, MeasuredRun, TargetName, Throughput, ThroughputResult } from "./throughput";

/** session-gate against the peers (and against itself with VALID_CACHE_SECONDS), in the same run. */
export interface Comparison {
  /** The systems measured, in the order they are shown. */
  systems: SystemName[];
  descriptions: Partial<Record<SystemName, SystemDescription>>;
  /** Why the VALID_CACHE_SECONDS phases did not run, when they did not. */
  cacheSkipped?: string;
  load: Partial<Record<TargetName, LoadSummary>>;
  roundTrips: Partial<Record<SystemName, RoundTrips>>;
  hotWrites: Partial<Record<SystemName, HotSessionWrites>>;
  bursts: Partial<Record<SystemName, Bursts>>;
  /** Per system, and session-gate's floor route (one point query: one round trip on this set-up). */
  delay: Partial<Record<TargetName, DelayPoint[]>>;
  /** A bare HTTP hop held as the stand-in holds (no Worker, no database): what this machine adds to a wait. */
  delayHop?: HopPoint[];
  down: Partial<Record<SystemName, DownResult>>;
  revocation: Partial<Record<SystemName, Revocation>>;
}

export interface Check {
  figure: string;
  measured: string;
  target: string;
  met: boolean;
  /** How far inside (or outside) the target the figure is. */
  margin: string;
}

export type ExpiryFigures = Omit<
  Expiry,
  "batches" | "plan" | "floorExpired" | "endedByReason" | "floorEndedByReason" | "runs"
>;

export interface Results {
  roundTrips: RoundTrips;
  hotSessionWrites: number;
  throughput: Throughput;
  /** workerd CPU per check minus per floor request, same round (median). */
  cpuMsOverFloor: number;
  /** For reference: workerd CPU per check, all check runs summed. */
  cpuMsPerValidation: number;
  scale: {
    p50Ms10k: number;
    p50Ms100k: number;
    p50Ms1M: number;
    /** The 1M table's p50 over a 10k table's, median of alternating rounds (before 2026-11-29: of one p50 each). */
    ratio1MTo10k: number;
    /** Its rounds (absent from results of runs before they were alternated). */
    ratios1MTo10k?: number[];
  };
  expiry: ExpiryFigures;
  memory: { rssBeforeMb: number; rssAfterMb: number };
  comparison: Comparison;
  checks: Check[];
  details: {
    hotSession: HotSessionWrites;
    cpuMsPerFloorRequest: number;
    cpuMsOverFloorByRound: number[];
    cpuMsOverFloorParts: ThroughputResult["cpuMsOverFloorParts"];
    loadRuns: MeasuredRun[];
    scalePoints: ScalePoint[];
    expiry: Pick<Expiry, "batches" | "plan" | "floorExpired" | "endedByReason" | "floorEndedByReason" | "runs">;
  };
  settings: BenchSettings;
  environment: RunEnvironment;
  durationSeconds: number;
}
