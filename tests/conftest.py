"Shared pytest set-up: the data folder defaults to ../shared/data beside the checkout; console scripts; a tiny checkpoint."
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('EBERT_DATA', str((ROOT.parent/'shared'/'data').resolve()))
BIN = Path(sys.executable).parent
if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test` runs two workers on two cores: one thread each
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)

def cli(name, *args, **kw):
    "Run one of the project's console scripts as a user would."
    return subprocess.run([str(BIN/name), *map(str, args)], capture_output=True, text=True, **kw)

@pytest.fixture(scope='session')
def tiny_ckpt(tmp_path_factory):
    "A random 2-layer, 32-wide BERT saved as a checkpoint folder with the real tokenizer."
    from extension_bert.bert import Bert, BertConfig, load_pretrained
    from extension_bert.stage import save_encoder
    return save_encoder(tmp_path_factory.mktemp('tiny-bert')/'ckpt', Bert(BertConfig.tiny()), load_pretrained()[1])

@pytest.fixture(scope='session')
def small_data(tmp_path_factory):
    "The first rows of every SST/QQP/STS file: 40 per train file, an odd number per dev file, 11 per test file."
    src, d = Path(os.environ['EBERT_DATA']), tmp_path_factory.mktemp('data')
    rows = {'ids-sst-train.csv': 40, 'quora-train-partial.csv': 40, 'sts-train.csv': 40, 'ids-sst-dev.csv': 21, 'quora-dev.csv': 23,
            'sts-dev.csv': 19, 'ids-sst-test-student.csv': 11, 'sts-test-student.csv': 11}
    for f, n in rows.items(): (d/f).write_text(''.join((src/f).read_text().splitlines(keepends=True)[:n + 1]))
    return d

class Killed(Exception): "Raised by a `KillAt` callback: a process killed at a chosen moment."

def KillAt(epoch:int|None=None, step:int|None=None):
    "A learner callback that raises `Killed` at the start of `epoch` (after the previous epoch's checkpoint) or after `step`."
    from extension_bert.callbacks import Callback
    class Kill(Callback):
        def before_epoch(self):
            if self.learn.epoch == epoch: raise Killed()
        def after_step(self):
            if self.learn.step == step: raise Killed()
    return Kill()
