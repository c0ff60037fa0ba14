#!/bin/sh
# workerd as the bench starts it (bench/worker-process.ts, through Miniflare's MINIFLARE_WORKERD_PATH):
# the Worker's console output goes straight into its log file, as a deployed Worker's goes to
# Cloudflare's log pipeline, instead of through a pipe the bench's own Node process reads and
# copies on the same two cores. stderr and the control pipe stay Miniflare's: it reads startup
# failures there.
exec "${SESSION_GATE_BENCH_WORKERD:?set by bench/worker-process.ts}" "$@" >>"${SESSION_GATE_BENCH_WORKER_LOG:?set by bench/worker-process.ts}"
