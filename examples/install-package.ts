import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/*
 * Global set-up of `npm run test:examples`: the examples use session-gate as its users do, from the
 * published package. `npm pack` builds it (prepack: esbuild's bundle and tsc's declarations into
 * lib/) and packs what `files` allows; `npm install` puts that tarball into examples/node_modules,
 * where wrangler resolves `import ... from "session-gate"` before the repo's own source; then the
 * examples are typechecked against the installed declarations. A file missing from the tarball,
 * a declaration that does not compile for a consumer, or an export that is not there fails here.
 */

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const examplesDir = join(projectRoot, "examples");
const run = promisify(execFile);
const quiet = {
  ...process.env,
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

export default async function installPackage(): Promise<void> {
  const packDir = mkdtempSync(join(tmpdir(), "session-gate-pack-"));
  try {
    const packed = await run("npm", ["pack", "--json", "--pack-destination", packDir], {
      cwd: projectRoot,
      env: quiet,
      maxBuffer: 16 * 1024 * 1024,
    });
    // prepack's own output comes first on stdout; npm's JSON report is the last thing printed.
    const report = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf("\n[") + 1)) as [{ filename: string }];
    const tarball = join(packDir, report[0].filename);
    await run("npm", ["install", "--no-save", "--no-package-lock", "--prefer-offline", tarball], {
      cwd: examplesDir,
      env: quiet,
    });
    await run(join(projectRoot, "node_modules/.bin/tsc"), ["-p", join(examplesDir, "tsconfig.json")], {
      cwd: projectRoot,
    }).catch((error: { stdout?: string }) => {
      throw new Error(`the examples do not typecheck against the installed package:\n${error.stdout ?? error}`);
    });
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}
