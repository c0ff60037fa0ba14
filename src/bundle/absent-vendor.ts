// The wrangler.toml [alias] target for the schema libraries that hono-openapi's converters import
// dynamically for other vendors (effect, sury, valibot, zod 3). None is installed; left unresolved,
// esbuild keeps `import("effect")` in the bundle, which Miniflare refuses to load. Never reached:
// every schema here is zod 4's.
export {};
