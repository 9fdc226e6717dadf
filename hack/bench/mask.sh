#!/usr/bin/env bash
# The test-data architect's benchmarks (run from the repository root):
#   1. the transformer cost per value (BenchmarkFake, BenchmarkSeed), the
#      writer's in-order claim of a unique value (BenchmarkClaim), and the
#      client cost per customers row: one worker's transform
#      (BenchmarkTransformRows) and the whole pipeline into a sink that
#      discards, wall and CPU nanoseconds per row (BenchmarkStream);
#   2. 1,000,000 customers (5 personal-data columns) + 2,000,000 orders built
#      in a private MariaDB, masked into a target side by side with an
#      unmasked copy through the same code (identity transformers), copy and
#      mask alternating, REPS times each (default 3). It needs mariadb-server
#      (make test-deps) and takes a few minutes per repetition.
# The machine may be shared: the million-row benchmark reports the fastest run
# of each (the least disturbed), the medians, CPU seconds (client + server),
# which neighbours do not change, and the CPU seconds of the server's busiest
# thread — the connection running LOAD DATA, the load's critical path.
# REHEARSAL_BENCH_CPUPROFILE=<dir> writes a CPU profile of the client for each
# million-row run.
set -euo pipefail
export GOEXPERIMENT=jsonv2
REPS=${REPS:-3}
go test -run '^$' -bench 'BenchmarkFake|BenchmarkSeed' -benchmem ./internal/mask/transform
go test -run '^$' -bench 'BenchmarkClaim' -benchtime 1000000x -count 3 ./internal/mask/transform
go test -short -run '^$' -bench 'BenchmarkTransformRows' -benchmem -benchtime 300000x -count 3 ./steps/mask
go test -short -run '^$' -bench 'BenchmarkStream' -benchtime 5x -count 3 ./steps/mask
REHEARSAL_BENCH_MILLION=$REPS go test -run '^$' -bench 'BenchmarkMillion' -benchtime 1x -timeout 2h -v ./steps/mask 2>&1 |
  grep -E 'Benchmark|best|wall'
