# Set-up shared by the two commands (sourced by scripts/test.sh and scripts/book.sh):
# install the package with its tools, then find the data. Safe to run again: each step is a no-op when done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"

echo "== set-up: pip install -e '.[dev]'"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# fastai's data folder: untar_data looks in $FASTAI_HOME/data/<name> before it downloads anything.
export FASTAI_HOME="${FASTAI_HOME:-$HOME/.fastai}"
if [ -n "${CNN_COURSE_OFFLINE_DATA:-}" ]; then
  # A folder whose install.py lays the data sets out as untar_data would (for machines with no internet).
  echo "== set-up: offline data from $CNN_COURSE_OFFLINE_DATA into $FASTAI_HOME/data"
  "$PYTHON" "$CNN_COURSE_OFFLINE_DATA/install.py" "$FASTAI_HOME"
fi
echo "== set-up: FASTAI_HOME=$FASTAI_HOME"

# A real browser for the explorers' tests (they run the pages' JavaScript): Debian's Chromium and its driver.
chromium_exe() { command -v chromium || command -v chromium-browser || command -v google-chrome; }
has_chromium() { chromium_exe >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }
if ! has_chromium && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== set-up: apt-get install chromium chromium-driver (for the browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
    || echo "   apt-get could not install chromium"
fi
if has_chromium; then
  export CNN_COURSE_REQUIRE_BROWSER=1   # from here on, a browser test that cannot start a browser fails instead of skipping
  echo "== set-up: browser tests use $("$(chromium_exe)" --version 2>/dev/null)"
else
  echo "!! set-up: NO CHROMIUM: the explorers' browser tests will be SKIPPED (not run). Install Debian's chromium and chromium-driver"
  echo "!!         (as root: apt-get install chromium chromium-driver) or another Chromium with its chromedriver on the PATH."
fi
