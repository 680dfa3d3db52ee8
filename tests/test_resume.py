"""A multitask run killed after an epoch and resumed leaves the run folder of the uninterrupted run.

The stage is the real `MultitaskStage` on a tiny random BERT and the first rows of the real files, except that each
epoch's dev average is lowered by its epoch number, so epoch 0 is the best whatever the tiny model learns. The run is
killed at the start of epoch 2 (after epoch 1's checkpoint) and resumed: the resumed epoch 2 is evaluated but is not the
best, so its dev predictions must not replace epoch 0's. Prediction files, weights and telemetry are compared byte for
byte; `metrics.jsonl` and `summary.json` without their timings.
"""
import json
import pytest
from conftest import Killed, KillAt
from extension_bert.data import read_jsonl
from extension_bert.multitask import MultitaskStage, TrainConfig
from extension_bert.stage import run_stage

class Declining(MultitaskStage):
    "The multitask stage with each epoch's dev average lowered by the epoch number."
    def setup(self):
        parts = super().setup()
        dev = parts.evaluate
        def evaluate(model):
            m, preds = dev(model)
            return {**m, 'average': round(m['average'] - self.learn.epoch, 4)}, preds
        parts.evaluate = evaluate
        return parts
    def before_fit(self, learn, resuming):
        self.learn = learn
        return super().before_fit(learn, resuming)


def no_times(rows): return [{k: v for k, v in r.items() if not k.endswith('_seconds')} for r in rows]
def jsonl(path): return read_jsonl(path)

def test_resumed_run_folder_equals_uninterrupted(tiny_ckpt, small_data, tmp_path):
    cfg = TrainConfig(model=str(tiny_ckpt), pooling='mean', sts_mode='cosine', samples_per_task=16, epochs=3, lr=1e-3,
                      head_lr=1e-2, combiner='pcgrad', seed=1)
    ref = run_stage(Declining(cfg, small_data), tmp_path/'ref', progress=False)
    with pytest.raises(Killed): run_stage(Declining(cfg, small_data), tmp_path/'run', progress=False, cbs=[KillAt(epoch=2)])
    got = run_stage(Declining(cfg, small_data), tmp_path/'run', resume=True, progress=False)
    assert ref['best_epoch'] == 0 and len(jsonl(tmp_path/'ref'/'metrics.jsonl')) == 3
    assert {k: v for k, v in got.items() if k != 'wall_seconds'} == {k: v for k, v in ref.items() if k != 'wall_seconds'}
    preds = sorted(p.name for p in (tmp_path/'ref'/'predictions').iterdir())
    assert preds == ['para-dev-output.csv', 'sst-dev-output.csv', 'sst-test-output.csv', 'sts-dev-output.csv',
                     'sts-test-output.csv']
    for f in [f'predictions/{p}' for p in preds] + ['model.safetensors', 'telemetry.jsonl']:
        assert (tmp_path/'run'/f).read_bytes() == (tmp_path/'ref'/f).read_bytes(), f
    assert no_times(jsonl(tmp_path/'run'/'metrics.jsonl')) == no_times(jsonl(tmp_path/'ref'/'metrics.jsonl'))
    summary = json.loads((tmp_path/'run'/'summary.json').read_text())
    assert {k: v for k, v in summary.items() if k != 'wall_seconds'} == {k: v for k, v in ref.items() if k != 'wall_seconds'}

@pytest.mark.parametrize('combiner', ['mgda', 'cagrad', 'imtl_g', 'aligned_mtl', 'nash_mtl', 'gradvac', 'upgrad',
                                      'uw', 'dwa', 'famo'])
def test_every_combiner_resumes_exactly_under_bf16(tiny_ckpt, small_data, tmp_path, combiner):
    "bf16 autocast on the CPU, killed after epoch 0's checkpoint: the combiner's state (generator, EMA targets, Adam moments, loss windows) comes back."
    opts = {'window': 1} if combiner == 'dwa' else {}  # DWA's weights move from step 3 on, after the resume
    cfg = TrainConfig(model=str(tiny_ckpt), pooling='mean', sts_mode='cosine', samples_per_task=16, epochs=2, lr=1e-3,
                      head_lr=1e-2, combiner=combiner, combiner_opts=opts, amp='bf16', seed=1)
    run_stage(MultitaskStage(cfg, small_data), tmp_path/'ref', progress=False)
    with pytest.raises(Killed): run_stage(MultitaskStage(cfg, small_data), tmp_path/'run', progress=False, cbs=[KillAt(epoch=1)])
    run_stage(MultitaskStage(cfg, small_data), tmp_path/'run', resume=True, progress=False)
    for f in ('model.safetensors', 'telemetry.jsonl'):
        assert (tmp_path/'run'/f).read_bytes() == (tmp_path/'ref'/f).read_bytes(), f
    weights = [tuple(v for k, v in sorted(r.items()) if k.startswith('weight/')) for r in jsonl(tmp_path/'ref'/'telemetry.jsonl')]
    assert len(weights) == 4 and len(weights[0]) == 3 and len(set(weights)) > 1, weights  # it acted, differently per step
