/**
 * The bench's charts as SVG, written with string templates (no chart library): horizontal bars
 * for per-system figures, lines for latency against delay, and the expiry job's batches on a
 * time axis. Each function returns a whole standalone SVG document.
 */

export interface Series {
  name: string;
  color: string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
const GRID = "#e5e7eb";
const INK = "#111827";
const MUTED = "#6b7280";

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** An axis from 0 that covers `value` in 4-6 round steps (1, 2, 2.5 or 5 times a power of ten). */
function axis(value: number): { max: number; ticks: number[] } {
  const rough = (value > 0 ? value : 1) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const max = Math.ceil(value / step - 1e-9) * step || step;
  return { max, ticks: Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step) };
}

const label = (value: number) => (Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100));

function svgDocument(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">
<rect width="${width}" height="${height}" fill="#ffffff"/>
<text x="16" y="24" ${FONT} font-size="15" font-weight="600" fill="${INK}">${escapeXml(title)}</text>
${body}
</svg>
`;
}

/** Legend rows that fit `width`: each item a swatch and its name. */
function legendRows<S extends Series>(series: S[], width: number): S[][] {
  const rows: S[][] = [[]];
  let used = 0;
  for (const s of series) {
    const size = 26 + s.name.length * 6.5;
    if (used + size > width && (rows.at(-1)?.length ?? 0) > 0) {
      rows.push([]);
      used = 0;
    }
    rows.at(-1)?.push(s);
    used += size;
  }
  return rows;
}

function legend(rows: (Series & { dashed?: boolean })[][], x: number, y: number): string {
  return rows
    .map((row, r) => {
      let offset = 0;
      return row
        .map((s) => {
          const top = y + r * 16;
          const swatch = s.dashed
            ? `<line x1="${x + offset}" y1="${top - 4}" x2="${x + offset + 12}" y2="${top - 4}" stroke="${s.color}" stroke-width="2" stroke-dasharray="4 2"/>`
            : `<rect x="${x + offset}" y="${top - 9}" width="10" height="10" fill="${s.color}"/>`;
          const item = `${swatch}<text x="${x + offset + 16}" y="${top}" ${FONT} font-size="12" fill="${INK}">${escapeXml(s.name)}</text>`;
          offset += 26 + s.name.length * 6.5;
          return item;
        })
        .join("\n");
    })
    .join("\n");
}

/**
 * Horizontal bars: one group per category, one bar per series in each group, the value written
 * at the bar's end.
 */
export function barChart(options: {
  title: string;
  unit: string;
  categories: string[];
  series: Series[];
  /** values[category][series] */
  values: number[][];
  /** With one series: a color per category instead of the series' own. */
  categoryColors?: string[];
}): string {
  const width = 760;
  const left = 24 + Math.max(...options.categories.map((c) => c.length)) * 6.6;
  const right = 80;
  const barHeight = 18;
  const groupGap = 14;
  const legends = options.series.length > 1 ? legendRows(options.series, width - left - right) : [];
  const top = 42 + legends.length * 16;
  const groupHeight = options.series.length * barHeight + groupGap;
  const plotHeight = options.categories.length * groupHeight;
  const height = top + plotHeight + 40;
  const { max, ticks } = axis(Math.max(...options.values.flat(), 0) * 1.05);
  const x = (value: number) => left + (value / max) * (width - left - right);
  const grid = ticks
    .map(
      (tick) =>
        `<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${top + plotHeight}" stroke="${GRID}"/><text x="${x(tick)}" y="${top + plotHeight + 16}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="middle">${label(tick)}</text>`,
    )
    .join("\n");
  const bars = options.categories
    .map((category, c) => {
      const groupTop = top + c * groupHeight;
      const name = `<text x="${left - 8}" y="${groupTop + (options.series.length * barHeight) / 2 + 4}" ${FONT} font-size="12" fill="${INK}" text-anchor="end">${escapeXml(category)}</text>`;
      const rects = options.series
        .map((s, i) => {
          const value = options.values[c]?.[i] ?? 0;
          const y = groupTop + i * barHeight;
          const color = options.categoryColors?.[c] ?? s.color;
          return `<rect x="${left}" y="${y + 2}" width="${Math.max(0, x(value) - left)}" height="${barHeight - 4}" fill="${color}"/><text x="${x(value) + 4}" y="${y + barHeight - 5}" ${FONT} font-size="11" fill="${INK}">${label(value)}</text>`;
        })
        .join("\n");
      return `${name}\n${rects}`;
    })
    .join("\n");
  const unit = `<text x="${width - right}" y="${height - 8}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="end">${escapeXml(options.unit)}</text>`;
  const key = legend(legends, left, 46);
  return svgDocument(width, height, options.title, `${grid}\n${bars}\n${unit}\n${key}`);
}

/** Lines through (x, y) points, one per series; `dashed` series are drawn dashed (references). */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: (Series & { points: [number, number][]; dashed?: boolean })[];
  /** Where to mark the x axis (default: round steps). */
  xTicks?: number[];
}): string {
  const width = 760;
  const left = 64;
  const right = 24;
  const legends = legendRows(options.series, width - left - right);
  const top = 42 + legends.length * 16;
  const height = top + 330;
  const bottom = 52;
  const xs = options.series.flatMap((s) => s.points.map(([px]) => px));
  const ys = options.series.flatMap((s) => s.points.map(([, py]) => py));
  const xAxis = options.xTicks ? { max: Math.max(...options.xTicks), ticks: options.xTicks } : axis(Math.max(...xs, 1));
  const yAxis = axis(Math.max(...ys, 1) * 1.05);
  const x = (value: number) => left + (value / xAxis.max) * (width - left - right);
  const y = (value: number) => top + (1 - value / yAxis.max) * (height - top - bottom);
  const grid = [
    ...yAxis.ticks.map(
      (tick) =>
        `<line x1="${left}" y1="${y(tick)}" x2="${width - right}" y2="${y(tick)}" stroke="${GRID}"/><text x="${left - 6}" y="${y(tick) + 4}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="end">${label(tick)}</text>`,
    ),
    ...xAxis.ticks.map(
      (tick) =>
        `<text x="${x(tick)}" y="${height - bottom + 16}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="middle">${label(tick)}</text>`,
    ),
  ].join("\n");
  const lines = options.series
    .map((s) => {
      const path = s.points
        .map(([px, py], i) => `${i === 0 ? "M" : "L"}${x(px).toFixed(1)},${y(py).toFixed(1)}`)
        .join(" ");
      const dots = s.dashed
        ? ""
        : s.points
            .map(([px, py]) => `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${s.color}"/>`)
            .join("");
      return `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>${dots}`;
    })
    .join("\n");
  const axes = `<text x="${(left + width - right) / 2}" y="${height - 14}" ${FONT} font-size="12" fill="${INK}" text-anchor="middle">${escapeXml(options.xLabel)}</text>
<text x="16" y="${(top + height - bottom) / 2}" ${FONT} font-size="12" fill="${INK}" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})">${escapeXml(options.yLabel)}</text>`;
  return svgDocument(width, height, options.title, `${grid}\n${lines}\n${axes}\n${legend(legends, left, 46)}`);
}

/**
 * The expiry job's batches on a time axis: each batch a bar from its start, as wide as it took and
 * as tall as it took; a line at the batch limit, and a mark where the one-UPDATE floor finished.
 */
export function batchTimeline(options: {
  title: string;
  batches: { pass: string; startSeconds: number; seconds: number }[];
  limitSeconds: number;
  floorSeconds: number;
  jobSeconds: number;
}): string {
  const width = 760;
  const left = 56;
  const right = 24;
  const passes = [...new Set(options.batches.map((b) => b.pass))];
  const top = 58;
  const height = top + 262;
  const bottom = 48;
  const xAxis = axis(Math.max(options.jobSeconds, options.floorSeconds, 0.001));
  const yAxis = axis(Math.max(options.limitSeconds, ...options.batches.map((b) => b.seconds)) * 1.1);
  const x = (value: number) => left + (value / xAxis.max) * (width - left - right);
  const y = (value: number) => top + (1 - value / yAxis.max) * (height - top - bottom);
  const colors: Record<string, string> = { repair: "#f59e0b", end: "#2563eb", purge: "#9333ea", other: "#9ca3af" };
  const grid = [
    ...yAxis.ticks.map(
      (tick) =>
        `<line x1="${left}" y1="${y(tick)}" x2="${width - right}" y2="${y(tick)}" stroke="${GRID}"/><text x="${left - 6}" y="${y(tick) + 4}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="end">${label(tick)}</text>`,
    ),
    ...xAxis.ticks.map(
      (tick) =>
        `<text x="${x(tick)}" y="${height - bottom + 16}" ${FONT} font-size="11" fill="${MUTED}" text-anchor="middle">${label(tick)}</text>`,
    ),
  ].join("\n");
  const bars = options.batches
    .map(
      (b) =>
        `<rect x="${x(b.startSeconds).toFixed(1)}" y="${y(b.seconds).toFixed(1)}" width="${Math.max(1, x(b.startSeconds + b.seconds) - x(b.startSeconds)).toFixed(1)}" height="${(y(0) - y(b.seconds)).toFixed(1)}" fill="${colors[b.pass] ?? colors.other}" stroke="#ffffff" stroke-width="0.5"/>`,
    )
    .join("\n");
  const limit = `<line x1="${left}" y1="${y(options.limitSeconds)}" x2="${width - right}" y2="${y(options.limitSeconds)}" stroke="#dc2626" stroke-dasharray="6 4"/><text x="${width - right}" y="${y(options.limitSeconds) - 4}" ${FONT} font-size="11" fill="#dc2626" text-anchor="end">batch limit ${label(options.limitSeconds)} s</text>`;
  const floor = `<line x1="${x(options.floorSeconds)}" y1="${top}" x2="${x(options.floorSeconds)}" y2="${y(0)}" stroke="${INK}" stroke-dasharray="2 3"/><text x="${x(options.floorSeconds) + 4}" y="${top + 12}" ${FONT} font-size="11" fill="${INK}">one UPDATE done (${label(options.floorSeconds)} s)</text>`;
  const axes = `<text x="${(left + width - right) / 2}" y="${height - 12}" ${FONT} font-size="12" fill="${INK}" text-anchor="middle">seconds since the job started</text>
<text x="16" y="${(top + height - bottom) / 2}" ${FONT} font-size="12" fill="${INK}" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})">batch seconds</text>`;
  const key = legend([passes.map((pass) => ({ name: `${pass} batch`, color: colors[pass] ?? MUTED }))], left, 46);
  return svgDocument(width, height, options.title, `${grid}\n${bars}\n${limit}\n${floor}\n${axes}\n${key}`);
}
