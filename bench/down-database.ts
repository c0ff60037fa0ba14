/**
 * What each system answers for a valid session when the database cannot answer: status, body,
 * Retry-After and time, in three failures the stand-in can stage (it is restarted on the same port,
 * so the Workers' DATABASE_URLs stay valid), and whether the token then appears in the answer or
 * in the Worker's log. Before each failure every system checks its session once while the database
 * is up (a cache, where there is one, then holds it).
 */
import { readFileSync, statSync } from "node:fs";
import { type BenchContext, bearer } from "./context";
import { round } from "./load";
import type { System, TestSession } from "./systems";
import { freePort } from "./worker-process";

export type DownScenario = "refused" | "unreachable" | "hanging";

export const DOWN_SCENARIOS: Record<DownScenario, string> = {
  refused: "PostgreSQL refuses connections (the endpoint answers 500, as Neon does for an unreachable compute)",
  unreachable: "nothing listens at the endpoint (connection refused)",
  hanging: "the endpoint accepts and never answers",
};

export interface DownAnswer {
  scenario: DownScenario;
  /** 0 when no answer came within the bench's 15 s. */
  status: number;
  /** The first 160 characters, the token replaced by <token>. */
  body: string;
  retryAfter: string | null;
  /** Median over the requests. */
  ms: number;
  bodyHasToken: boolean;
  requests: number;
}

export interface DownResult {
  answers: DownAnswer[];
  /** The session's token appears in the Worker's log (written by the phase's failures). */
  logHasToken: boolean;
}

const clientTimeoutMs = 15_000;

async function ask(system: System, session: TestSession) {
  const started = performance.now();
  try {
    const response = await fetch(`${system.worker.url}${system.validatePath}`, {
      headers: bearer(session.token),
      signal: AbortSignal.timeout(clientTimeoutMs),
    });
    const body = await response.text();
    return {
      status: response.status,
      body,
      retryAfter: response.headers.get("retry-after"),
      ms: performance.now() - started,
    };
  } catch {
    return { status: 0, body: "(no answer)", retryAfter: null, ms: performance.now() - started };
  }
}

export async function measureDownDatabase(ctx: BenchContext, systems: System[]): Promise<Record<string, DownResult>> {
  const sessions = new Map<System, TestSession>();
  for (const system of systems) sessions.set(system, await system.newSession());
  const answers = new Map<System, DownAnswer[]>(systems.map((system) => [system, []]));
  const closedPort = await freePort();
  const logBytesBefore = new Map(systems.map((system) => [system, statSync(system.worker.logFile).size]));

  for (const scenario of Object.keys(DOWN_SCENARIOS) as DownScenario[]) {
    await ctx.standIn.start();
    for (const system of systems) {
      const answer = await ask(system, sessions.get(system) as TestSession);
      if (answer.status !== 200)
        throw new Error(`${system.name}: a valid session answered ${answer.status} before the failure`);
    }
    if (scenario === "refused") {
      await ctx.standIn.start({ databaseUrl: `postgres://postgres@127.0.0.1:${closedPort}/postgres` });
    } else if (scenario === "unreachable") {
      await ctx.standIn.stop();
    } else {
      // Longer than every deadline and the bench's own timeout; a cancelled request runs nothing.
      await ctx.standIn.start({ delayMs: clientTimeoutMs * 4 });
    }
    ctx.log(`  ${scenario}: ${DOWN_SCENARIOS[scenario]}`);
    await Promise.all(
      systems.map(async (system) => {
        const session = sessions.get(system) as TestSession;
        // Not counted: the first request may find a kept-alive connection to the stand-in just closed.
        await ask(system, session);
        const runs = [];
        for (let i = 0; i < ctx.settings.downRequests; i++) runs.push(await ask(system, session));
        const last = runs.at(-1) ?? (await ask(system, session));
        const statuses = new Set(runs.map((run) => run.status));
        if (statuses.size > 1) ctx.log(`  ${system.name}: ${scenario} answered ${[...statuses].join(", ")}`);
        const times = runs.map((run) => run.ms).sort((a, b) => a - b);
        const answer: DownAnswer = {
          scenario,
          status: last.status,
          body: last.body.split(session.token).join("<token>").slice(0, 160),
          retryAfter: last.retryAfter,
          ms: round(times[Math.floor((times.length - 1) / 2)] ?? 0, 1),
          bodyHasToken: runs.some((run) => run.body.includes(session.token)),
          requests: runs.length,
        };
        answers.get(system)?.push(answer);
        ctx.log(`  ${system.name}: ${answer.status} in ${answer.ms} ms: ${answer.body.slice(0, 80)}`);
      }),
    );
  }
  await ctx.standIn.start();
  // Every system logs something in these failures (an error, or its check line); a log that did not
  // grow is one the Worker's output no longer reaches, and "no token in it" would mean nothing.
  for (const system of systems) {
    if (statSync(system.worker.logFile).size === logBytesBefore.get(system))
      throw new Error(`${system.name}: nothing reached ${system.worker.logFile} while the database was down`);
  }
  return Object.fromEntries(
    systems.map((system) => [
      system.name,
      {
        answers: answers.get(system) ?? [],
        logHasToken: readFileSync(system.worker.logFile, "utf8").includes((sessions.get(system) as TestSession).token),
      },
    ]),
  );
}
