"""Checks of the course book's web pages that need no Quarto (CI machines cannot install it).

`nbdev-docs` is `nbdev-proc-nbs` (Python only: it writes the processed pages to `_proc/`) followed by
`quarto render`. These tests run `nbdev-proc-nbs` once, in a copy of the repository, with an empty
`FASTAI_HOME` (no data sets), network sockets blocked and no Quarto, as on a fresh deploy runner; then they
inspect the notebooks in `nbs/` and the processed pages in `_proc/`. They cover every notebook in `nbs/`,
so a new chapter is checked as soon as it is added. The conventions a chapter follows to pass them are listed
in the Contributing section of the home page (nbs/index.ipynb, and so README.md).
"""
import ast, json, os, re, shutil, subprocess, sys
from pathlib import Path

import pytest

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
'''


def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _text(x): return ''.join(x) if isinstance(x, list) else x

def _directives(src):
    "The `#| key: value` lines of a code cell, as a dict (a key without a value maps to '')."
    return {m[1]: (m[2] or '').strip() for m in re.finditer(r'^#\|\s*([\w-]+):?(.*)$', src, re.M)}

def _load(path): return json.loads(Path(path).read_text())

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
    cmd = [str(exe) if exe.exists() else 'nbdev-proc-nbs']
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
