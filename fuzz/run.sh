#!/usr/bin/env bash
# fuzz/run.sh TARGET [SECONDS [EXECS]]: fuzzes one target with afl (cargo-afl), niced, for
# SECONDS (default 600) or until about EXECS executions, whichever comes first, resuming from
# its earlier output if any. Build first (docs/fuzzing.md):
#   cd fuzz && cargo afl build --release
# Output (queue, crashes, hangs, fuzzer_stats): $AFL_OUT/TARGET, default /tmp/double-random-afl;
# input: fuzz/corpus/TARGET, or $AFL_IN (e.g. an earlier run's queue).
# -m caps each execution's address space (an unbounded allocation aborts: a crash), -t its time
# (a hang); inputs over -G bytes are not generated.
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET [SECONDS [EXECS]]}
seconds=${2:-600}
execs=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
bin=${CARGO_TARGET_DIR:-$here/target}/release/fuzz
out=${AFL_OUT:-/tmp/double-random-afl}/$target
dicts=${AFL_DICTS:-$HOME/.local/share/afl.rs/AFLplusplus/dictionaries}
case $target in
  csv_rows | draw_csv) dict=csv.dict ;;
  xlsx_rows) dict=xml.dict ;;
  policy_toml | task_toml) dict=toml.dict ;;
  *) dict=json.dict ;;
esac
extra=()
[[ -f $dicts/$dict ]] && extra=(-x "$dicts/$dict")
[[ -n $execs ]] && extra+=(-E "$execs")
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
  AFL_NO_UI=1 AFL_AUTORESUME=1
mkdir -p "$(dirname "$out")"
exec nice -n 19 cargo afl fuzz -i "${AFL_IN:-$here/corpus/$target}" -o "$out" -m 1024 -t 2000 -G 131072 \
  -V "$seconds" "${extra[@]}" -- "$bin" "$target"
