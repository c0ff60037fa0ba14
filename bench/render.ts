/**
 * Rewrites BENCHMARKS.md from bench/results.json and bench/findings.md without measuring again:
 * for when only the findings changed. `npx tsx bench/render.ts`
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Results, renderMarkdown } from "./report";

const file = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const results = JSON.parse(readFileSync(file("results.json"), "utf8")) as Results;
writeFileSync(file("../BENCHMARKS.md"), renderMarkdown(results, file("findings.md")));
console.log("bench: rewrote BENCHMARKS.md from bench/results.json");
