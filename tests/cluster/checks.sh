# shellcheck shell=bash
# Sourced by the cluster drivers: what is checked once a cluster is quiet
# (the shard owner maps, each stage's merged export against the single-node
# reference, with an explanation of any difference, a change feed's
# subscriber against the export), and the drained state of nodes at the
# moment of a join or a kill.
# shellcheck disable=SC2154,SC2034,SC2004  # globals shared with the driver and lib.sh; associative arrays

# -- checks after quiet -------------------------------------------------------

# check_shards NAME...: every node owns shards, the owned counts sum to
# 1024, every node's owner map is the same and agrees with what each owns.
check_shards() {
  local n j sum=0 owned maps=() desc=
  for n in "$@"; do
    j=$(con "$n" shards) || { fail "$scenario: node $n does not answer shards"; return 0; }
    owned=$(echo "$j" | jqr .owned_here)
    desc+=" $n=$owned"
    sum=$((sum + owned))
    maps+=("$(echo "$j" | pyj 'json.dumps(d["owners"], sort_keys=True)')")
    check "$scenario: node $n owns some shards ($owned)" test "$owned" -gt 0
  done
  check "$scenario: the owned shards sum to $shards_total (${desc# })" test "$sum" -eq "$shards_total"
  local same=1 m
  for m in "${maps[@]}"; do [[ $m == "${maps[0]}" ]] || same=0; done
  check "$scenario: every node has the same owner map ${maps[0]}" test "$same" -eq 1
  local agree=1
  for n in "$@"; do
    owned=$(con "$n" shards | jqr .owned_here || echo "?")
    [[ $(echo "${maps[0]}" | pyj "d.get('$n')") == "$owned" ]] || agree=0
  done
  check "$scenario: each node owns what the owner map gives it" test "$agree" -eq 1
}

# compare_exports DIR NAME...: per stage, the sorted union of the nodes'
# exports equals the reference run's ($ref_dir/STAGE.tsv; default $work/ref).
compare_exports() {
  local dir=$1; shift
  local s n ref=${ref_dir:-$work/ref}
  mkdir -p "$dir"
  for s in "${stages[@]}"; do
    : >"$dir/$s.all"
    for n in "$@"; do
      if ! "$sluice" export --data "${datad[$n]}" --stage "$s" >"$dir/$s.$n" 2>"$dir/$s.$n.err"; then
        fail "$scenario: export of stage $s from node $n failed: $(head -c 300 "$dir/$s.$n.err")"
        continue 2
      fi
      cat "$dir/$s.$n" >>"$dir/$s.all"
    done
    LC_ALL=C sort "$dir/$s.all" >"$dir/$s.tsv"
    local counts=
    for n in "$@"; do counts+=" $n=$(wc -l <"$dir/$s.$n")"; done
    if cmp -s "$ref/$s.tsv" "$dir/$s.tsv"; then
      pass "$scenario: stage $s: the merged export equals the single node's ($(wc -l <"$dir/$s.tsv") keys:$counts)"
    else
      fail "$scenario: stage $s: the merged export differs from the single node's"
      explain_diff "$ref/$s.tsv" "$dir/$s.tsv" "$counts"
      if [[ $s == "${stages[0]}" ]]; then show_logs "$@"; fi
    fi
  done
}

# explain_diff REF GOT COUNTS: line and key counts, duplicates, missing and
# extra keys, and keys whose state differs, with examples.
explain_diff() {
  local ref=$1 got=$2 d=$2.diff
  mkdir -p "$d"
  cut -f1 "$ref" | LC_ALL=C sort -u >"$d/ref_keys"
  cut -f1 "$got" | LC_ALL=C sort >"$d/got_keys_all"
  LC_ALL=C sort -u "$d/got_keys_all" >"$d/got_keys"
  LC_ALL=C uniq -d "$d/got_keys_all" >"$d/dup_keys"
  LC_ALL=C comm -23 "$d/ref_keys" "$d/got_keys" >"$d/missing"
  LC_ALL=C comm -13 "$d/ref_keys" "$d/got_keys" >"$d/extra"
  LC_ALL=C comm -13 "$ref" "$got" | cut -f1 | LC_ALL=C sort -u \
    | LC_ALL=C comm -12 - "$d/ref_keys" >"$d/changed"
  echo "     reference: $(wc -l <"$ref") lines; merged: $(wc -l <"$got") lines (per node:$3)"
  echo "     keys exported by more than one node: $(wc -l <"$d/dup_keys")"
  echo "     keys missing from the cluster: $(wc -l <"$d/missing")"
  echo "     keys only in the cluster: $(wc -l <"$d/extra")"
  echo "     keys present in both whose state differs (or is duplicated differently): $(wc -l <"$d/changed")"
  local k
  for k in $(head -n 3 "$d/dup_keys"); do echo "       duplicated: $k"; done
  for k in $(head -n 3 "$d/missing"); do echo "       missing: $k"; done
  for k in $(head -n 3 "$d/extra"); do echo "       extra: $k"; done
  while IFS= read -r k; do
    echo "       differs: $k"
    awk -F'\t' -v k="$k" '$1 == k' "$ref" | head -n 1 | cut -c1-250 | sed 's/^/         ref: /'
    awk -F'\t' -v k="$k" '$1 == k' "$got" | head -n 2 | cut -c1-250 | sed 's/^/         got: /'
  done < <(head -n 3 "$d/changed")
}

# drained_now NAME: NAME's .local.drained (or "unknown").
drained_now() {
  con "$1" nodes | jqr .local.drained 2>/dev/null || echo unknown
}

# drained_at_once NAME... -- COMMAND...: asks each NAME for its
# .local.drained while COMMAND runs, so the answers describe the moment of
# COMMAND (a join, a kill) without delaying it; sets drained_at[NAME].
declare -A drained_at=()
drained_at_once() {
  local names=() n qpids=()
  while [[ $1 != -- ]]; do names+=("$1"); shift; done
  shift
  for n in "${names[@]}"; do
    drained_now "$n" >"$work/drained.$n" &
    qpids+=($!)
  done
  "$@" || true
  for n in "${qpids[@]}"; do wait "$n" || true; done
  for n in "${names[@]}"; do drained_at[$n]=$(cat "$work/drained.$n"); done
}

# sleep_until MS: sleeps until now_ms reaches MS (not at all if past).
sleep_until() {
  local left=$(($1 - $(now_ms)))
  if [[ $left -gt 0 ]]; then sleep "$(awk -v ms="$left" 'BEGIN {printf "%.3f", ms / 1000}')"; fi
}

# -- change feeds ---------------------------------------------------------------

# follow_feed URL OUT: a subscriber (tests/cli/feed_client.py) appending
# every event of URL to OUT, resuming from its last cursor whenever the
# stream ends; sets feed_pid.
follow_feed() {
  "$py" "$here/../cli/feed_client.py" follow "$1" "$2" &
  feed_pid=$!
  running[$feed_pid]=subscriber
}

# check_feed OUT EXPORT WHAT [PID]: within 30 s the subscriber's log OUT
# shows no reset, no gap, no duplicate, and a view equal to EXPORT (a
# stage's merged export, sorted); then the subscriber (PID, default
# feed_pid) stops. 1 if not.
check_feed() {
  local out=$1 export=$2 what=$3 sub=${4:-$feed_pid} s client=$here/../cli/feed_client.py
  for s in $(seq 1 60); do
    "$py" "$client" check "$out" "$export" >"$out.check" 2>&1 && break
    sleep 0.5
  done
  kill -9 "$sub" 2>/dev/null || true
  reap "$sub"
  if "$py" "$client" check "$out" "$export" >"$out.check" 2>&1; then
    pass "$scenario: $what: no reset, no gap, no duplicate, its view equals the members' export ($(head -n 1 "$out.check"))"
    return 0
  fi
  fail "$scenario: $what: the subscriber's view is not the members' export"
  sed 's/^/     /' "$out.check"
  return 1
}
