#!/usr/bin/env python
"""Open notebooks in a real JupyterLab, in headless Chromium, and report what a learner sees there.

    python scripts/check_jupyterlab.py nbs/04_resnet.ipynb ...   # needs jupyterlab, selenium, Debian's chromium and chromedriver

For each notebook, after its kernel has started and gone idle, it reports (and fails, exit 1, on the first three):
- `modified`: whether JupyterLab marks the notebook modified just by opening it (its saved kernelspec or language_info
  differ from what the kernel start writes; closing it would then ask to save);
- `raw callouts`: markdown cells that show Quarto's `:::` fences or `{.callout...}` as text;
- `open solutions`: code cells that print '✓ Right!' (a worked solution) and are not folded away;
- `folded`: the code cells JupyterLab shows folded under a collapsed heading (the worked solutions).
Colab cannot be reached from here: its folded sections come from `metadata.colab.collapsed_sections`, which
tests/test_pages.py checks. This is a manual check (about 30 s per notebook), not part of the test command.
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path

RIGHT = '✓ Right!'

_STATE = '''
  const panel = Array.from(document.querySelectorAll('.jp-NotebookPanel')).find(p => !p.classList.contains('lm-mod-hidden'));
  if (!panel) return null;
  const cells = Array.from(panel.querySelectorAll('.jp-Cell'));
  const shown = c => !c.classList.contains('lm-mod-hidden');
  const text = (c, n = 60) => ((c.querySelector('.jp-InputArea-editor') || {}).innerText || '').replace(/\\s+/g, ' ').slice(0, n);
  const code = cells.filter(c => c.classList.contains('jp-CodeCell'));
  const prose = c => {   // the rendered text of a markdown cell, outside code
    const r = c.querySelector('.jp-RenderedMarkdown'); if (!r) return '';
    const x = r.cloneNode(true); x.querySelectorAll('code, pre').forEach(e => e.remove()); return x.textContent; };
  const tab = Array.from(document.querySelectorAll('.lm-TabBar-tab.lm-mod-current'));
  const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {n: cells.length, status: status ? status.getAttribute('data-status') : null,
          modified: tab.some(t => t.classList.contains('jp-mod-dirty')),
          raw: cells.filter(c => c.classList.contains('jp-MarkdownCell') && shown(c) && /^\\s*:::|\\{\\.callout/m.test(prose(c))).map(c => prose(c).slice(0, 60)),
          open: code.filter(c => shown(c) && /check_\\w+\\(/.test(text(c, 10000)) && ((c.querySelector('.jp-OutputArea') || {}).innerText || '').includes(arguments[0])).map(c => text(c)),
          folded: code.filter(c => !shown(c)).map(text)};'''


def main(paths):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    paths = [Path(p).resolve() for p in paths]
    work = Path(tempfile.mkdtemp(prefix='jlcheck-'))
    (work/'nbs').mkdir()
    for p in paths: shutil.copy2(p, work/'nbs'/p.name)
    settings = work/'settings'/'@jupyterlab'/'notebook-extension'
    settings.mkdir(parents=True)
    (settings/'tracker.jupyterlab-settings').write_text('{"windowingMode": "none"}')   # every cell in the page, folded ones hidden
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(work/'settings'), JUPYTERLAB_WORKSPACES_DIR=str(work/'ws'))
    server = subprocess.Popen(['jupyter', 'lab', '--no-browser', f'--port={port}', '--IdentityProvider.token=', '--ServerApp.password=',
                               f'--ServerApp.root_dir={work/"nbs"}', '--allow-root', '--LabApp.news_url=None'],
                              stdout=open(work/'server.log', 'w'), stderr=subprocess.STDOUT, env=env)
    failed = False
    try:
        for _ in range(120):
            try: socket.create_connection(('127.0.0.1', port), 1).close(); break
            except OSError: time.sleep(0.5)
        opts = webdriver.ChromeOptions()
        for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1280,1000'): opts.add_argument(a)
        opts.binary_location = shutil.which('chromium') or shutil.which('chromium-browser')
        driver = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=opts)
        try:
            for k, p in enumerate(paths):
                driver.get(f'http://127.0.0.1:{port}/lab/workspaces/check{k}/tree/{p.name}?reset')
                state = None
                for _ in range(360):
                    time.sleep(0.5)
                    state = driver.execute_script(_STATE, RIGHT)
                    if state and state['n'] and state['status'] == 'idle': break
                time.sleep(2)   # let the kernel's metadata reach the model
                state = driver.execute_script(_STATE, RIGHT)
                bad = state is None or state['modified'] or state['raw'] or state['open']
                failed |= bool(bad)
                print(f"{'FAIL' if bad else 'ok  '} {p.name}: " + json.dumps(state, ensure_ascii=False))
        finally: driver.quit()
    finally:
        server.terminate(); server.wait(20)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
