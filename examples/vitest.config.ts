import { defineConfig } from "vitest/config";

/**
 * `npm run test:examples`: each example is bundled by wrangler from its own wrangler.toml, exactly as
 * `wrangler deploy` would, and run in workerd (Miniflare) next to session-gate's own bundle, against
 * the Neon stand-in.
 */
export default defineConfig({
  test: {
    name: "examples",
    root: new URL("..", import.meta.url).pathname,
    include: ["examples/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
