#!/usr/bin/env bash
# The build command: set-up, then execute every notebook top to bottom (full size unless CNN_COURSE_SIZE
# says otherwise) and save it with its outputs, write README.md, then render the site with nbdev-docs
# (Quarto from the PATH, or installed with pip's quarto-cli wrapper when the network allows).
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
"$PYTHON" scripts/jupyter_markup.py nbs/*.ipynb   # after nbdev-clean: the markup JupyterLab and Colab read (see the script)
nbdev-export
# The one README generator: nbs/index.ipynb as GitHub Markdown, with links to the notebooks (nbdev-readme would
# overwrite it with a worse one: a <style> block GitHub shows as text, links to the site instead of the notebooks).
"$PYTHON" scripts/readme.py

# Quarto renders the site. Without one on the PATH, try the quarto-cli wrapper from PyPI (the `site` extra),
# which needs the network; without either, say so and stop there: the notebooks and README are done.
scripts_dir=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$PATH:$scripts_dir"
has_quarto() { command -v quarto >/dev/null 2>&1 && quarto --version >/dev/null 2>&1; }
if ! has_quarto; then
  echo "== Quarto is not on the PATH: trying pip install -e '.[site]' (Quarto's PyPI wrapper, quarto-cli)"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".[site]" || echo "   (pip could not install quarto-cli)"
fi
if has_quarto; then
  echo "== rendering the site with Quarto $(quarto --version)"
  nbdev-docs
  echo "The site is in _docs/ (open _docs/index.html, or run nbdev-preview)."
else
  cat <<'TXT'
== Quarto is not installed, so the site was not rendered. The notebooks were executed and saved with their
   outputs, and README.md was written from nbs/index.ipynb. To render the site, install Quarto with
   `pip install -e ".[site]"` (needs the internet) or from https://quarto.org/docs/get-started/, then run
   `nbdev-docs` (site in _docs/) or `nbdev-preview`.
TXT
fi
