# shellcheck shell=bash
# Sourced: finds this machine's Debian indexes (bookworm, -updates and
# -security, main, amd64) in apt's lists, fetching them with apt-get update
# when missing, and writes one decompressed as a Packages file.
#   debian_index_file SUITE OUT   (exit 1 naming what is missing)
debian_lists=/var/lib/apt/lists

debian_index_path() { # SUITE: the list file of SUITE's main amd64 index
  find "$debian_lists" -maxdepth 1 -name "*_dists_$1_main_binary-amd64_Packages*" \
    ! -name '*.diff_Index' 2>/dev/null | head -n 1
}

debian_index_file() { # SUITE OUT
  local f
  f=$(debian_index_path "$1")
  if [[ -z $f ]]; then
    local sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    f=$(debian_index_path "$1")
  fi
  if [[ -z $f ]]; then
    echo "no $1 main amd64 index in $debian_lists (are $1's sources in apt's sources.list?)" >&2
    return 1
  fi
  /usr/lib/apt/apt-helper cat-file "$f" >"$2"
}
