/**
 * The example app on its own: `npx tsx examples/browser-app/src/server.ts` with the variables of
 * README.md. It listens on loopback only: browsers reach it through the proxy, never directly.
 */
import { createServer } from "node:http";
import { createBrowserApp } from "./app";
import { readConfig } from "./config";
import { demoUser } from "./users";

const config = readConfig(process.env);
createServer(createBrowserApp(config, demoUser(process.env))).listen(config.port, "127.0.0.1", () => {
  console.log(`browser-app on http://127.0.0.1:${config.port}; open it through the proxy`);
});
