"""Data-parallel runs on the CPU: the console scripts under `torchrun` with 2 gloo processes train and evaluate like 1 process.

Training: a tiny random BERT, dropout 0 everywhere (so neither run draws random masks and both compute the same function),
global batches of 7 per task (4 + 3 on two processes; the last batch of each epoch has 1 example, so rank 1 gets none),
with `sum` and with `pcgrad` through `ebert_train`, and with every method of `COMBINERS` through one in-process `train` loop:
the final parameters match the 1-process run to 1e-6. Evaluation: the same metrics, to the
last bit, on dev files with odd numbers of rows. What this does not cover: NCCL, GPUs, several
machines and bf16 under several processes (see `nbs/04b_distributed.ipynb`).
"""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from extension_bert.combiners import COMBINERS
from conftest import BIN, cli
from safetensors.torch import load_file

ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}  # 2 processes on 2 cores

def launch(nproc, script, *args, check=True):
    "Run a console script alone, or under `torchrun` with `nproc` processes (the script's own file is what torchrun runs)."
    r = cli(script, *args, env=ENV, timeout=300) if nproc == 1 else \
        cli('torchrun', '--standalone', '--nproc_per_node', nproc, BIN/script, *args, env=ENV, timeout=300)
    assert r.returncode == 0 or not check, r.stderr[-4000:]
    return r

def train_args(ckpt, data, combiner):
    "A tiny `ebert_train` run: global batches of 7 per task, 3 steps per epoch (the last with 1 example), 2 epochs."
    sets = [f'model="{ckpt}"', f'combiner="{combiner}"', 'dropout=0', 'batch_size=7', 'samples_per_task=15', 'epochs=2', 'lr=1e-4',
            'eval_batch_size=4', 'qqp_mode="cross"' if combiner == 'sum' else 'qqp_mode="siamese"']
    return ['--preset', 'pcgrad', *[a for s in sets for a in ('--set', s)], '--data-dir', data, '--no-progress',
            '--keep-checkpoint']  # the tests compare the final checkpoints

@pytest.fixture(scope='module')
def nodrop_ckpt(tmp_path_factory):
    "conftest's tiny random BERT, with dropout 0: one process and two then compute the same function."
    import torch
    from extension_bert.bert import Bert, BertConfig, load_pretrained
    from extension_bert.stage import save_encoder
    # Seeded, so every run tests the same weights: CAGrad's weights grow as its radius over the norm of the chosen
    # combination of gradients, which on an unlucky random draw turned rounding differences into 4.5e-5.
    torch.manual_seed(0)
    bert = Bert(BertConfig.tiny(hidden_dropout_prob=0., attention_probs_dropout_prob=0.))
    return save_encoder(tmp_path_factory.mktemp('tiny-bert')/'ckpt', bert, load_pretrained()[1])

@pytest.fixture(scope='module')
def train_run(nodrop_ckpt, small_data, tmp_path_factory):
    "`train_run(combiner, nproc)`: the run folder of one tiny training run (each trained once per module)."
    done = {}
    def run(combiner, nproc):
        if (combiner, nproc) not in done:
            out = tmp_path_factory.mktemp('runs')/f'{combiner}-{nproc}'
            launch(nproc, 'ebert_train', *train_args(nodrop_ckpt, small_data, combiner), '--out', out)
            done[combiner, nproc] = out
        return done[combiner, nproc]
    return run

@pytest.mark.parametrize('combiner', ['sum', 'pcgrad'])
def test_two_processes_train_like_one(train_run, nodrop_ckpt, combiner):
    one, two = train_run(combiner, 1), train_run(combiner, 2)
    a, b = load_file(str(one/'checkpoint'/'model.safetensors')), load_file(str(two/'checkpoint'/'model.safetensors'))
    assert a.keys() == b.keys()
    diff = {k: (a[k] - b[k]).abs().max().item() for k in a}
    assert max(diff.values()) < 1e-6, sorted(diff.items(), key=lambda kv: -kv[1])[:3]
    init = load_file(str(nodrop_ckpt/'model.safetensors'))
    moved = max((a[f'encoder.bert.{k}'] - v).abs().max().item() for k, v in init.items())
    assert moved > 1e-4, moved  # the encoder trained: the equality is not that of two untouched copies
    rows = [[json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()] for run in (one, two)]
    assert [r['epoch'] for r in rows[1]] == [0, 1]  # written once, by rank 0
    tel = [[json.loads(l) for l in (run/'telemetry.jsonl').read_text().splitlines()] for run in (one, two)]
    assert [r['step'] for r in tel[1]] == list(range(1, 7))
    for r1, r2 in zip(*tel):  # global losses (and PCGrad's global gradient norms and cosines) on every step
        assert r1.keys() == r2.keys() and all(abs(r1[k] - r2[k]) < 1e-4 for k in r1), (r1, r2)
    if combiner == 'pcgrad': assert 'cos/sst-qqp' in tel[1][0]

def test_deferred_checks_train_like_per_step_checks(train_run, nodrop_ckpt, small_data, tmp_path):
    "Two processes whose finiteness checks are deferred (a flag all-reduced on the device, AdamW's `found_inf`)."
    out = tmp_path/'deferred'
    launch(2, 'ebert_train', *train_args(nodrop_ckpt, small_data, 'pcgrad'), '--set', 'host_sync="deferred"',
           '--out', out)
    a, b = (load_file(str(run/'checkpoint'/'model.safetensors')) for run in (train_run('pcgrad', 1), out))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    tel = [json.loads(l) for l in (out/'telemetry.jsonl').read_text().splitlines()]
    assert [r['step'] for r in tel] == list(range(1, 7)) and not any('skipped' in r for r in tel)

def test_two_processes_evaluate_like_one(train_run, small_data, tmp_path):
    "SST and STS share one table of 59 distinct sentences in 15 batches (8 on rank 0, 7 on rank 1); QQP, a cross-encoder here, has 3 pairs in one batch, so rank 1 has none."
    run = train_run('sum', 1)
    qqp = tmp_path/'qqp-3.csv'
    qqp.write_text(''.join((small_data/'quora-dev.csv').read_text().splitlines(keepends=True)[:4]))
    files = ['--sst', small_data/'ids-sst-dev.csv', '--sts', small_data/'sts-dev.csv', '--qqp', qqp]
    one, two = (json.loads(launch(n, 'ebert_eval', run, *files).stdout) for n in (1, 2))
    assert one == two  # every float to the last bit: each sentence is encoded in the batch it has alone
    assert 0 < abs(one['sts']['pearson']) < 1

def test_resume_needs_the_same_number_of_processes(train_run, nodrop_ckpt, small_data, tmp_path):
    run = tmp_path/'unfinished'
    shutil.copytree(train_run('pcgrad', 2), run)
    (run/'summary.json').unlink()  # as if killed after its last checkpoint: a run --resume continues
    r = launch(1, 'ebert_train', *train_args(nodrop_ckpt, small_data, 'pcgrad'), '--resume', '--out', run, check=False)
    assert r.returncode == 2 and 'written by 2 process(es); resume it with as many (this run has 1)' in r.stderr, r.stderr[-2000:]

CLOSE_SCRIPT = r'''
import atexit, os, sys
import torch, torch.distributed as dist
from pathlib import Path
# Registered first, so it runs last at exit (atexit is last in, first out): after the module's own handler.
atexit.register(lambda: (Path(sys.argv[1])/os.environ['RANK']).write_text(str(dist.is_initialized())))
from extension_bert.distributed import dist_state, world_size
assert world_size() == 2
x = torch.ones(2); dist.all_reduce(x); assert x.tolist() == [2., 2.]
'''

def test_process_group_closed_at_exit(tmp_path):
    "An open gloo group at exit aborted 12 of 30 such runs (`terminate called without an active exception`)."
    script = tmp_path/'close.py'
    script.write_text(CLOSE_SCRIPT)
    r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', str(script), str(tmp_path)],
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    assert [(tmp_path/str(i)).read_text() for i in (0, 1)] == ['False', 'False']  # closed before the last handler

COMBINERS_SCRIPT = r'''
import sys
from extension_bert.combiners import COMBINERS
from extension_bert.config import load_config
from extension_bert.multitask import train
ckpt, data, out = sys.argv[1:4]
for name in COMBINERS:
    opts = 'combiner_opts={window=2}' if name == 'dwa' else 'combiner_opts={}'  # DWA acts from step 5 on
    sets = [f'model="{ckpt}"', f'combiner="{name}"', opts, 'dropout=0', 'batch_size=7', 'samples_per_task=15',
            'epochs=2', 'lr=1e-4', 'eval_batch_size=4', 'qqp_mode="siamese"']
    train(load_config('pcgrad', sets=sets), f'{out}/{name}', data_dir=data, progress=False, keep_checkpoint=True)
'''

@pytest.fixture(scope='module')
def combiner_runs(nodrop_ckpt, small_data, tmp_path_factory):
    "Every combiner trained by one `train` loop in 1 process and under `torchrun` with 2: `{nproc: folder}`."
    script = tmp_path_factory.mktemp('script')/'combiners.py'
    script.write_text(COMBINERS_SCRIPT)
    runs = {}
    for n in (1, 2):
        runs[n] = tmp_path_factory.mktemp(f'combiners-{n}')
        launcher = [sys.executable] if n == 1 else [BIN/'torchrun', '--standalone', '--nproc_per_node', '2']
        r = subprocess.run([*map(str, launcher), str(script), str(nodrop_ckpt), str(small_data), str(runs[n])],
                           env=ENV, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-4000:]
    return runs

@pytest.mark.parametrize('combiner', list(COMBINERS))
def test_every_combiner_trains_like_one_process(combiner_runs, nodrop_ckpt, combiner):
    "Each method's weights come from the global Gram matrix (or the global losses), so 2 processes equal 1 to 1e-6."
    one, two = (combiner_runs[n]/combiner for n in (1, 2))
    a, b = (load_file(str(r/'checkpoint'/'model.safetensors')) for r in (one, two))
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-6, (combiner, diff)
    init = load_file(str(nodrop_ckpt/'model.safetensors'))
    assert max((a[f'encoder.bert.{k}'] - v).abs().max().item() for k, v in init.items()) > 1e-4  # it trained
    tel = [[json.loads(l) for l in (r/'telemetry.jsonl').read_text().splitlines()] for r in (one, two)]
    for r1, r2 in zip(*tel):
        assert r1.keys() == r2.keys() and all(abs(r1[k] - r2[k]) < 1e-4 for k in r1), (r1, r2)
    if combiner != 'sum':  # every method logs the weight it gave each task; DWA's move off 1 from step 5
        ws = [r['weight/sst'] for r in tel[0]]
        assert len(ws) == 6 and (combiner in ('pcgrad', 'gradvac') or any(abs(w - 1) > 1e-3 for w in ws)), ws
