"Every notebook's cells run as tests, through nbdev's own runner (the flags of settings.ini are skipped)."
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for g in ('*.ipynb', 'experiments/*.ipynb') for p in (ROOT/'nbs').glob(g)
                   if not p.name.startswith('_'))
FLAGS = get_config(path=ROOT).tst_flags.split()

def test_flags_skip_real_training(): assert set(FLAGS) == {'notest', 'gpu', 'slow'}

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT/'nbs').with_suffix('')))
def test_notebook(nb):
    ok, secs = run_nb(nb, skip_flags=FLAGS)
    assert ok, f'{nb.name} failed (see the traceback above)'
