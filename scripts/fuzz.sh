#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) into build-fuzz/ with clang and runs each one, one at a time, for a
# bounded time on its committed seed corpus. See fuzz/README.md.
#
#   scripts/fuzz.sh [seconds-per-target]        default 30
#
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_OUT (build-fuzz/fuzz-out), FUZZ_TARGETS (space-separated
# subset, e.g. "json_scan sse_parser"), JOBS (build parallelism), FUZZ_SKIP_BUILD=1, FUZZ_TIMEOUT (seconds
# one input may take before it is reported as a timeout; default 25), FUZZ_RSS_MB (2048), FUZZ_KEEP_GOING
# (1, the default: libFuzzer's fork mode, which keeps fuzzing after a finding for the whole time and collects
# every reproducer; 0: plain mode, each target stops at its first finding).
#
# New inputs go to $FUZZ_OUT/corpus/<target>/ (scratch), never into fuzz/corpus/. Crashes, leaks, timeouts,
# out-of-memory inputs and UBSan reports are written to $FUZZ_OUT/crashes/<target>/ with the log in
# $FUZZ_OUT/logs/<target>.log. Prints a summary table; exits 1 when any target found something.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-30}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
OUT=${FUZZ_OUT:-$BUILD_DIR/fuzz-out}
JOBS=${JOBS:-$(nproc)}
TIMEOUT=${FUZZ_TIMEOUT:-25}
RSS_MB=${FUZZ_RSS_MB:-2048}

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [[ "$SECONDS_PER_TARGET" -lt 1 ]]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found; run scripts/install-deps.sh --fuzz" >&2
  exit 2
fi

# Targets, and the maximum input length each is fuzzed with. Lengths bound the time one input may take
# where the code is legitimately linear-or-worse in its input (YAML, regex compilation, whole-stream
# differential decoding); they are well above what the seeds need.
declare -A MAX_LEN=(
  [request_parse]=16384 [json_scan]=16384
  [anthropic_ingress_request]=16384 [anthropic_ingress_response]=16384 [anthropic_ingress_stream]=16384
  [sse_parser]=16384 [event_stream]=16384
  [config_load]=8192 [rule_stage]=4096
)
declare -A DICT=(
  [request_parse]=json [json_scan]=json [anthropic_ingress_request]=json [anthropic_ingress_response]=json
  [anthropic_ingress_stream]=sse [sse_parser]=sse [event_stream]=event_stream
  [config_load]=yaml [rule_stage]=yaml
)
ALL_TARGETS=(request_parse json_scan anthropic_ingress_request anthropic_ingress_response anthropic_ingress_stream
             sse_parser event_stream config_load rule_stage)
for type in openai azure anthropic bedrock gemini mock; do
  for kind in response stream classify; do
    t=${type}_${kind}
    ALL_TARGETS+=("$t")
    MAX_LEN[$t]=16384
    case $kind in
      response) DICT[$t]=json ;;
      stream) DICT[$t]=$([[ $type == bedrock ]] && echo event_stream || echo sse) ;;
      classify) DICT[$t]=classify ;;
    esac
  done
done
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

# ---- build ----
if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DSWITCHYARD_FUZZ=ON -DSWITCHYARD_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  build_targets=()
  for t in "${TARGETS[@]}"; do build_targets+=("fuzz_$t"); done
  echo "fuzz: building ${#build_targets[@]} targets in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${build_targets[@]}"
fi

# ---- run ----
mkdir -p "$OUT/corpus" "$OUT/crashes" "$OUT/logs"
# Reproducible environment: ${VAR} in fuzzed YAML reads it; no credentials reach the targets.
export -n AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN 2>/dev/null || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:symbolize=1}

found=0
rows=()
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: no binary $bin" >&2
    exit 2
  fi
  scratch="$OUT/corpus/$t"
  crashes="$OUT/crashes/$t"
  log="$OUT/logs/$t.log"
  mkdir -p "$scratch" "$crashes"
  args=(-max_total_time="$SECONDS_PER_TARGET" -max_len="${MAX_LEN[$t]:-16384}" -timeout="$TIMEOUT"
        -rss_limit_mb="$RSS_MB" -print_final_stats=1 -artifact_prefix="$crashes/" -close_fd_mask=1)
  if [[ -n "${DICT[$t]:-}" ]]; then args+=(-dict="fuzz/dict/${DICT[$t]}.dict"); fi
  if [[ "${FUZZ_KEEP_GOING:-1}" == 1 ]]; then args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds+=("fuzz/corpus/$t")
  # Regressions run first as seeds too, so a fixed bug stays fixed (and an unfixed one is re-reported).
  [[ -d "fuzz/regressions/$t" ]] && seeds+=("fuzz/regressions/$t")
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  before=$(find "$crashes" -type f | wc -l)
  touch "$log.start"
  set +e
  # The scratch dir comes first: libFuzzer writes new inputs only into the first corpus directory.
  "$bin" "${args[@]}" "$scratch" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  after=$(find "$crashes" -type f | wc -l)
  new=$((after - before))
  execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  eps=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  status_line=$(grep -aE '^#[0-9]+:?[[:space:]].*cov: [0-9]+' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$status_line" | grep -o '[0-9]*' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$status_line" | grep -o '[0-9]*' || true)
  # Fork mode prints no final stats: take them from its last status line ("#N: ... exec/s E ...").
  if [[ -z "$execs" ]]; then execs=$(grep -oE '^#[0-9]+' <<<"$status_line" | tr -d '#' || true); fi
  if [[ -z "$eps" ]]; then eps=$(grep -oE 'exec/s:? [0-9]+' <<<"$status_line" | grep -oE '[0-9]+$' || true); fi
  kind="-"
  if [[ $rc -ne 0 || $new -gt 0 ]]; then
    found=1
    # What was found, most frequent first: each new reproducer (up to 20) is replayed and named by its
    # report (fork mode keeps the children's reports out of the log): sanitizer and location, or the
    # broken invariant, or a timeout / out-of-memory artifact.
    kind=$(find "$crashes" -type f -newer "$log.start" | head -20 | while read -r f; do
             case $(basename "$f") in
               timeout-*) echo "timeout"; continue ;;
               oom-*) echo "out-of-memory"; continue ;;
               slow-unit-*) continue ;;
             esac
             timeout 60 "$bin" -rss_limit_mb="$RSS_MB" "$f" 2>&1 |
               grep -aoE 'SUMMARY: AddressSanitizer: [0-9]+ byte\(s\) leaked|SUMMARY: [A-Za-z]+: [a-z-]+( [^ ]+:[0-9]+)?|==FUZZ INVARIANT== [^ ]+:[0-9]+|uncaught exception' | head -1 |
               sed -E 's|^SUMMARY: ||; s|^==FUZZ INVARIANT== |invariant |; s| /[^ ]*/| |'
           done | sort | uniq -c | sort -rn | awk '{c=$1; $1=""; printf "%s%s (x%d)", (NR>1?"; ":""), substr($0,2), c}' || true)
    kind=${kind:-"exit $rc"}
  fi
  rows+=("$(printf '%-28s %10s %8s %7s %7s %7s  %s' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$new" "$kind")")
done

echo
printf '%-28s %10s %8s %7s %7s %7s  %s\n' target execs exec/s cov ft crashes finding
for r in "${rows[@]}"; do echo "$r"; done
echo
if [[ $found -ne 0 ]]; then
  echo "fuzz: FINDINGS - reproducers in $OUT/crashes/<target>/, logs in $OUT/logs/"
  echo "      reproduce: $BUILD_DIR/fuzz/fuzz_<target> <file>; minimise: add -minimize_crash=1 -max_total_time=30 (fuzz/README.md)"
  exit 1
fi
echo "fuzz: no findings"
