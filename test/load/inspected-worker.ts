import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { descendants, freePort } from "../../bench/worker-process";
import { connectInspector, type Inspector } from "./inspector";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface InspectedWorker {
  mf: Miniflare;
  base: string;
  inspector: Inspector;
  inspectorPort: number;
  /** The workerd processes this Miniflare started. */
  workerdPids: number[];
}

/**
 * A bundle of wrangler.toml's Worker served by Miniflare as `session-gate` with its inspector open
 * (`npm run test:memory`, `npm run bench:profile`): wrangler.toml's [vars] as a deploy sets them,
 * plus `bindings`. The Worker's own output is drained unread: it is not what is measured.
 */
export async function startInspectedWorker(script: string, bindings: Record<string, string>): Promise<InspectedWorker> {
  const { vars } = unstable_readConfig({ config: path.join(projectRoot, "wrangler.toml") });
  const inspectorPort = await freePort();
  const before = new Set(descendants(process.pid));
  const mf = new Miniflare({
    name: "session-gate",
    host: "127.0.0.1",
    port: await freePort(),
    inspectorPort,
    modules: true,
    scriptPath: script,
    modulesRoot: path.dirname(script),
    compatibilityDate: "2026-08-03",
    compatibilityFlags: ["nodejs_compat"],
    bindings: {
      ...Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, String(value)])),
      ...bindings,
    },
    logRequests: false,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.resume();
      stderr.resume();
    },
  });
  try {
    const base = (await mf.ready).toString().replace(/\/$/, "");
    const workerdPids = descendants(process.pid).filter((pid) => !before.has(pid));
    const inspector = await connectInspector(inspectorPort, "session-gate");
    return { mf, base, inspector, inspectorPort, workerdPids };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}
