"""Checks of the course book's web pages that need no Quarto (CI machines cannot install it).

`nbdev-docs` is `nbdev-proc-nbs` (Python only: it writes the processed pages to `_proc/`) followed by
`quarto render`. These tests run `nbdev-proc-nbs` once, in a copy of the repository, with an empty
`FASTAI_HOME` (no data sets), network sockets blocked and no Quarto, as on a fresh deploy runner; then they
inspect the notebooks in `nbs/` and the processed pages in `_proc/`. They cover every notebook in `nbs/`,
so a new chapter is checked as soon as it is added. The conventions a chapter follows to pass them are listed
in the Contributing section of the home page (nbs/index.ipynb, and so README.md).

Issue 20 (the book reads like a finished book, on the site and in Jupyter) added one check per class of defect:
build-machine paths and warning boxes, unlabelled training tables, tables and animations wider than the text column,
figure text too small, source links and noisy API entries, raw reprs and number formats, chapter endings, anything
loaded from a CDN, drafts, the sidebar, and the notebooks as JupyterLab and Colab show them. Where the rendered look
matters they lay the HTML out in headless Chromium (the `browser` fixture), with a style sheet that stands in for
Quarto's (`_QUARTO_CSS`), at the site's text-column width.
"""
import ast, base64, functools, io, json, os, re, shutil, subprocess, sys
from html import unescape
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
NOTEBOOKS = sorted(p.name for p in NBS.glob('*.ipynb'))
RIGHT = '✓ Right!'   # how `verdict` (cnn_course.core) announces a right answer: the output of a worked solution
PICTURE_MIMES = {'image/png', 'image/jpeg', 'image/svg+xml'}   # the picture outputs Quarto writes into the site
RENDERED_MIMES = PICTURE_MIMES | {'text/html', 'text/markdown', 'text/latex'}

_BLOCK_NETWORK = '''\
"Installed by tests/test_pages.py for nbdev-proc-nbs: no network connection may be opened."
import socket
_LOCAL = {None, '', 'localhost', '127.0.0.1', '::1'}
def _refuse(*args, **kwargs): raise OSError("network disabled by tests/test_pages.py")
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6): _refuse()
    return _connect(self, address)
def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6): _refuse()
    return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL: _refuse()
    return _getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
# and exit without the full garbage collections (about 0.3 s each with torch and fastai loaded): Python's last one, and one
# in each page's IPython shell (nine pages: InteractiveShell.atexit_operations, 2.8 s in all); the objects go to the
# operating system. threading's exit hooks run before any atexit function, so the objects are frozen before the shells' turn
# (a Python without that private hook: atexit, which freezes them only for Python's own last collection).
import atexit, gc, threading
getattr(threading, '_register_atexit', atexit.register)(gc.freeze)
'''


def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _text(x): return ''.join(x) if isinstance(x, list) else x

def _directives(src):
    "The `#| key: value` lines of a code cell, as a dict (a key without a value maps to '')."
    return {m[1]: (m[2] or '').strip() for m in re.finditer(r'^#\|\s*([\w-]+):?(.*)$', src, re.M)}

@functools.lru_cache(maxsize=None)
def _load_cached(path, mtime): return json.loads(Path(path).read_text())

def _load(path):
    "A notebook's JSON, read once per test session (the checks only read it)."
    return _load_cached(str(path), Path(path).stat().st_mtime_ns)

def _code_cells(nb): return [c for c in nb['cells'] if c['cell_type'] == 'code']


@pytest.fixture(scope='module')
def proc(tmp_path_factory):
    "Run `nbdev-proc-nbs` in a copy of the repository with no data, no network and no Quarto; return (result, _proc)."
    tmp = tmp_path_factory.mktemp('pages')
    repo, hooks, home = tmp/'repo', tmp/'hooks', tmp/'fastai_home'
    for d in (repo, hooks, home): d.mkdir()
    skip = shutil.ignore_patterns('_proc', '_docs', '__pycache__', '.ipynb_checkpoints', 'nbdev.yml', 'sidebar.yml')
    for name in ('pyproject.toml', '_quarto.yml', 'README.md', 'nbs', 'cnn_course'):
        src = ROOT/name
        if src.is_dir(): shutil.copytree(src, repo/name, symlinks=True, ignore=skip)
        elif src.exists(): shutil.copy2(src, repo/name)
    (hooks/'sitecustomize.py').write_text(_BLOCK_NETWORK)
    # nbdev offers to download Quarto when there is none: a stand-in on the PATH stops that (it is never run)
    stub = hooks/'quarto'
    stub.write_text('#!/bin/sh\necho "quarto is not available in tests/test_pages.py" >&2\nexit 1\n')
    stub.chmod(0o755)
    exe = Path(sys.executable).parent/'nbdev-proc-nbs'
    # no nbdev workers (the pages one after another, in nbdev-proc-nbs's own process): pytest already runs one process
    # per core, and each nbdev worker would import torch and fastai again
    cmd = [str(exe) if exe.exists() else 'nbdev-proc-nbs', '--n-workers', '0']
    env = dict(os.environ, FASTAI_HOME=str(home), CNN_COURSE_SIZE='quick', PYTHONPATH=os.pathsep.join([str(hooks), str(repo)]),
               PATH=os.pathsep.join([str(hooks), os.environ.get('PATH', '')]), MPLBACKEND='Agg')
    res = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    # nbdev stops at the first page that fails: process the pages it did not write one by one, so that every
    # check still sees every page it can and each failure is reported with its own notebook
    for name in NOTEBOOKS:
        if not (repo/'_proc'/name).exists():
            one = subprocess.run(cmd + ['--file-glob', name], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
            res.stderr += f"\n== nbdev-proc-nbs --file-glob {name}: exit {one.returncode}\n{one.stderr[-3000:]}"
    return res, repo/'_proc'


def _proc_nb(proc, name):
    res, out = proc
    path = out/name
    if not path.exists(): pytest.fail(f"nbdev-proc-nbs did not write _proc/{name}:\n{res.stderr[-3000:]}")
    return _load(path)


# --- the build ------------------------------------------------------------------------------------------
def test_proc_nbs_succeeds_without_data_or_network(proc):
    res, _ = proc
    assert res.returncode == 0, f"nbdev-proc-nbs failed (exit {res.returncode}):\n{res.stderr[-4000:]}"
    assert 'Found cells containing imports and other code' not in res.stderr, res.stderr[-4000:]


def _normalised(outputs):
    "What a reader sees of a cell's outputs: types and their text or picture data, without volatile metadata."
    strip = lambda s: re.sub(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])', '', s)
    res = []
    for o in outputs:
        if o['output_type'] == 'stream': res.append(('stream', o['name'], strip(_text(o['text']))))
        elif o['output_type'] == 'error': res.append(('error', o['ename']))
        else: res.append((o['output_type'], tuple(sorted((k, _text(v) if isinstance(v, (str, list)) else json.dumps(v, sort_keys=True))
                                                         for k, v in o.get('data', {}).items() if k != 'application/vnd.jupyter.widget-view+json'))))
    return res

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_proc_leaves_committed_outputs_unchanged(proc, name):
    "nbdev executes some cells while it prepares the pages: none of them may replace what the notebook shows."
    page = _proc_nb(proc, name)
    committed = {c.get('id'): c for c in _code_cells(_load(NBS/name))}
    changed = []
    for cell in _code_cells(page):
        orig = committed.get(cell.get('id'))
        if orig is None or not _src(cell).strip(): continue
        if _normalised(orig.get('outputs', [])) != _normalised(cell.get('outputs', [])): changed.append(_src(orig)[:200])
    assert not changed, f"{name}: nbdev-proc-nbs replaced the committed outputs of these cells:\n" + '\n---\n'.join(changed)


@pytest.mark.parametrize('name', ['02_kernels_and_strides.ipynb', '03_pooling_and_receptive_fields.ipynb'])
def test_proc_keeps_the_saved_explorers(proc, name):
    "The chapters' saved explorers reach the page as they are (tests/test_explorers.py checks the saved ones in a browser)."
    explorers = lambda nb: [_text(o['data']['text/html']) for c in _code_cells(nb) for o in c.get('outputs', [])
                            if 'data-cnnx=' in _text(o.get('data', {}).get('text/html', ''))]
    saved = explorers(_load(NBS/name))
    assert saved, f"{name} holds no saved explorer output"
    assert explorers(_proc_nb(proc, name)) == saved


# --- what a reader sees ----------------------------------------------------------------------------------
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_no_object_repr_where_a_picture_belongs(proc, name):
    "Every rich output has a form the site shows: not `<IPython.core.display.Image object>` or a lone GIF."
    bad = []
    for cell in _code_cells(_proc_nb(proc, name)):
        if _directives(_src(cell)).get('output') == 'false': continue
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if not data: continue
            plain = _text(data.get('text/plain', '')).strip()
            if RENDERED_MIMES & set(data): continue
            if re.fullmatch(r'<[\w.]+ object(?: at 0x[0-9a-f]+)?>|<Figure size .*>|<[\w.]+\.[A-Z]\w*>', plain) or set(data) - {'text/plain'}:
                bad.append(f"{sorted(data)} {plain[:80]!r} in cell:\n{_src(cell)[:200]}")
    assert not bad, f"{name}: outputs the site cannot show:\n" + '\n---\n'.join(bad)


def _fences(md):
    "The fenced-div lines of a markdown cell: ('open', attributes) or ('close', '')."
    for line in md.splitlines():
        m = re.match(r'^\s*:{3,}\s*(.*?)\s*$', line)
        if m: yield ('open', m[1]) if m[1] else ('close', '')

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_solutions_only_inside_their_disclosure(proc, name):
    "A worked solution's code and output sit inside one collapsed callout titled Solution, and nowhere else."
    page = _proc_nb(proc, name)
    stack, visible, folded, unbalanced = [], [], [], []
    for cell in page['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'markdown':
            for kind, attrs in _fences(src):
                if kind == 'open':
                    solution = 'collapse="true"' in attrs and 'callout' in attrs and bool(
                        re.search(r'^#+\s*Solution\b', src, re.M) or 'title="Solution' in attrs)
                    stack.append(solution)
                elif stack: stack.pop()
                else: unbalanced.append(src[:120])
            continue
        if cell['cell_type'] != 'code': continue
        shows_right = any(RIGHT in _text(o.get('text', '')) or RIGHT in _text(o.get('data', {}).get('text/plain', ''))
                          for o in cell.get('outputs', []))
        if shows_right and re.search(r'\bcheck_\w+\(', src) and not any(stack): visible.append(src[:200])
        if any(stack) and 'code-fold' in _directives(src): folded.append(src[:200])
    assert not visible, f"{name}: a solution's output is visible without opening its Solution callout:\n" + '\n---\n'.join(visible)
    assert not folded, f"{name}: a second (code-fold) disclosure inside a Solution:\n" + '\n---\n'.join(folded)
    assert not stack and not unbalanced, f"{name}: fenced divs do not balance (:::) — open: {len(stack)}, stray closes: {unbalanced}"


def _imports_mixed(src):
    "Whether a code cell contains an import together with other code."
    code = '\n'.join(l for l in src.splitlines() if not re.match(r'\s*[%!]', l))   # IPython magics and shell lines
    try: tree = ast.parse(code)
    except SyntaxError: return False
    has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
    return has_import and not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_imports_in_cells_of_their_own(name):
    "nbdev re-runs every non-exported cell with an import when it builds the site: such a cell holds imports only."
    mixed = []
    for cell in _code_cells(_load(NBS/name)):
        src = _src(cell)
        d = _directives(src)
        if d.keys() & {'export', 'exporti', 'exports'} or d.get('eval') == 'false': continue
        if _imports_mixed(src): mixed.append(src[:200])
    assert not mixed, f"{name}: cells that mix imports with other code:\n" + '\n---\n'.join(mixed)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_every_image_exists(proc, name):
    "Each image a page references exists beside it in _proc/, and each picture output is one Quarto writes to the site."
    _, out = proc
    page, missing = _proc_nb(proc, name), []
    for cell in page['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'markdown':
            refs = re.findall(r'!\[[^\]]*\]\(\s*<?([^)\s>]+)', src) + re.findall(r'<img[^>]*\bsrc=["\']([^"\']+)', src)
            missing += [r for r in refs if not re.match(r'(?:https?:|data:)', r) and not (out/name).parent.joinpath(r).exists()]
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if any(k.startswith('image/') for k in data) and not PICTURE_MIMES & set(data): missing.append(f"a {sorted(data)} output")
    assert not missing, f"{name}: images that will not be on the page: {missing}"


# --- more defects a reader would notice ------------------------------------------------------------------
def _md(name): return [_src(c) for c in _load(NBS/name)['cells'] if c['cell_type'] == 'markdown']

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_diagrams_are_cell_outputs(name):
    "Mermaid shows as raw text in Jupyter and Colab (and on the site after a `---` line): diagrams are drawn by cells."
    assert not [m for m in _md(name) if re.search(r'^\s*```\s*\{?mermaid', m, re.M)], f"{name}: mermaid diagram in markdown"


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_badges_are_inline(name):
    "A paragraph holding only a (linked) image becomes a captioned figure: a badge sits in a line of text."
    alone = []
    for md in _md(name):
        for para in re.split(r'\n\s*\n', md):
            p = para.strip()
            if re.fullmatch(r'(?:\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)|!\[[^\]]*\]\([^)]*\))', p): alone.append(p[:100])
    assert not alone, f"{name}: an image alone in its paragraph (it becomes a figure with a caption): {alone}"


_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_one_documented_name_per_export_cell(name):
    "nbdev puts the API entries of one export cell in reverse order: one public function or class per cell."
    crowded = []
    for cell in _code_cells(_load(NBS/name)):
        src = _src(cell)
        d = _directives(src)
        if not (d.keys() & {'export', 'exports'}) or 'hide' in d or d.get('include') == 'false': continue
        try: tree = ast.parse(src)
        except SyntaxError: continue
        names = [n.name for n in tree.body if isinstance(n, _DEF_TYPES) and not n.name.startswith('_')]
        if len(names) > 1: crowded.append(names)
    assert not crowded, f"{name}: export cells documenting several names (their docs appear in reverse): {crowded}"


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_training_history_shown_once(name):
    "A cell that shows fastprogress's table does not show the returned history DataFrame as well."
    twice = []
    for cell in _code_cells(_load(NBS/name)):
        outs = cell.get('outputs', [])
        progress = any('fastprogress' in _text(o.get('data', {}).get('text/html', '')) for o in outs)
        result = any(o['output_type'] == 'execute_result' and 'train_loss' in _text(o.get('data', {}).get('text/plain', '')) for o in outs)
        if progress and result: twice.append(_src(cell)[:120])
    assert not twice, f"{name}: training history shown twice:\n" + '\n---\n'.join(twice)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_no_page_only_for_the_build(name):
    "A notebook with nothing for a learner to run (only exports) exists for the build: it is a draft, which the site leaves out."
    nb = _load(NBS/name)
    lesson = [c for c in _code_cells(nb) if not (_directives(_src(c)).keys() & {'export', 'exporti', 'exports', 'default_exp', 'hide'})]
    draft = any(c['cell_type'] == 'raw' and re.search(r'^draft:\s*true\s*$', _src(c), re.M) for c in nb['cells'])
    assert lesson or draft, f"{name} has no lesson cells: mark it `draft: true` (a raw cell of YAML front matter) or make it a page"


# === Issue 20: the book reads like a finished book ======================================================
TEXT_COLUMN_PX = 670        # the site's text column at a 1280-px window (Quarto's cosmo theme, with the sidebar and the TOC)
MIN_TEXT_PX = 8             # the smallest text a reader can read, in CSS pixels on the page
TEXT_SIZE_KEY = 'cnn-course:smallest-text-pt'   # what `cnn_course.core.record_text_sizes` writes into a figure's PNG

def _front_matter(nb):
    "The YAML front matter of a notebook (a raw cell of `---` YAML), or {}."
    for c in nb['cells']:
        if c['cell_type'] == 'raw' and _src(c).lstrip().startswith('---'):
            try: return yaml.safe_load(_src(c).strip().strip('-')) or {}
            except yaml.YAMLError: return {}
    return {}

DRAFTS = [n for n in NOTEBOOKS if _front_matter(_load(NBS/n)).get('draft') is True]
PAGES = [n for n in NOTEBOOKS if n not in DRAFTS]
CHAPTERS = [n for n in PAGES if re.match(r'\d\d_', n)]

def _quarto_yml(): return yaml.safe_load((ROOT/'_quarto.yml').read_text())

def _shown_cells(page):
    "The code cells of a processed page whose outputs the site shows."
    return [c for c in _code_cells(page) if _directives(_src(c)).get('output') != 'false' and 'hide' not in _directives(_src(c))]

def _texts(o):
    "Every text a reader may see in one output: stream text, each text-like representation, an error's traceback."
    if o['output_type'] == 'stream': return [_text(o.get('text', ''))]
    if o['output_type'] == 'error': return ['\n'.join(o.get('traceback', [])), o.get('evalue', '')]
    return [_text(v) for k, v in o.get('data', {}).items() if k.startswith('text/') and isinstance(v, (str, list))]

def _where(cell): return _src(cell).strip().split('\n')[-1][:90]

def _html_tables(html):
    "(header rows, body rows, each body row's header cells, the table's HTML) of each <table> in an HTML string; cell texts without tags."
    res = []
    for t in re.findall(r'<table\b.*?</table>', html, re.S):
        clean = lambda x: unescape(re.sub(r'<[^>]+>', '', x)).strip()
        head = re.search(r'<thead>(.*?)</thead>', t, re.S)
        headers = [[clean(c) for c in re.findall(r'<th\b[^>]*>(.*?)</th>', r, re.S)] for r in re.findall(r'<tr\b.*?</tr>', head[1], re.S)] if head else []
        body = re.search(r'<tbody>(.*?)</tbody>', t, re.S)
        rows, rheads = [], []
        for r in re.findall(r'<tr\b.*?</tr>', body[1] if body else t, re.S):
            rheads.append([clean(c) for c in re.findall(r'<th\b[^>]*>(.*?)</th>', r, re.S)])
            rows.append([clean(c) for c in re.findall(r'<td\b[^>]*>(.*?)</td>', r, re.S)])
        res.append((headers, rows, rheads, t))
    return res


# --- build machine and warnings --------------------------------------------------------------------------
_MACHINE = re.compile(r'/root/|/home/[\w.-]+/|/Users/[\w.-]+/|[A-Z]:\\Users\\|site-packages|dist-packages|\.pyenv/|\.virtualenvs/')

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_no_build_machine_paths(proc, name):
    "No output shows the build machine's home or Python folders (`tidy_path` writes the home folder as `~`)."
    home = str(Path.home())
    bad = [f"{m[0]!r} in: {t[max(0, m.start() - 60):m.end() + 40]!r} (cell ending {_where(c)!r})"
           for c in _code_cells(_proc_nb(proc, name)) for o in c.get('outputs', []) for t in _texts(o)
           for m in [_MACHINE.search(t) or (re.search(re.escape(home) + r'\b', t) if home not in ('/', '') else None)] if m]
    assert not bad, f"{name}: outputs show the build machine's paths:\n" + '\n'.join(bad[:10])


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_no_warning_boxes(proc, name):
    "No output on the site is a warning box: an expected warning is handled where it arises (filtered, with a comment saying why)."
    bad = []
    for c in _shown_cells(_proc_nb(proc, name)):
        if _directives(_src(c)).get('warning') == 'false': continue
        for o in c.get('outputs', []):
            if o['output_type'] == 'stream' and o['name'] == 'stderr' and _text(o['text']).strip():
                bad.append(f"stderr {_text(o['text']).strip()[:160]!r} (cell ending {_where(c)!r})")
            elif o['output_type'] == 'error': bad.append(f"error {o.get('ename')}: {o.get('evalue', '')[:100]} (cell ending {_where(c)!r})")
    assert not bad, f"{name}: outputs the site shows as warning or error boxes:\n" + '\n'.join(bad)


# --- training tables ------------------------------------------------------------------------------------
def _progress_tables(cell):
    "Indexes (in the cell's outputs) of fastprogress's finished training tables."
    return [k for k, o in enumerate(cell.get('outputs', []))
            if 'fastprogress' in (h := _text(o.get('data', {}).get('text/html', ''))) and '<table' in h and 'epoch' in h]

_TIME = re.compile(r'^\d+:\d\d(?::\d\d)?$')

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_training_tables_say_which_run(proc, name):
    "Each fastprogress table says which run it is (a printed title line just before it, where a cell shows several), and each column holds what its header says."
    unlabelled, misplaced = [], []
    for c in _code_cells(_proc_nb(proc, name)):
        outs, tables = c.get('outputs', []), _progress_tables(c)
        if len(tables) > 1:
            for k in tables:
                prev = outs[k - 1] if k else None
                if not (prev and prev['output_type'] == 'stream' and prev['name'] == 'stdout' and _text(prev['text']).strip()):
                    unlabelled.append(f"table {tables.index(k) + 1} of {len(tables)} in the cell ending {_where(c)!r}")
        for k in tables:
            for headers, rows, _, _ in _html_tables(_text(outs[k]['data']['text/html'])):
                head = headers[-1] if headers else []
                for r in rows:
                    cells = dict(zip(head, r + [''] * (len(head) - len(r))))
                    wrong = [h for h, v in cells.items() if (h == 'time') != bool(_TIME.match(v)) or not v]
                    if wrong: misplaced.append(f"row {r} under {head}: column(s) {wrong} (cell ending {_where(c)!r})"); break
    assert not unlabelled, f"{name}: training tables that do not say which run they belong to (print a title line before each run):\n" + '\n'.join(unlabelled)
    assert not misplaced, f"{name}: training tables whose columns do not hold what their headers say (a run without validation shows its time under valid_loss: show no per-epoch table for it, or validate):\n" + '\n'.join(misplaced)


# --- what fits the text column --------------------------------------------------------------------------
_QUARTO_CSS = f'''
  body {{ margin: 0; font-family: "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 17px; line-height: 1.5; }}
  .column {{ width: {TEXT_COLUMN_PX}px; overflow-x: auto; margin-bottom: 40px; }}
  code {{ font-family: "Liberation Mono", "Courier New", monospace; font-size: 0.875em; }}
  table {{ border-collapse: collapse; overflow-wrap: normal; word-break: normal; }}
  .md table {{ width: 100%; }}
  th, td {{ padding: 0.5rem; text-align: left; vertical-align: top; }}
  table.small {{ font-size: 0.875em; }}
  table.small th, table.small td {{ padding: 0.25rem; }}
'''
_BADGE_WIDTH = 117   # the Colab badge's width in pixels (https://colab.research.google.com/assets/colab-badge.svg)

def _md_tables(md):
    "Each pipe table of a markdown cell as HTML laid out as pandoc lays it out: when a line is longer than 72 characters, columns get widths in proportion to the dashes under the header."
    import mistune
    res, lines = [], md.split('\n')
    k = 0
    while k < len(lines):
        if k + 1 < len(lines) and lines[k].lstrip().startswith('|') and re.match(r'^\s*\|?\s*:?-{2,}', lines[k + 1]):
            j = k
            while j < len(lines) and lines[j].lstrip().startswith('|'): j += 1
            block = lines[k:j]
            html = mistune.create_markdown(plugins=['table'])('\n'.join(block))
            html = re.sub(r'<img ([^>]*colab-badge[^>]*)>', rf'<img \1 width="{_BADGE_WIDTH}" height="20">', html)
            if any(len(l) > 72 for l in block):
                dashes = [len(d.strip().strip(':')) for d in block[1].strip().strip('|').split('|')]
                cols = ''.join(f'<col style="width: {100 * d / sum(dashes):.1f}%">' for d in dashes)
                html = html.replace('<table>', f'<table style="table-layout: fixed"><colgroup>{cols}</colgroup>', 1)
            res.append(html)
            k = j
        else: k += 1
    return res

def _fragments(page):
    "(label, html, kind) of every table a page shows: cell outputs and markdown pipe tables."
    res, shown = [], {id(c) for c in _shown_cells(page)}
    for c in page['cells']:
        if c['cell_type'] == 'markdown':
            res += [(f"markdown table under {_src(c).strip()[:60]!r}", h, 'md') for h in _md_tables(_src(c))]
        elif id(c) in shown:
            for o in c.get('outputs', []):
                h = _text(o.get('data', {}).get('text/html', ''))
                if '<table' in h and 'class="animation"' not in h:
                    res.append((f"table output of the cell ending {_where(c)!r}", h, 'out'))
    return res

@pytest.fixture(scope='module')
def layout(proc, browser, tmp_path_factory):
    "Lay every page's tables out in Chromium, each in a text column as wide as the site's: name -> [problems]."
    frags = {name: _fragments(_proc_nb(proc, name)) for name in PAGES}
    body = []
    for name, fs in frags.items():
        for k, (label, html, kind) in enumerate(fs):
            if kind == 'out': html = re.sub(r'<table\b', '<table class="table table-sm small"', html)
            body.append(f'<div class="column {kind}" data-page="{name}" data-k="{k}">{html}</div>')
    page = tmp_path_factory.mktemp('layout')/'tables.html'
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"><style>{_QUARTO_CSS}</style></head><body>{"".join(body)}</body></html>')
    browser.get(page.as_uri())
    found = browser.execute_script('''
      return Array.from(document.querySelectorAll('div.column')).map(d => {
        const cells = Array.from(d.querySelectorAll('th, td')).filter(c => c.scrollWidth > c.clientWidth + 1);
        return [d.dataset.page, +d.dataset.k, d.scrollWidth, cells.map(c => c.textContent.trim().slice(0, 40))];
      });''')
    res = {name: [] for name in PAGES}
    for name, k, width, cut in found:
        label = frags[name][k][0]
        if width > TEXT_COLUMN_PX + 1: res[name].append(f"{label}: {width} px wide in a {TEXT_COLUMN_PX}-px column")
        elif cut: res[name].append(f"{label}: text wider than its column in cells {cut[:4]}")
    return res

@pytest.mark.parametrize('name', PAGES)
def test_tables_fit_the_text_column(layout, name):
    "Every table (a DataFrame, a training table, a markdown table) fits the text column at a 1280-px window, no word cut by its column."
    assert not layout[name], f"{name}: tables wider than the page:\n" + '\n'.join(layout[name])


def _png(b64):
    "A base64 PNG as a PIL image (its `text` chunks and `info['dpi']` included)."
    from PIL import Image
    return Image.open(io.BytesIO(base64.b64decode(b64)))

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_animations_fit_the_text_column(proc, name):
    "An animation's frames (HTML, which the site does not scale down) are no wider than the text column."
    bad = []
    for c in _shown_cells(_proc_nb(proc, name)):
        for o in c.get('outputs', []):
            h = _text(o.get('data', {}).get('text/html', ''))
            for b64 in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=\\\s]+)', h)[:1]:   # a JavaScript string, continued with backslashes
                w = _png(re.sub(r'[\\\s]', '', b64)).size[0]
                if w > TEXT_COLUMN_PX: bad.append(f"{w}-px frames in the cell ending {_where(c)!r}")
    assert not bad, f"{name}: animations wider than the {TEXT_COLUMN_PX}-px text column:\n" + '\n'.join(bad)


# --- figures --------------------------------------------------------------------------------------------
def _text_px(png, css_width=None):
    "How tall a figure's smallest text is on the page, in CSS pixels, or None where the PNG does not say."
    pt = png.text.get(TEXT_SIZE_KEY) if hasattr(png, 'text') else None
    if pt is None: return None
    dpi = png.info.get('dpi', (72, 72))[0]
    width = css_width or png.size[0]
    return float(pt) * dpi/72 * (width/png.size[0]) * min(1, TEXT_COLUMN_PX/width)

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_figure_text_is_legible(proc, name):
    "Every matplotlib figure records its smallest text (cnn_course.core.record_text_sizes) and that text is at least 8 px tall at the site's width."
    small, unknown = [], []
    for c in _shown_cells(_proc_nb(proc, name)):
        for o in c.get('outputs', []):
            b64 = _text(o.get('data', {}).get('image/png', ''))
            if not b64: continue
            png = _png(b64.strip())
            css = (o.get('metadata', {}).get('image/png') or {}).get('width')
            px = _text_px(png, css)
            if px is None:
                if 'matplotlib' in png.text.get('Software', '').lower(): unknown.append(f"{png.size[0]}-px figure in the cell ending {_where(c)!r}")
            elif px < MIN_TEXT_PX:
                small.append(f"{px:.1f} px ({png.text[TEXT_SIZE_KEY]} pt in a {png.size[0]}-px, {png.info.get('dpi', (72,))[0]:.0f}-dpi figure) in the cell ending {_where(c)!r}")
    assert not small, f"{name}: figures whose smallest text is under {MIN_TEXT_PX} px at the site's width (fewer panels per row, a narrower figsize or larger fonts):\n" + '\n'.join(small)
    assert not unknown, f"{name}: figures that do not record their text size (run the notebook with cnn_course.core imported, so record_text_sizes is on):\n" + '\n'.join(unknown)


# --- API entries ----------------------------------------------------------------------------------------
def _api_entries(page):
    "(name, markdown) of each show_doc output of a page."
    res = []
    for c in _code_cells(page):
        for o in c.get('outputs', []):
            md = _text(o.get('data', {}).get('text/markdown', ''))
            m = re.search(r'^#{2,4} (\S+)\s*$', md, re.M)
            if md.lstrip().startswith('---') and m and '```python' in md: res.append((m[1], md))
    return res

@pytest.mark.parametrize('name', PAGES)
def test_api_entries_link_to_their_source_line(proc, name):
    "Every API entry links to the line of cnn_course/*.py that defines it (never `#LNone`), as HTML that Jupyter shows too."
    _, out = proc
    bad = []
    for entry, md in _api_entries(_proc_nb(proc, name)):
        links = re.findall(r'href="https://github\.com/[^"]+/blob/[^/"]+/(cnn_course/[\w/]+\.py)#L(\w+)"', md)
        if '#LNone' in md or not links: bad.append(f"{entry}: {'#LNone' if '#LNone' in md else 'no source link'}"); continue
        py, line = links[0]
        text = (out.parent/py).read_text().splitlines()[int(line) - 1] if line.isdigit() else ''
        if not re.match(rf'\s*(?:async\s+)?(?:def|class)\s+{re.escape(entry.split(".")[-1])}\b', text): bad.append(f"{entry}: {py} line {line} is {text!r}")
    assert not bad, f"{name}: API entries without a working source link:\n" + '\n'.join(bad)


@pytest.mark.parametrize('name', PAGES)
def test_api_entries_show_what_a_reader_passes(proc, name):
    "An API entry's signature shows the arguments a reader passes, typed as a reader would write them: no `NoneType` (an unannotated `x=None`, or arguments inherited from fastai's Callback)."
    first = lambda md: re.search(r'[^\n(]*NoneType[^\n,]*', md)[0].strip()[:80]
    bad = [f"{entry}: {md.count('NoneType')} × NoneType, e.g. {first(md)!r}" for entry, md in _api_entries(_proc_nb(proc, name)) if 'NoneType' in md]
    assert not bad, f"{name}: noisy API entries (annotate `x:int|None=None`; give a Callback an `__init__` with its own arguments):\n" + '\n'.join(bad)


# --- numbers as a reader writes them --------------------------------------------------------------------
_REPR = re.compile(r'\bnp\.(?:float|int|uint|bool|str)\w*\(|\bnumpy\.(?:float|int)\w*\(|^dtype: \w+|^Name: .*, dtype: \w+', re.M)
_WHOLE = re.compile(r'^-?[\d,]+\.0+$')
_TIMED = re.compile(r'\b(?:hours|minutes|min|seconds|s|ms|time)\b', re.I)   # a measured time keeps its decimal even when it is whole: 14.0 min

def _number_problems(o):
    "What in one output is not written as a reader writes numbers."
    res = []
    data = o.get('data', {})
    html = _text(data.get('text/html', ''))
    for t in ([_text(o.get('text', ''))] if o['output_type'] == 'stream' else [_text(data.get('text/plain', ''))] if not html else []):
        if m := _REPR.search(t): res.append(f"raw repr {m[0]!r}")
        if not html and re.search(r'(?<![\w.])(?:NaN|<NA>|nan)(?![\w.])', t) and re.search(r'\n.*\s{2,}', t): res.append("NaN/<NA> in a printed table")
    for headers, rows, rheads, table in _html_tables(html):
        if 'fastprogress' in table: continue
        flat = [v for r in rows for v in r]
        if bad := sorted({v for v in flat if v in ('NaN', 'nan', '<NA>', 'None', 'NaT')}): res.append(f"table cells {bad}")
        cols = list(zip(*[r for r in rows if len(r) == len(rows[0])])) if rows else []
        head = headers[0][-len(cols):] if headers and cols else [''] * len(cols)
        for h, col in zip(head, cols):
            vals = [v for v in col if v]
            if len(vals) >= 2 and all(_WHOLE.match(v) for v in vals) and not _TIMED.search(h): res.append(f"whole numbers with decimals in column {h!r}: {vals[:3]}")
        idx = [r[0] for r in rheads if len(r) == 1]
        unnamed = not headers or len(headers) == 1
        if idx and len(idx) == len(rows) and unnamed and all(v.isdigit() for v in idx) and [int(v) for v in idx] == list(range(int(idx[0]), int(idx[0]) + len(idx))):
            res.append(f"a leftover index column {idx[:3]}...")
    return res

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_numbers_read_as_written(proc, name):
    """Outputs show numbers as a reader writes them: no `np.float64(...)`, `dtype:` lines, `NaN`/`<NA>`/`None` cells, whole numbers as `7.0`
    (except a measured time, rounded to a tenth, that happens to be whole), or leftover index columns."""
    bad = [f"{p} (cell ending {_where(c)!r})" for c in _shown_cells(_proc_nb(proc, name)) for o in c.get('outputs', []) for p in _number_problems(o)]
    assert not bad, f"{name}: raw reprs and formats:\n" + '\n'.join(bad)


# --- chapter endings and wording ------------------------------------------------------------------------
def _h2(name):
    "The level-2 headings of a notebook's markdown, leaving out callouts' titles (a `## Title` under a `:::` fence)."
    return [m[1] for md in _md(name) if not re.match(r'\s*:{3,}\s*\{', md) for m in re.finditer(r'^##\s+(.*?)\s*#*$', md, re.M)]

@pytest.mark.parametrize('name', CHAPTERS)
def test_chapter_ends_summary_glossary_exercises_next(name):
    "A chapter ends Summary → Glossary → Exercises → Next (core, which has no exercises: Summary → Glossary → Next)."
    want = ['Summary', 'Glossary'] + ([] if name.startswith('00_') else ['Exercises']) + ['Next']
    h2 = [re.sub(r'^What next$', 'Next', t) for t in _h2(name)]   # the last chapter's Next may read "What next"
    assert h2[-len(want):] == want, f"{name}: its last sections are {h2[-len(want):]}, not {want} (level-2 headings named exactly so)"


@pytest.mark.parametrize('name', CHAPTERS[:-1])
def test_next_links_to_the_next_chapter(name):
    "Every chapter but the last ends with a Next section that links to the next chapter."
    nxt = CHAPTERS[CHAPTERS.index(name) + 1]
    mds = _md(name)
    k = max((i for i, md in enumerate(mds) if re.search(r'^##\s+Next\s*$', md, re.M)), default=None)
    assert k is not None, f"{name}: no `## Next` section"
    assert f']({nxt})' in '\n'.join(mds[k:]), f"{name}: its Next section does not link to {nxt}"


_NUMBER_SLIPS = re.compile(r'\b1 of (?:your |the )?1\b|(?<![\d.,])\b1 (?:\w+ )?(?:are|were) (?:right|wrong|correct)\b|'
                           r'(?<![\d.,/-])\b1 (?:epochs|images|photos|answers|questions|exercises|runs|batches|classes|seconds|minutes|layers|parameters|steps)\b')

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_counts_agree_with_their_nouns(proc, name):
    "No '1 of your 1 are right', '1 epochs': text built from counts agrees in number."
    page = _proc_nb(proc, name)
    texts = [_src(c) for c in page['cells'] if c['cell_type'] == 'markdown'] + [t for c in _shown_cells(page) for o in c.get('outputs', []) for t in _texts(o)]
    bad = sorted({m[0] for t in texts for m in _NUMBER_SLIPS.finditer(t)})
    assert not bad, f"{name}: counts that disagree with their nouns: {bad}"


# --- nothing from elsewhere -----------------------------------------------------------------------------
_EXTERNAL = re.compile(r'<script\b[^>]*\bsrc=["\']?(?:https?:)?//|<link\b[^>]*\bhref=["\']?(?:https?:)?//|@import\s+(?:url\()?["\']?(?:https?:)?//|url\(["\']?(?:https?:)?//', re.I)

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_outputs_load_nothing_from_elsewhere(proc, name):
    "No output needs a server: no ipywidgets (Quarto then loads an unversioned widget manager from unpkg), no script, style sheet or font from a CDN."
    bad = []
    for c in _code_cells(_proc_nb(proc, name)):
        for o in c.get('outputs', []):
            data = o.get('data', {})
            if 'application/vnd.jupyter.widget-view+json' in data: bad.append(f"an ipywidgets output (cell ending {_where(c)!r})")
            h = _text(data.get('text/html', '')) + _text(data.get('application/javascript', ''))
            if m := _EXTERNAL.search(h): bad.append(f"{h[m.start():m.start() + 100]!r} (cell ending {_where(c)!r})")
    assert not bad, f"{name}: outputs that load from elsewhere:\n" + '\n'.join(bad)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_animation_buttons_show_without_network(proc, name):
    "An animation's buttons show something without the network: text or an inline picture, not a Font Awesome glyph from a CDN."
    bad = []
    for c in _code_cells(_proc_nb(proc, name)):
        for o in c.get('outputs', []):
            h = _text(o.get('data', {}).get('text/html', ''))
            for b in re.findall(r'<button\b.*?</button>', h, re.S):
                if not re.sub(r'<[^>]+>|&nbsp;|\s', '', b) and not re.search(r'<(?:svg|img)\b', b): bad.append(f"{b[:90]!r} (cell ending {_where(c)!r})")
    assert not bad, f"{name}: buttons that are blank without a CDN:\n" + '\n'.join(bad[:5])


def test_site_loads_only_pinned_assets():
    "The theme imports no web font (cosmo's Google Fonts import is turned off) and MathJax is pinned to one version."
    fmt = _quarto_yml()['format']['html']
    themes = fmt.get('theme', [])
    themes = [themes] if isinstance(themes, str) else themes
    scss = [NBS/t for t in themes if str(t).endswith('.scss')]
    assert any(re.search(r'^\s*\$web-font-path:\s*false\s*;', p.read_text(), re.M) for p in scss if p.exists()), \
        f"the theme {themes} imports its web font from Google Fonts: add an .scss theme file setting `$web-font-path: false;`"
    url = (fmt.get('html-math-method') or {}).get('url', '') if isinstance(fmt.get('html-math-method'), dict) else ''
    assert re.search(r'@\d+\.\d+\.\d+/', url), f"MathJax is not pinned to a version (html-math-method url: {url!r})"


# --- drafts, sidebar ------------------------------------------------------------------------------------
def _output_html(name):
    fm = _front_matter(_load(NBS/name))
    return fm.get('output-file') or re.sub(r'^\d+_', '', Path(name).stem) + '.html'

def _links_to_drafts(proc, name):
    "The drafts a processed page links to (by notebook name or by the page Quarto would make of it)."
    page = _proc_nb(proc, name)
    text = '\n'.join([_src(c) for c in page['cells'] if c['cell_type'] == 'markdown'] + [t for c in _code_cells(page) for o in c.get('outputs', []) for t in _texts(o)])
    return [d for d in DRAFTS if re.search(rf'\]\(<?{re.escape(d)}|href="[^"]*{re.escape(d)}|\]\([^)]*/{re.escape(_output_html(d))}|href="[^"]*/{re.escape(_output_html(d))}', text)]

def test_drafts_leave_nothing_in_docs(proc):
    "A draft page (`draft: true`) is left out of Quarto's render targets, so it leaves nothing in _docs (Quarto's own draft mode still writes an empty page and its Markdown); every other page is rendered, and none links to a draft."
    from fnmatch import fnmatch
    targets = _quarto_yml().get('project', {}).get('render') or []
    rendered = lambda n: any(fnmatch(n, t) for t in targets if not t.startswith('!')) and not any(fnmatch(n, t[1:]) for t in targets if t.startswith('!'))
    assert targets, "_quarto.yml lists no render targets: Quarto renders the drafts (as empty pages, with their full Markdown beside them)"
    assert not [n for n in DRAFTS if rendered(n)], f"drafts that Quarto renders: {[n for n in DRAFTS if rendered(n)]}"
    assert not [n for n in PAGES if not rendered(n)], f"pages left out of the site: {[n for n in PAGES if not rendered(n)]}"
    links = {n: l for n in PAGES if (l := _links_to_drafts(proc, n))}
    assert not links, f"pages that link to drafts, which are not on the site: {links}"


def test_sidebar_lists_the_pages():
    "The sidebar is written in _quarto.yml (nbdev writes none): Home first, then every page that is not a draft, in order."
    import tomllib
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']
    assert cfg.get('custom_sidebar') is True, "nbdev writes sidebar.yml (the home page's entry then reads as the book's name): set custom_sidebar = true"
    side = _quarto_yml().get('website', {}).get('sidebar', {})
    contents = side.get('contents') or []
    assert contents and isinstance(contents[0], dict) and contents[0].get('href') == 'index.ipynb' and contents[0].get('text') == 'Home', \
        f"the sidebar's first entry must be {{text: Home, href: index.ipynb}}, got {contents[:1]}"
    assert [c if isinstance(c, str) else c.get('href') for c in contents[1:]] == [n for n in PAGES if n != 'index.ipynb'], \
        f"the sidebar lists {contents[1:]}, not the pages {[n for n in PAGES if n != 'index.ipynb']}"
    assert 'sidebar.yml' not in (_quarto_yml().get('metadata-files') or []), "_quarto.yml still reads an nbdev sidebar.yml"


# --- the notebooks in JupyterLab and Colab --------------------------------------------------------------
def _jl_headings(md):
    "Levels of the ATX headings JupyterLab finds in a markdown cell (outside code fences)."
    res, fenced = [], False
    for line in md.splitlines():
        if re.match(r'^\s{0,3}(```|~~~)', line): fenced = not fenced; continue
        if not fenced and (m := re.match(r'^ {0,3}(#{1,6})(?:\s|$)', line)): res.append(len(m[1]))
    return res

def _folded(nb):
    "The cells JupyterLab shows folded when it opens a notebook: below a collapsed heading down to the next heading of its level or higher."
    folded, cells = set(), nb['cells']
    for i, c in enumerate(cells):
        if c['cell_type'] == 'markdown' and c.get('metadata', {}).get('jp-MarkdownHeadingCollapsed') and _jl_headings(_src(c)):
            level = min(_jl_headings(_src(c)))
            for j in range(i + 1, len(cells)):
                hs = _jl_headings(_src(cells[j])) if cells[j]['cell_type'] == 'markdown' else []
                if hs and min(hs) <= level: break
                folded.add(j)
    return folded

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_markdown_reads_as_text_in_jupyter(name):
    "JupyterLab and Colab show Quarto's `:::` fences and `{target=...}` attributes as raw text: the notebooks use block quotes and collapsed headings instead."
    bad = [f"cell {c.get('id')}: {l.strip()[:80]!r}" for c in _load(NBS/name)['cells'] if c['cell_type'] == 'markdown'
           for l in re.sub(r'`[^`]*`', '``', _src(c)).split('\n') if re.match(r'^\s*:{3,}', l) or re.search(r'\)\{[^}]*target=|\{\.callout', l)]
    assert not bad, f"{name}: Quarto-only markup in markdown cells (run scripts/jupyter_markup.py on it):\n" + '\n'.join(bad)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_saved_api_entries_read_in_jupyter(name):
    "The show_doc outputs saved in a notebook (what JupyterLab and Colab show) hold no Quarto-only link markup and no `#LNone`."
    bad = [f"cell ending {_where(c)!r}" for c in _code_cells(_load(NBS/name)) for o in c.get('outputs', [])
           if re.search(r'\{target=|#LNone', _text(o.get('data', {}).get('text/markdown', '')))]
    assert not bad, f"{name}: saved API entries with raw `source{{target=...}}` markup (re-run them with cnn_course.core's show_doc):\n" + '\n'.join(bad)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_solutions_start_hidden_in_jupyter_and_colab(name):
    "Every worked solution (a cell whose output says '✓ Right!') opens folded in JupyterLab (a collapsed heading above it) and in Colab (that heading in colab.collapsed_sections)."
    nb = _load(NBS/name)
    folded, cells = _folded(nb), nb['cells']
    shown = [f"cell {c.get('id')}: {_where(c)!r}" for i, c in enumerate(cells) if c['cell_type'] == 'code' and i not in folded
             and any(RIGHT in t for o in c.get('outputs', []) for t in _texts(o)) and re.search(r'\bcheck_\w+\(', _src(c))]
    collapsed = [c for c in cells if c['cell_type'] == 'markdown' and c.get('metadata', {}).get('jp-MarkdownHeadingCollapsed')]
    solutions = [c for c in cells if c['cell_type'] == 'markdown' and re.match(r'^\s*#{1,6}\s+Solution', _src(c))]
    colab = set((nb['metadata'].get('colab') or {}).get('collapsed_sections') or [])
    assert not shown, f"{name}: solutions JupyterLab shows open:\n" + '\n'.join(shown)
    assert not [c['id'] for c in solutions if c not in collapsed], f"{name}: Solution headings not saved collapsed: {[c['id'] for c in solutions if c not in collapsed]}"
    assert not [c['id'] for c in collapsed if _src(c).strip().count('\n')], f"{name}: collapsed headings with more than the heading in their cell (JupyterLab shows that cell): {[c['id'] for c in collapsed if _src(c).strip().count(chr(10))]}"
    assert not [c['id'] for c in collapsed if (c['metadata'].get('id') != c['id'] or c['id'] not in colab)], \
        f"{name}: collapsed headings Colab would show open (cell metadata.id and colab.collapsed_sections)"


def _kernel_metadata():
    "What JupyterLab writes into a notebook when it starts this Python's kernel."
    from jupyter_client.kernelspec import get_kernel_spec
    from ipykernel.ipkernel import IPythonKernel
    spec = get_kernel_spec('python3')
    return dict(kernelspec=dict(display_name=spec.display_name, language=spec.language, name='python3'), language_info=dict(IPythonKernel.language_info))

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_opening_does_not_modify_the_notebook(name):
    "The saved kernelspec and language_info are what a kernel start writes (JupyterLab marks a notebook modified when they differ)."
    md, want = _load(NBS/name)['metadata'], _kernel_metadata()
    diff = {k: md.get(k) for k in want if md.get(k) != want[k]}
    assert not diff, f"{name}: JupyterLab rewrites {sorted(diff)} on opening (saved {diff}, kernel writes { {k: want[k] for k in diff} }): run scripts/jupyter_markup.py"


_QUARTO_STYLE_NB = {'cells': [
    {'cell_type': 'markdown', 'id': 'ex', 'metadata': {}, 'source': '## Exercises\n\nTry them.\n\n**Exercise 1.** Six times seven?'},
    {'cell_type': 'code', 'id': 'chk', 'metadata': {}, 'execution_count': None, 'outputs': [], 'source': 'check_product(None);'},
    {'cell_type': 'markdown', 'id': 'sol', 'metadata': {}, 'source': '::: {.callout-tip collapse="true"}\n## Solution\n\nForty-two.'},
    {'cell_type': 'code', 'id': 'ans', 'metadata': {}, 'execution_count': None, 'outputs': [], 'source': 'check_product(6*7);'},
    {'cell_type': 'markdown', 'id': 'end', 'metadata': {}, 'source': ':::\n\n**Exercise 2.** Seven times six?'},
    {'cell_type': 'markdown', 'id': 'note', 'metadata': {}, 'source': '::: {.callout-note}\n## Why it works\nIt commutes.\n:::'},
    {'cell_type': 'markdown', 'id': 'next', 'metadata': {}, 'source': '## Next'}],
    'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}, 'nbformat': 4, 'nbformat_minor': 5}

def test_jupyter_markup_survives_nbdev_clean_and_builds_the_site(tmp_path):
    "scripts/jupyter_markup.py converts Quarto markup; nbdev-clean keeps what it wrote but the kernel's display name, which the script puts back; the site's processor gives the callouts back."
    nb = tmp_path/'nb.ipynb'
    nb.write_text(json.dumps(_QUARTO_STYLE_NB))
    import runpy
    markup = runpy.run_path(str(ROOT/'scripts'/'jupyter_markup.py'))['main']   # in this process: a subprocess would import torch and fastai again
    assert markup([str(nb)]) == 0
    converted = nb.read_text()
    assert markup(['--check', str(nb)]) == 0, "the conversion is not idempotent"
    exe = Path(sys.executable).parent/'nbdev-clean'
    subprocess.run([str(exe) if exe.exists() else 'nbdev-clean', '--fname', str(nb)], check=True, cwd=ROOT, capture_output=True)
    cleaned = json.loads(nb.read_text())
    assert cleaned['metadata'].get('language_info') and cleaned['metadata'].get('colab', {}).get('collapsed_sections'), "nbdev-clean dropped the notebook metadata JupyterLab and Colab need (allowed_metadata_keys)"
    assert any(c['metadata'].get('jp-MarkdownHeadingCollapsed') for c in cleaned['cells']), "nbdev-clean dropped jp-MarkdownHeadingCollapsed (allowed_cell_metadata_keys)"
    assert markup([str(nb)]) == 0
    assert nb.read_text() == converted, "nbdev-clean followed by scripts/jupyter_markup.py does not give the converted notebook back"
    conv = json.loads(converted)
    ids = [c['id'] for c in conv['cells']]
    folded = {ids[i] for i in _folded(conv)}
    assert 'ans' in folded and 'sol' not in folded and len(folded) == 2, f"JupyterLab folds {folded}, not the solution's text and code"
    sys.path.insert(0, str(ROOT))
    try: from cnn_course.core import to_quarto
    finally: sys.path.remove(str(ROOT))
    site = [_src(c) for c in to_quarto(conv['cells']) if c['cell_type'] == 'markdown']
    assert site[2].startswith('::: {.callout-tip collapse="true"}\n## Solution') and site[4] == ':::' and site[-2].startswith('::: {.callout-note}\n## Why it works'), site


def test_readme_is_the_home_page():
    "README.md is what scripts/readme.py makes of the home page's notebook as committed (run it after the home page changes)."
    import runpy
    render = runpy.run_path(str(ROOT/'scripts'/'readme.py'))['render']
    assert (ROOT/'README.md').read_text() == render(_load(NBS/'index.ipynb')), "README.md is out of date: run python scripts/readme.py"
