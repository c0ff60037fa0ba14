/**
 * Rewrites BENCHMARKS.md and the charts in bench/ from bench/results.json and bench/findings.md
 * without measuring again: for when only the findings, the report's layout or the systems'
 * descriptions (bench/systems.ts) changed.
 * `npx tsx bench/render.ts`
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkTargets, type Results, writeResults } from "./report";
import { describeSystems } from "./systems";

const file = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const results = JSON.parse(readFileSync(file("results.json"), "utf8")) as Results;
if (results.comparison === undefined || results.details.expiry.runs === undefined) {
  console.error("bench: bench/results.json predates the comparison with the peers; run `npm run bench` to replace it");
  process.exit(1);
}
// The systems' descriptions are read from the code, not measured: the current ones.
const descriptions = describeSystems(results.settings);
results.comparison.descriptions = Object.fromEntries(
  results.comparison.systems.map((name) => [name, descriptions[name]]),
);
// So are the targets' verdicts: how a figure is judged may have changed since the run.
results.checks = checkTargets(results, results.details.loadRuns);
writeResults(results, file("results.json"), file("../BENCHMARKS.md"), file("findings.md"));
console.log("bench: rewrote BENCHMARKS.md and the charts from bench/results.json");
