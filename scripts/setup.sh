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
