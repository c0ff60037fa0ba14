/** Load and latency measurements against the running Worker. */
import http from "node:http";
import { setTimeout as sleepFor } from "node:timers/promises";
import autocannon from "autocannon";

export interface LoadRun {
  path: string;
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses other than 200, plus connection errors and timeouts: must be 0 for a valid run. */
  failures: number;
}

/** Value at quantile `q` (0-1) of `values`, nearest-rank; `values` need not be sorted. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * The median of a few rounds' figures: the middle one, or the mean of the two middle ones when
 * there is an even number. `quantile(values, 0.5)` takes the lower of the two, which leans every
 * "at least" target one way and every "at most" target the other once the bench runs 8 rounds.
 */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** What a run asks for, and for how long: one path of one Worker, with the same headers on every request. */
interface RunTarget {
  url: string;
  path: string;
  headers: Record<string, string>;
  seconds: number;
}

/**
 * A fixed-concurrency load: `connections` keep-alive connections, each sending its next request
 * as soon as the last is answered, for `seconds`. Latencies are taken per response (sub-ms),
 * rather than from autocannon's millisecond histogram.
 */
export async function runLoad(options: RunTarget & { connections: number }): Promise<LoadRun> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.url}${options.path}`,
        headers: options.headers,
        connections: options.connections,
        duration: options.seconds,
      },
      (error: unknown, finished: autocannon.Result) => (error ? reject(error) : resolve(finished)),
    );
    instance.on("response", (_client, _status, _bytes, responseTimeMs) => {
      latencies.push(responseTimeMs);
    });
  });
  const failures = result.non2xx + result.errors + result.timeouts;
  return {
    path: options.path,
    requests: result.requests.total,
    seconds: result.duration,
    rps: round(result.requests.total / result.duration, 1),
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    failures,
  };
}

/** One request, its status and body read, its wall time in ms. */
export async function timedRequest(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  const body = await response.text();
  return { status: response.status, ms: performance.now() - started, body };
}

/**
 * One keep-alive connection, one request at a time for `seconds`, waiting `pauseMs` after each
 * answer before sending the next (none with 0). With a pause, every process on the path (this
 * client, the Worker, the stand-in, PostgreSQL) has been idle that long when a request arrives,
 * as it has when the stand-in holds the request that long: so the two runs differ by where the
 * wait is, not by how long the machine sat idle (see bench/delay.ts).
 */
export async function pacedRun(options: RunTarget & { pauseMs: number }): Promise<LoadRun> {
  const client = pacedClient(options);
  try {
    return pacedSummary(options.path, await client.send(options.seconds, options.pauseMs));
  } finally {
    client.close();
  }
}

/** What a paced client's requests came to: the latencies of the 200s, and everything else as failures. */
export interface PacedSamples {
  latencies: number[];
  failures: number;
  seconds: number;
}

/**
 * `pacedRun`'s keep-alive connection, kept open across several runs of requests (`send`), so that
 * runs of different kinds can alternate on one connection (bench/delay.ts). `pauseFirst` pauses
 * before the first request of a run too, which then follows the last run's answer by `pauseMs`.
 */
export function pacedClient(options: Omit<RunTarget, "seconds">) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(options.path, options.url);
  const once = () =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const started = performance.now();
      const request = http.get(target, { agent, headers: options.headers }, (response) => {
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }));
        response.on("error", reject);
      });
      // A request that never answers is a failure, not a run that never ends.
      request.setTimeout(PACED_REQUEST_TIMEOUT_MS, () => request.destroy(new Error("no answer")));
      request.on("error", reject);
    });
  return {
    async send(seconds: number, pauseMs: number, pauseFirst = false): Promise<PacedSamples> {
      const latencies: number[] = [];
      let failures = 0;
      const started = performance.now();
      while (performance.now() - started < seconds * 1000) {
        if (pauseMs > 0 && (pauseFirst || latencies.length + failures > 0)) await sleepFor(pauseMs);
        const answer = await once().catch(() => ({ status: 0, ms: 0 }));
        if (answer.status === 200) latencies.push(answer.ms);
        else failures += 1;
      }
      return { latencies, failures, seconds: (performance.now() - started) / 1000 };
    },
    close() {
      agent.destroy();
    },
  };
}

export function pacedSummary(path: string, samples: PacedSamples): LoadRun {
  const requests = samples.latencies.length + samples.failures;
  return {
    path,
    requests,
    seconds: round(samples.seconds, 1),
    rps: round(requests / samples.seconds, 1),
    p50Ms: round(quantile(samples.latencies, 0.5)),
    p99Ms: round(quantile(samples.latencies, 0.99)),
    failures: samples.failures,
  };
}

/** How long one request of `pacedRun` may go unanswered; every Worker in the bench answers within its 2 s deadline. */
const PACED_REQUEST_TIMEOUT_MS = 15_000;
