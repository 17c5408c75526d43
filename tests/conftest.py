"Fixtures shared by the test modules."
import pytest
import torch
from fastai.data.external import fastai_cfg


@pytest.fixture(scope='module')
def one_thread():
    "Two torch threads on a shared 2-core machine stall far more than they gain: run a module on one (opt in with `pytestmark`)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def fastai_home(monkeypatch):
    "Point fastai's data folder at another place for one test: call the fixture with the folder; fastai's cached config is cleared both ways."
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
