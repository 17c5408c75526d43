"Private data folders for the tests that damage files, built from links to the real data instead of copies, a load run in one, and a stand-in for a decoder (importable because pytest puts tests/ on sys.path)."
from pathlib import Path


def link_folders(src:Path, dst:Path) -> Path:
    "Make `dst` a folder whose entries are links to `src`'s (class folders and files): seconds of copying become milliseconds."
    dst.mkdir(parents=True)
    for p in src.iterdir(): (dst/p.name).symlink_to(p.resolve(), target_is_directory=p.is_dir())
    return dst


def own(folder:Path) -> Path:
    """Replace the linked folder `folder` by a real folder of links to its files, so that one file can be removed or replaced; return its first file.

    Delete or replace a link, never write through one: that would damage the real data."""
    if not folder.is_symlink(): return min(folder.iterdir())   # already owned
    real = folder.resolve()
    folder.unlink()
    return min(link_folders(real, folder).iterdir())


def load_in(home:Path, load, *args, **kwargs):
    """`load(*args, **kwargs)` with FASTAI_HOME set to the private folder `home` (for a module-scoped fixture, which cannot use
    the `fastai_home` fixture); afterwards the environment is as it was, and fastai's cached config no longer holds `home`."""
    import pytest
    from fastai.data.external import fastai_cfg
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv('FASTAI_HOME', str(home))
            return load(*args, **kwargs)
    finally: fastai_cfg.cache_clear()


def decode_from(monkeypatch, name:str, arrays:tuple) -> list:
    """Replace `cnn_course.core.<name>` (a data set's decoder, e.g. `_decode_pngs`) by one that returns copies of `arrays`,
    decoded once by the caller; return the list of folders it is then asked to decode, one per rebuild of a cache."""
    import cnn_course.core as core
    calls = []
    def decode(folder):
        calls.append(folder)
        return tuple(a.copy() for a in arrays)
    monkeypatch.setattr(core, name, decode)
    return calls
