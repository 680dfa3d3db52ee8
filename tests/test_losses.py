"""Every task loss gives the same update on 1 and on 2 processes (gloo, CPU).

CoSENT ranks every pair of examples in a batch and the masked-LM loss is a mean over masked tokens: neither is a mean over
examples, so a loss computed on each process's share would differ from the 1-process loss. The learner computes every
loss on the global batch (`gather_cat`), and these runs check two steps (7 examples, then 1 that only
the first process has): each step's logged loss and the gradients the optimiser applies agree to 1e-5 of their size
(float32 rounding; a loss weighted by each process's share of the examples is off by percents). PCGrad on 2 processes is
tested end to end in test_distributed.py. See tests/losses_script.py.
"""
import os, sys
from pathlib import Path
import pytest
from conftest import BIN, ROOT
from safetensors.torch import load_file
import subprocess

CASES = ['ce_bce_mse', 'cosine_mse', 'cosent', 'cross', 'nli', 'mlm']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp('losses')
    script = ROOT/'tests'/'losses_script.py'
    for cmd in ([sys.executable, script, out], [BIN/'torchrun', '--standalone', '--nproc_per_node', '2', script, out]):
        r = subprocess.run([str(c) for c in cmd], env=ENV, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-4000:]
    return out

@pytest.mark.parametrize('case', CASES)
def test_loss_same_on_two_processes(runs, case):
    one, two = (load_file(str(runs/f'{case}-{n}.safetensors')) for n in (1, 2))
    assert one.keys() == two.keys() and any('.grad.' in k for k in one)
    for k in one:
        scale = max(one[k].abs().max().item(), 1e-3)
        assert (one[k] - two[k]).abs().max().item() <= 1e-5 * scale, (k, one[k].flatten()[:4], two[k].flatten()[:4])
