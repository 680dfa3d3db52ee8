"""`conflicts_command` end to end on a tiny run with the `quick` preset's heads (mean pooling, siamese QQP,
cosine STS): the tables, the JSON, a checkpoint's weights, the invariants on every head, one-line errors."""
import argparse, json
import pytest, torch
from datasets import Dataset
from safetensors.torch import save_file
from extension_bert.conflicts import (batch_cuts, batch_gradient, conflicts_command, measure_conflicts,
                                      running_sums)
from extension_bert.data import Collator, tokenize_task
from extension_bert.evaluation import load_splits
from extension_bert.heads import MultitaskBert
from extension_bert.multitask import TrainConfig, load_run, train

@pytest.fixture(scope='module')
def run(tiny_ckpt, small_data, tmp_path_factory):
    "A finished one-epoch run of the tiny BERT that kept its checkpoint."
    out = tmp_path_factory.mktemp('conflicts')/'run'
    cfg = TrainConfig(model=str(tiny_ckpt), epochs=1, samples_per_task=16, batch_size=4, head_warmup=16,
                      head_warmup_epochs=2, pooling='mean', qqp_mode='siamese', sts_mode='cosine',
                      predict_test=False)
    train(cfg, out, small_data, progress=False, keep_checkpoint=True)
    return out

def command(run, data, **kw):
    "`conflicts_command` on the Namespace the parser would hand it."
    a = dict(run=str(run), n=[4, 16], seed=0, data_dir=str(data), device='cpu', out=None, weights=None)
    return conflicts_command(argparse.Namespace(**{**a, **kw}))

def test_tables_json_and_checkpoint(run, small_data, tmp_path, capsys):
    r = command(run, small_data, out=str(tmp_path/'c.json'))
    out, err = capsys.readouterr()
    assert err.startswith(f'measuring {run/"model.safetensors"}: tasks sst, qqp, sts; N = 4, 16, two')
    assert f'wrote {tmp_path/"c.json"}' in err
    assert 'N = 16: 4 batches of up to 4 per task and sample (pure noise: snr about 0.50' in out, out
    assert 'cos sst-qqp' in out and 'snr sts' in out
    assert list(r['per_n'][16]['blocks']) == ['all', 'embeddings', 'layer.0', 'layer.1']  # no pooler: mean
    saved = json.loads((tmp_path/'c.json').read_text())
    assert saved['weights'] == str(run/'model.safetensors')
    assert saved['per_n']['16']['blocks'] == r['per_n'][16]['blocks']
    assert command(run, small_data, weights=str(run/'checkpoint'))['per_n'] == r['per_n']  # 1 epoch: same

@pytest.mark.parametrize('task', ['sst', 'qqp', 'sts'])
def test_mean_gradient_is_gradient_of_mean_loss(run, small_data, task):
    model, tokenizer, cfg = load_run(run)
    ds = load_splits([task], 'train', small_data)[task]
    rows = tokenize_task(ds, tokenizer, model.heads[task].mode, cfg.max_length).to_list()[:12]
    collate = Collator(tokenizer.pad_token_id)
    *_, (n, total, _) = running_sums(model, task, rows, batch_cuts([5, 12], 4), collate)  # batches 4, 1, 3, 4
    whole = batch_gradient(model, task, collate(rows))
    assert n == 12 and whole.abs().max() > 1e-4
    torch.testing.assert_close(total / 12, whole, atol=1e-5, rtol=1e-4)

@pytest.mark.parametrize('task', ['sst', 'qqp', 'sts'])
def test_identical_tasks_and_equal_batches(run, small_data, task):
    model, tokenizer, cfg = load_run(run)
    ds = load_splits([task], 'train', small_data)[task]
    twin = MultitaskBert(model.encoder.bert, {'a': model.heads[task], 'b': model.heads[task]}, cfg.pooling)
    r = measure_conflicts(twin, tokenizer, cfg, {'a': ds, 'b': ds}, [4, 16], device='cpu')
    for x in r['per_n'].values():
        for v in x['blocks'].values(): assert abs(v['cos']['a-b'] - 1) < 1e-6
    same = Dataset.from_list([ds[0]] * 32)
    r = measure_conflicts(model, tokenizer, cfg, {task: same}, [4, 16], device='cpu')
    for x in r['per_n'].values():
        for v in x['blocks'].values():
            assert abs(v['snr'][task] - 1) < 1e-5 and abs(v['self'][task] - 1) < 1e-5

def test_deterministic_for_a_seed(run, small_data):
    model, tokenizer, cfg = load_run(run)
    sets = load_splits(cfg.tasks, 'train', small_data)
    a, b, c = [measure_conflicts(model, tokenizer, cfg, sets, [8], seed=s, device='cpu') for s in (3, 3, 4)]
    assert a['per_n'] == b['per_n'] != c['per_n']

def test_bad_input_is_one_line(run, small_data, tmp_path):
    save_file({'x': torch.zeros(1)}, str(tmp_path/'other.safetensors'))
    cases = [(dict(run=tmp_path/'nope'), 'nope: no such run folder'),
             (dict(run=tmp_path), 'not a finished run (no config.json)'),
             (dict(n=[16, -2]), '--n: sample sizes must be whole numbers, at least 1, not [-2]'),
             (dict(n=[64]), 'N=64 needs 128 training examples of sst (two disjoint samples); it has 40'),
             (dict(seed=-1), '--seed must be at least 0, not -1'),
             (dict(device='gpu'), "device 'gpu': not a device name"),
             (dict(out=str(tmp_path)), 'is a folder; give a file name'),
             (dict(weights=str(tmp_path/'none')), 'none: no such file'),
             (dict(weights=str(tmp_path/'other.safetensors')), 'not weights of this run: '),
             (dict(data_dir=str(tmp_path/'nodata')), 'nodata does not exist')]
    for kw, msg in cases:
        with pytest.raises(ValueError) as e: command(**{'run': run, 'data': small_data, **kw})
        assert msg in str(e.value) and '\n' not in str(e.value), (kw, str(e.value))
