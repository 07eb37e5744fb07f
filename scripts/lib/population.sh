# Benchmark populations of browser-tests/population.mjs, made once and reused: sourced by
# bench/identification and bench/fit-calibration, from the repository root.

population_dir="$PWD/target/tmp/prynt-population"
mkdir -p "$population_dir"

# The generator's version: a short digest of the sources that decide a population's bytes (and
# of the locked data packages), part of every cached file's name, so that a file made by an
# older generator (e.g. one without the visits' "ip") is never reused.
population_version=$(cat browser-tests/population.mjs browser-tests/lib/population.mjs \
  browser-tests/lib/corpus.mjs browser-tests/lib/random.mjs browser-tests/package-lock.json |
  sha256sum | cut -c1-10)

# make_population BROWSERS WORKSPACES DAYS SEED FILE: writes FILE unless it is already there
# (the same arguments give the same bytes).
make_population() {
  if [ ! -s "$5" ]; then
    (cd browser-tests && node population.mjs --browsers "$1" --workspaces "$2" --days "$3" \
      --seed "$4" --out "$5.partial") >&2
    mv "$5.partial" "$5"
  fi
}

# population SIZE DAYS SEED: the file of SIZE (NxK: K workspaces of N browsers), made if missing.
population() {
  local file="$population_dir/pop-$1-d$2-s$3-g$population_version.jsonl"
  make_population "${1%x*}" "${1#*x}" "$2" "$3" "$file"
  printf '%s\n' "$file"
}
