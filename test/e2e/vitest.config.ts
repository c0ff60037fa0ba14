import { defineConfig } from "vitest/config";

/**
 * `npm run test:e2e`: real nginx and Caddy, running the configurations published in docs/proxies/,
 * in front of a real origin, asking the Worker under `wrangler dev` (see stack.ts), and a headless
 * Chromium through them (browser.test.ts). Needs the `nginx`, `caddy` and `chromium` binaries
 * (Debian's packages) and the fixed ports 8080, 8081, 8787 and 9000 free.
 */
export default defineConfig({
  test: {
    name: "e2e",
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    // One stack on fixed ports: test files must not run side by side.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
