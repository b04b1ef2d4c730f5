#!/usr/bin/env bash
# Side-by-side throughput of zerosim, Covasim and LASER (issue 5). Creates bench/peers/.venv with the
# pinned peers from PyPI (requirements.txt + constraints.txt) the first time or when those files change,
# makes sure the project's own venv exists, then runs compare_peers.py with any arguments given:
#
#   bench/peers/run.sh                    # N = 1,000,000, 120 days, R0 2.5, 20 seeds
#   bench/peers/run.sh --n 100000         # quicker
#   bench/peers/run.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="$here/.venv"
stamp="$venv/.installed-from"
want="$(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -d' ' -f1)"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "bench/peers: installing Covasim and laser-generic into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" -c "$here/constraints.txt"
    echo "$want" > "$stamp"
fi
if [ ! -x "$repo/.venv/bin/python" ]; then
    make -C "$repo" install
fi
# Starsim (under Covasim) rebuilds matplotlib's font cache on first import unless told not to.
export STARSIM_INSTALL_FONTS="${STARSIM_INSTALL_FONTS:-0}"
exec "$venv/bin/python" "$here/compare_peers.py" \
    --peer-python "$venv/bin/python" --zerosim-python "$repo/.venv/bin/python" "$@"
