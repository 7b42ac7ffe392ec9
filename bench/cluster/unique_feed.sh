#!/usr/bin/env bash
# unique_feed.sh N NPM_TSV OUT: N npm records with a key each, from the
# sample's npm.tsv: record r of copy c > 0 is renamed NAME~c. Name OUT
# npm.tsv: the feed reader takes the ecosystem from the file name.
set -euo pipefail
awk -F'\t' -v OFS='\t' -v n="$1" '
  NR == 1 { header = $0; next }
  { rec[++m] = $0 }
  END {
    print header
    for (i = 0; i < n; i++) {
      c = int(i / m); r = rec[i % m + 1]
      if (c > 0) { k = split(r, f, "\t"); f[1] = f[1] "~" c; r = f[1]
                   for (j = 2; j <= k; j++) r = r OFS f[j] }
      print r
    }
  }' "$2" >"$3"
