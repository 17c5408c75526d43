"""Fixtures shared by the test modules.

torch and fastai are imported inside the fixtures, not here: pytest-xdist's controller process loads this file too, and
runs no test, so a top-level import would only delay the start of every worker (by about 4 s on a 2-core CPU)."""
import gc, os

import pytest

# Hypothesis loads other packages' plugins when it is imported. The one installed here is trio's, which registers trio's
# random generator, and hypothesis then runs a full garbage collection: 0.4 to 0.5 s in each pytest process (2026-12-05).
# No test uses trio.
os.environ.setdefault('HYPOTHESIS_NO_PLUGINS', '1')


# Every test file, longest first (measured with --durations on a 2-core CPU, 2026-12-05: pages 16 s, explorers and conv 13 s,
# resnet and pets 10 s, mlp 9 s, cifar 8 s, the others 3.5 s down to under 1 s). pytest-xdist (`--dist loadfile
# --no-loadscope-reorder` in scripts/test.sh) hands files to its workers in collection order, so the shortest files fill the
# end of the run instead of a long one running alone. A file missing here goes last.
LONGEST_FIRST = ('test_pages.py', 'test_explorers.py', 'test_conv.py', 'test_resnet.py', 'test_pets.py', 'test_mlp.py', 'test_cifar.py',
                 'test_receptive.py', 'test_mnist_integrity.py', 'test_pool.py', 'test_receptive_graphs.py', 'test_core.py', 'test_bad_inputs.py')


def pytest_collection_modifyitems(config, items):
    "Collect the test files in the order of `LONGEST_FIRST`; each file's tests keep their order, the other files theirs."
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    "No garbage collection while the test modules are imported (see `pytest_collection_finish`); pytest then collects as usual."
    gc.disable()


def pytest_collection_finish(session):
    """Collect once, then freeze what exists once every test module is imported (torch, fastai, matplotlib and the rest:
    over a million objects), so that later full collections skip it; the objects the tests create are collected as before.
    Measured on a 2-core CPU (2026-12-05): each pytest-xdist worker spent about 1.5 s in full collections while importing,
    and 12 to 14 full collections during the tests took 3.0 to 4.5 s of its run, most of it scanning those objects."""
    gc.enable()
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Exit without a last garbage collection: with torch, fastai and their imports loaded, Python's collection at exit takes
    about 1.5 s in every pytest process, which pytest-xdist's controller waits for. Frozen objects are left to the operating
    system; pytest's own collections at the very end (which look for errors raised in `__del__`) then find nothing to collect."""
    gc.freeze()


@pytest.fixture(scope='module')
def one_thread():
    "Two torch threads on a shared 2-core machine stall far more than they gain: run a module on one (opt in with `pytestmark`)."
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def fastai_home(monkeypatch):
    "Point fastai's data folder at another place for one test: call the fixture with the folder; fastai's cached config is cleared both ways."
    from fastai.data.external import fastai_cfg
    def use(folder):
        monkeypatch.setenv('FASTAI_HOME', str(folder))
        fastai_cfg.cache_clear()   # follow the new $FASTAI_HOME, not the one seen first
        return folder
    yield use
    fastai_cfg.cache_clear()


@pytest.fixture
def empty_fastai_home(tmp_path, fastai_home):
    "An empty FASTAI_HOME: no data sets in it."
    return fastai_home(tmp_path)


def _chromium():
    "Paths of Debian's Chromium and its driver, or None where they are not installed."
    import shutil
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')   # Debian, Ubuntu, GitHub's runners
    drv = shutil.which('chromedriver')
    return (exe, drv) if exe and drv else None


@pytest.fixture(scope='session')
def browser(tmp_path_factory):
    """A real headless Chromium (selenium), with every host name unresolvable so nothing can load from the network.

    Skipped, saying why, where Chromium or selenium is missing; `CNN_COURSE_REQUIRE_BROWSER=1` (set by the test command
    once its set-up has installed Chromium) turns that into a failure, so a browser test can never pass by not running."""
    import os
    found = _chromium()
    try: from selenium import webdriver
    except ImportError: webdriver = None
    if found is None or webdriver is None:
        why = ("Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)" if found is None
               else "selenium is not installed (pip install selenium)")
        if os.environ.get('CNN_COURSE_REQUIRE_BROWSER') == '1': pytest.fail(f"browser tests required but {why}")
        pytest.skip(f"browser tests skipped: {why}")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND',
              '--window-size=1280,1000', f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(a)
    opts.binary_location = found[0]
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(found[1]), options=opts)
    yield driver
    driver.quit()
