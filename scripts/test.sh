#!/usr/bin/env bash
# The test command: set-up, then every check at quick size. Exits non-zero on the first failure.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export CNN_COURSE_SIZE=quick
# Let Python cache compiled modules in __pycache__ (git ignores it), and pytest its assertion-rewritten test and plugin
# modules: where PYTHONDONTWRITEBYTECODE is set, every process of this command (each notebook, each pytest worker) would
# compile them again.
unset PYTHONDONTWRITEBYTECODE
export PYTHONUNBUFFERED=1

snapshot() { find "$@" -type f \( -name '*.py' -o -name '*.ipynb' -o -name '*.toml' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }
unchanged() {  # unchanged "what" command... : run the command and fail if it changed the tracked sources
  local what="$1"; shift
  local before after
  before=$(snapshot cnn_course nbs pyproject.toml)
  "$@" >/dev/null
  after=$(snapshot cnn_course nbs pyproject.toml)
  if [ "$before" != "$after" ]; then
    echo "FAIL: $what: it changed these files:"; diff <(echo "$before") <(echo "$after") | sed -n 's/^> [0-9a-f]*  /    /p'
    exit 1
  fi
  echo "ok: $what"
}

echo "== 1/4 the package is in sync with the notebooks (nbdev-export leaves no diff)"
unchanged "nbdev-export leaves no diff" nbdev-export
echo "== 2/4 the notebooks are clean and in their Jupyter markup (nbdev-clean, then scripts/jupyter_markup.py, leave no diff)"
unchanged "nbdev-clean + scripts/jupyter_markup.py leave no diff" bash -c 'nbdev-clean && "$0" scripts/jupyter_markup.py nbs/*.ipynb' "$PYTHON"
# No oversubscription: the torch threads of all notebooks running at once never exceed the cores. Measured on a 2-core
# AVX-512/bf16 CPU (2026-12-05): 2 notebooks at a time with 1 thread each, 72 s; 1 at a time with 2 threads, 110 s.
# Override with CNN_COURSE_TEST_WORKERS / CNN_COURSE_TEST_THREADS.
cores=$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)))')
workers="${CNN_COURSE_TEST_WORKERS:-$cores}"
threads="${CNN_COURSE_TEST_THREADS:-$(( cores / workers > 0 ? cores / workers : 1 ))}"
echo "== 3/4 every notebook executes top to bottom at quick size (nbdev-test: $workers at a time, $threads torch thread(s) each, $cores cores)"
time OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads nbdev-test --n-workers "$workers" --timing
# One pytest run for the pages and the modules: one process per core, a test file's tests kept together on one process
# (their module fixtures build once), one torch thread each, the same no-oversubscription rule as step 3. The files go to
# the processes longest first (tests/conftest.py: LONGEST_FIRST; --no-loadscope-reorder keeps that order instead of
# pytest-xdist's, by number of tests). Measured on a 2-core AMD EPYC (AVX-512/bf16, 2026-12-06): 47-51 s over three runs,
# each alternated with a run of the suite before its last speed-ups (60-66 s), as this machine's speed drifts by up to a third.
echo "== 4/4 pytest tests/: the web pages (nbdev-proc-nbs with no data and no network, then tests/test_pages.py on _proc/) and the modules ($workers processes, $threads torch thread(s) each)"
time OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$PYTHON" -m pytest tests/ -q -n "$workers" --dist loadfile --no-loadscope-reorder
