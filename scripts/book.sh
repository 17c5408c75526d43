#!/usr/bin/env bash
# The build command: set-up, then execute every notebook top to bottom (full size unless CNN_COURSE_SIZE
# says otherwise) and save it with its outputs, then render the site with nbdev-docs if Quarto is installed.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export CNN_COURSE_SIZE="${CNN_COURSE_SIZE:-full}"
export PYTHONUNBUFFERED=1

# Chapters first, the home page last: it shows the results table the chapters write.
notebooks=$(cd nbs && ls [0-9]*.ipynb; echo index.ipynb)
if [ "$#" -gt 0 ]; then notebooks="$*"; fi   # or name some: bash scripts/book.sh 01_mlp_baseline.ipynb
for nb in $notebooks; do
  echo "== executing nbs/$nb at size $CNN_COURSE_SIZE"
  start=$SECONDS
  (cd nbs && jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=-1 "$nb")
  echo "   done in $((SECONDS - start)) s"
done
nbdev-clean
nbdev-export

if command -v quarto >/dev/null 2>&1; then
  echo "== rendering the site and README.md with Quarto"
  nbdev-readme
  nbdev-docs
  echo "The site is in _docs/ (open _docs/index.html, or run nbdev-preview)."
else
  "$PYTHON" scripts/readme.py
  cat <<'TXT'
== Quarto is not installed, so the site was not rendered. The notebooks were executed and saved with their
   outputs, and README.md was written from nbs/index.ipynb. To render the site, install Quarto
   (https://quarto.org/docs/get-started/, or `nbdev-install-quarto` on Linux/macOS with internet), then run
   `nbdev-docs` (site in _docs/) or `nbdev-preview`.
TXT
fi
