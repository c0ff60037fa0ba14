import type { UserConsoleLog } from "vitest";
import type { Reporter } from "vitest/node";
import { STANDIN_SECRET_VARIABLE, TEST_SECRETS, WORKER_PASSWORD_VARIABLE } from "../secrets";

/**
 * Fails the test run when a secret the suite configured (test/secrets.ts, and the stand-in's
 * per-run password, which is the Worker's database password) appears in anything the suite
 * printed or logged: every console line of every test, passed or failed (`silent: "passed-only"`
 * hides them from the terminal, not from here), and everything written to this process's stdout
 * and stderr, which carries workerd's own output. It names the secret and where it was seen,
 * never its value.
 */
export default class NoSecretsReporter implements Reporter {
  private readonly found = new Map<string, string>();
  private secrets: [name: string, value: string][] = [];

  onInit(): void {
    this.secrets = Object.entries(TEST_SECRETS);
    const standIn = process.env[STANDIN_SECRET_VARIABLE];
    if (standIn) this.secrets.push(["the stand-in's password", standIn]);
    const worker = process.env[WORKER_PASSWORD_VARIABLE];
    if (worker) this.secrets.push(["the Worker role's password", worker]);
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        this.check(String(chunk), stream === process.stdout ? "stdout" : "stderr");
        return write(chunk, ...rest);
      }) as typeof stream.write;
    }
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    this.check(log.content, `a console line (${log.type}) of a test`);
  }

  onTestRunEnd(): void {
    if (this.found.size === 0) return;
    for (const [name, where] of this.found) {
      process.stderr.write(`no-secrets: ${name} appeared in ${where}\n`);
    }
    process.exitCode = 1;
  }

  private check(text: string, where: string): void {
    for (const [name, value] of this.secrets) {
      if (!this.found.has(name) && text.includes(value)) this.found.set(name, where);
    }
  }
}
