import { defineConfig } from "vitest/config";

/**
 * `npm run test:examples`: each example is bundled by wrangler from its own wrangler.toml, exactly as
 * `wrangler deploy` would, and run in workerd (Miniflare) next to session-gate's own bundle, against
 * the Neon stand-in. Both import session-gate from its packed tarball, installed by
 * examples/install-package.ts first.
 */
export default defineConfig({
  test: {
    name: "examples",
    root: new URL("..", import.meta.url).pathname,
    include: ["examples/*/*.test.ts"],
    globalSetup: ["examples/install-package.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
