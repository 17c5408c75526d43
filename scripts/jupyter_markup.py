#!/usr/bin/env python
"""Rewrite notebooks so that they read as notebooks in JupyterLab and Colab, and as the site after `nbdev-proc-nbs`.

    python scripts/jupyter_markup.py nbs/01_mlp_baseline.ipynb ...   # rewrite in place; running it twice changes nothing
    python scripts/jupyter_markup.py --check nbs/*.ipynb              # change nothing; exit 1 naming what it would change

JupyterLab and Colab show Quarto's `:::` fences as text and every solution open. The notebooks therefore keep a
markup that Jupyter reads, and `cnn_course.core.QuartoMarkup` (an nbdev processor, `doc_procs` in pyproject.toml)
turns it back into Quarto callouts in `_proc/` for the site:

- An aside is one markdown cell holding one block quote that opens with a bold title: `> **Why a network need not
  care**` (a note), `> **Quiz: ...**` (a tip), `> **Warning: title**` or `> **Note:** text` (Quarto's kinds by name).
  This script turns a callout that opens and closes in one cell (`::: {.callout-note}` / `## Title` / text / `:::`)
  into that block quote.
- A worked solution (or any aside that starts hidden) is a heading cell one level below the section it is in
  (`#### Solution` under `### Exercise 2`), alone in its cell (a collapsed heading's own cell stays visible), saved collapsed: JupyterLab hides everything below it up to the next
  heading of its level or higher (`jp-MarkdownHeadingCollapsed`), Colab the same (`metadata.colab.collapsed_sections`
  naming the cell's `metadata.id`). This script turns `::: {.callout-tip collapse="true"}` / `## Solution` ... `:::`
  into that heading and drops the `:::` cell. So that the section ends where the callout ended, each exercise's bold
  lead (`**Exercise 2.** text`, or `**2. Parameters.** text` under an Exercises heading) becomes a heading of its own.
- Notebook metadata: `kernelspec` and `language_info` as this Python's kernel writes them when JupyterLab opens the
  notebook, so that opening it does not mark it modified (`nbdev-clean` rewrites `kernelspec.display_name`: run this
  script after it); every heading titled Solution is saved collapsed.

The script refuses (exit 2, naming the cell) what it cannot convert without changing what a section hides: a
callout spanning cells that is not collapsed, or a collapsed one whose end is not followed by a heading.
"""
import argparse, hashlib, json, re, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnn_course.core import CALLOUT_KINDS, disclosures, kernel_metadata, quote_callout
from cnn_course.core import _heading_level as heading_level, _headings as headings

OPEN = re.compile(r'^\s*:{3,}\s*\{\s*\.callout-(?P<kind>\w+)(?P<attrs>[^}]*)\}\s*$')
CLOSE = re.compile(r'^\s*:{3,}\s*$')
LEAD = re.compile(r'^\*\*(?P<lead>Exercise\s+\d+[a-z]?|\d+\.[^*\n]*?)\.?\*\*[ \t]*(?P<rest>.*)$', re.S)


class Refused(Exception): pass


def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _md(source, id_): return dict(cell_type='markdown', id=id_, metadata={}, source=source)

def _child_id(parent, k): return (parent + '-' + hashlib.sha1(f'{parent}/{k}'.encode()).hexdigest()[:6])[:64]


def _section_titles(cells, i):
    "Text of the nearest level-2 heading above cell `i`."
    for j in range(i - 1, -1, -1):
        src = _src(cells[j]) if cells[j]['cell_type'] == 'markdown' else ''
        if OPEN.match(src.split('\n', 1)[0]): continue   # a callout's title is not a section
        hs = [t for l, t in headings(src) if l <= 2]
        if hs: return hs[-1]
    return ''


def _split(cells):
    "Give each callout, each closing `:::` and each exercise lead a markdown cell of its own."
    res = []
    for i, cell in enumerate(cells):
        if cell['cell_type'] != 'markdown': res.append(cell); continue
        src = _src(cell)
        in_exercises = 'exercise' in _section_titles(cells, i).lower() or any('exercise' in t.lower() for _, t in headings(src))
        lines, pieces, cur = src.split('\n'), [], []
        def flush():
            text = '\n'.join(cur).strip('\n')
            if text: pieces.append(text)
            cur.clear()
        k = 0
        while k < len(lines):
            line = lines[k]
            m = OPEN.match(line)
            if m and 'collapse' not in m['attrs']:   # a plain callout: whole, in a cell of its own, if it closes in this cell
                end = next((e for e in range(k + 1, len(lines)) if CLOSE.match(lines[e])), None)
                if end is None: raise Refused(f"cell {cell.get('id')}: a callout that is not collapsed spans several cells:\n{src[:300]}")
                flush(); cur.extend(lines[k:end + 1]); flush(); k = end + 1; continue
            if CLOSE.match(line): flush(); cur.append(line); flush()
            elif m: flush(); cur.append(line)
            elif LEAD.match(line) and (not ''.join(cur).strip() or not lines[k - 1].strip()) and (line.startswith('**Exercise') or in_exercises):
                flush(); cur.append(line)
            else: cur.append(line)
            k += 1
        flush()
        if len(pieces) <= 1:
            res.append(cell if not pieces or pieces[0] == src.strip('\n') else dict(cell, source=pieces[0])); continue
        for n, text in enumerate(pieces):
            res.append(dict(cell, source=text) if n == 0 else _md(text, _child_id(cell['id'], n)))
    return res


def _leads(cells):
    "An exercise's bold lead becomes a heading one level below the section heading above it."
    level = None
    for i, cell in enumerate(cells):
        if cell['cell_type'] != 'markdown': continue
        src = _src(cell)
        m = LEAD.match(src.lstrip())
        if m and (m['lead'].startswith('Exercise') or 'exercise' in _section_titles(cells, i).lower()):
            lvl = min((level or 2) + 1, 6)
            cell['source'] = f"{'#'*lvl} {m['lead'].strip().rstrip('.')}" + (f"\n\n{m['rest'].strip()}" if m['rest'].strip() else '')
            continue
        l = heading_level(cell)
        if l is not None and not re.match(r'^#+\s+(Exercise\s+\d+|\d+\.)', src.lstrip()): level = l
    return cells


def _collapsed(cells):
    "`::: {.callout-X collapse=\"true\"}` ... `:::` over several cells becomes a collapsed heading; the `:::` cell goes."
    i = 0
    while i < len(cells):
        cell = cells[i]
        m = OPEN.match(_src(cell).split('\n', 1)[0]) if cell['cell_type'] == 'markdown' else None
        if not (m and 'collapse' in m['attrs']): i += 1; continue
        first, _, rest = _src(cell).partition('\n')
        t = re.match(r'^\s*#+\s+(.*?)\s*$', rest.split('\n', 1)[0]) if rest.strip() else None
        title, rest = (t[1], rest.split('\n', 1)[1] if '\n' in rest else '') if t else ('Solution' if m['kind'] == 'tip' else 'Details', rest)
        above = [heading_level(c) for c in cells[:i] if heading_level(c) is not None]
        level = min((above[-1] if above else 2) + 1, 6)
        depth, end = 0, None
        for j in range(i + 1, len(cells)):
            s = _src(cells[j]) if cells[j]['cell_type'] == 'markdown' else ''
            if OPEN.match(s.split('\n', 1)[0]): depth += 1
            elif CLOSE.match(s.strip()) and s.strip():
                if depth == 0: end = j; break
                depth -= 1
        if end is None: raise Refused(f"cell {cell.get('id')}: collapsed callout without its closing `:::`")
        cell['source'] = f"{'#'*level} {title}"   # the heading alone: JupyterLab and Colab show a collapsed heading's own cell
        cell.setdefault('metadata', {})['jp-MarkdownHeadingCollapsed'] = True
        del cells[end]
        if rest.strip(): cells.insert(i + 1, _md(rest.strip(), _child_id(cell['id'], 'text'))); end += 1
        inside = [heading_level(c) for c in cells[i + 1:end] if heading_level(c) is not None]
        if any(l <= level for l in inside): raise Refused(f"cell {cell.get('id')}: the collapsed section '{title}' holds a heading of its level or higher")
        if dict(disclosures(cells)).get(i) != end:
            nxt = _src(cells[end])[:120] if end < len(cells) else '(end of notebook)'
            raise Refused(f"cell {cell.get('id')}: after the collapsed section '{title}' comes no heading of level {level} or higher, "
                          f"so in JupyterLab it would hide more than the callout did. Next cell: {nxt!r}")
        i += 1
    return cells


_KIND_WORD = {k: k.capitalize() for k in CALLOUT_KINDS}

def _plain(cells):
    "A callout that opens and closes in one cell becomes a block quote with a bold title."
    for cell in cells:
        if cell['cell_type'] != 'markdown': continue
        lines = _src(cell).strip('\n').split('\n')
        m = OPEN.match(lines[0]) if lines else None
        if not (m and len(lines) >= 2 and CLOSE.match(lines[-1])): continue
        kind, body = m['kind'].lower(), lines[1:-1]
        t = re.match(r'^\s*#+\s+(.*?)\s*$', body[0]) if body else None
        title = t[1] if t else ''
        if t: body = body[1:]
        if kind == 'note' and title and title.split(':')[0].strip().lower() not in CALLOUT_KINDS: label = title
        elif kind == 'tip' and title.lower().startswith(('quiz', 'exercise', 'try')): label = title
        else: label = f"{_KIND_WORD.get(kind, kind.capitalize())}:" + (f" {title}" if title else '')
        text = '\n'.join(body).strip('\n')
        quoted = [f'> **{label}**'] + (['>'] if text else []) + [('> ' + l) if l.strip() else '>' for l in text.split('\n') if text]
        cell['source'] = '\n'.join(quoted)
        back = quote_callout(cell['source'])
        if back is None or back[0] != (kind if kind in CALLOUT_KINDS else 'note'):
            raise Refused(f"cell {cell.get('id')}: the block quote would not read back as a {kind} callout")
    return cells


def _metadata(nb):
    "Kernel metadata as a kernel start writes it; solutions saved collapsed in JupyterLab and Colab."
    km = kernel_metadata()
    nb['metadata']['kernelspec'], nb['metadata']['language_info'] = km['kernelspec'], km['language_info']
    ids, starts = [], {i for i, _ in disclosures(nb['cells'])}
    for i, cell in enumerate(nb['cells']):
        if i in starts:
            md = cell.setdefault('metadata', {})
            md['jp-MarkdownHeadingCollapsed'] = True
            md['id'] = cell['id']
            ids.append(cell['id'])
        elif cell['cell_type'] == 'markdown':
            cell.get('metadata', {}).pop('jp-MarkdownHeadingCollapsed', None)
    colab = {k: v for k, v in nb['metadata'].get('colab', {}).items() if k != 'collapsed_sections'}
    if ids: colab['collapsed_sections'] = ids
    if colab: nb['metadata']['colab'] = colab
    else: nb['metadata'].pop('colab', None)
    return nb


def convert(nb:dict) -> dict:
    "The notebook in Jupyter markup (changed in place, and returned)."
    cells = _split(nb['cells'])
    cells = _leads(cells)
    cells = _collapsed(cells)
    cells = _plain(cells)
    left = [c.get('id') for c in cells if c['cell_type'] == 'markdown' and any(OPEN.match(l) or CLOSE.match(l) for l in _src(c).split('\n'))]
    if left: raise Refused(f"cells {left} still hold `:::` fences this script does not know how to convert")
    nb['cells'] = cells
    return _metadata(nb)


def dumps(nb):
    "The notebook as nbdev-clean writes it."
    from fastcore.nbio import nb2str
    return nb2str(nb)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='+', type=Path)
    p.add_argument('--check', action='store_true', help='write nothing; exit 1 if any notebook would change')
    a = p.parse_args(argv)
    changed, refused = [], []
    for path in a.notebooks:
        old = path.read_text(encoding='utf-8')
        try: new = dumps(convert(json.loads(old)))
        except Refused as e: refused.append(f"{path}: {e}"); continue
        if new != old:
            changed.append(str(path))
            if not a.check: path.write_text(new, encoding='utf-8')
    for r in refused: print(f"REFUSED {r}", file=sys.stderr)
    if changed: print(('would change: ' if a.check else 'rewrote: ') + ' '.join(changed))
    return 2 if refused else 1 if (a.check and changed) else 0


if __name__ == '__main__': sys.exit(main())
