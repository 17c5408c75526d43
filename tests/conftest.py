"Fixtures shared by the test modules."
import pytest
import torch


@pytest.fixture(scope='module')
def one_thread():
    "Two torch threads on a shared 2-core machine stall far more than they gain: run a module on one (opt in with `pytestmark`)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
