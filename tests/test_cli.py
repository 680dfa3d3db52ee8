"The console scripts as a user runs them: a tiny end-to-end run, and one-line errors for bad input."
import json, os, shutil
from pathlib import Path
import pytest
from conftest import cli
from safetensors.torch import load_file

@pytest.fixture(scope='module')
def tiny_run(tiny_ckpt, tmp_path_factory):
    run = tmp_path_factory.mktemp('runs')/'tiny'
    r = cli('ebert_train', '--preset', 'pcgrad', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16', '--set', 'epochs=2',
            '--set', 'ckpt_every=1', '--no-progress', '--out', run)
    assert r.returncode == 0, r.stderr
    return run, json.loads(r.stdout.strip().splitlines()[-1])

def test_train_writes_the_run_folder(tiny_run):
    run, summary = tiny_run
    for f in ('config.json', 'model.safetensors', 'metrics.jsonl', 'telemetry.jsonl', 'summary.json'): assert (run/f).is_file(), f
    rows = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in rows] == [0, 1]
    assert all('conflict_rate/sst-qqp' in r for r in rows)  # PCGrad telemetry reaches the metrics
    assert json.loads((run/'config.json').read_text())['config']['combiner'] == 'pcgrad'
    sst = (run/'predictions'/'sst-test-output.csv').read_text().splitlines()
    assert sst[0] == 'id \t Predicted_Sentiment ' and len(sst) == 2210 + 1
    assert 0.0 <= summary['average'] <= 1.0

def test_eval_prints_one_json_object(tiny_run):
    run, summary = tiny_run
    data = Path(os.environ['EBERT_DATA'])
    r = cli('ebert_eval', run, '--sst', data/'ids-sst-dev.csv', '--sts', data/'sts-dev.csv')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert set(m) == {'sst', 'sts', 'average'}
    assert abs(m['sst']['accuracy'] - summary['sst/accuracy']) < 1e-3
    assert abs(m['average'] - (m['sst']['accuracy'] + m['sts']['pearson']) / 2) < 1e-9

def test_predict_writes_course_format(tiny_run, tmp_path):
    run, _ = tiny_run
    out = tmp_path/'sts.csv'
    r = cli('ebert_predict', run, '--task', 'sts', '--input', Path(os.environ['EBERT_DATA'])/'sts-test-student.csv', '--output', out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == 'id \t Predicted_Similiarity ' and len(lines) == 1725 + 1
    float(lines[1].split(' , ')[1])

@pytest.mark.parametrize('args,msg', [
    (['ebert_train', '--preset', 'nope', '--out', 'x'], "unknown preset 'nope'"),
    (['ebert_train', '--preset', 'quick', '--set', 'lr_max=1', '--out', 'x'], "unknown setting 'lr_max'"),
    (['ebert_train', '--preset', 'quick', '--set', 'epochs=many', '--out', 'x'], 'epochs must be int'),
    (['ebert_train', '--preset', 'quick', '--data-dir', '/no/such/dir', '--out', 'x'], 'data folder /no/such/dir does not exist'),
    (['ebert_eval', '/no/such/run', '--sst', 'x.csv'], '/no/such/run: no such run folder'),
])
def test_bad_input_is_one_line(args, msg, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count('\n') == 0 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_run_without_model_and_malformed_file(tiny_run, tmp_path):
    run, _ = tiny_run
    empty = tmp_path/'empty-run'; empty.mkdir()
    r = cli('ebert_eval', empty, '--sst', 'x.csv')
    assert r.returncode == 2 and 'not a finished run (no config.json)' in r.stderr
    bad = tmp_path/'bad-sst.csv'
    bad.write_text('\tid\tsentence\tsentiment\n0\tabc\tfine film\t7\n1\tdef\tdull film\t1\n')
    r = cli('ebert_eval', run, '--sst', bad, '--strict')
    assert r.returncode == 2 and f"{bad}, line 2: label '7' is not an integer in 0..4" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = cli('ebert_eval', run, '--sst', bad)  # default: the bad row is skipped, and said so on stderr
    assert r.returncode == 0 and f"{bad}: skipped 1 bad row(s): line 2: label '7'" in r.stderr, r.stderr
    assert json.loads(r.stdout)['sst']['accuracy'] in (0.0, 1.0)
    bad.write_text('\tid\tsentence\tsentiment\n0\tabc\tfine film\t7\n')
    r = cli('ebert_eval', run, '--sst', bad)
    assert r.returncode == 2 and f"{bad}: no usable data rows; skipped line 2: label '7'" in r.stderr, r.stderr

def test_resume_of_a_finished_run_changes_nothing(tiny_run, tiny_ckpt):
    run, summary = tiny_run
    before = (run/'model.safetensors').read_bytes()
    r = cli('ebert_train', '--preset', 'pcgrad', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16', '--set', 'epochs=2',
            '--set', 'ckpt_every=1', '--no-progress', '--resume', '--out', run)
    assert r.returncode == 0, r.stderr
    assert (run/'model.safetensors').read_bytes() == before

@pytest.fixture(scope='module')
def staged_run(tiny_ckpt, tmp_path_factory):
    "The report's best row, `mlm_snli_pcgrad`, end to end at a tiny size: MLM, then SNLI, then multitask PCGrad."
    run = tmp_path_factory.mktemp('runs')/'staged'
    args = ['--preset', 'mlm_snli_pcgrad', '--set', f'model="{tiny_ckpt}"', '--scale', '0.004', '--set', 'epochs=1', '--set', 'mlm.epochs=1',
            '--set', 'snli.epochs=1', '--set', 'mlm.eval_n=64', '--set', 'snli.eval_n=64', '--no-progress', '--out', run]
    r = cli('ebert_train', *args)
    assert r.returncode == 0, r.stderr
    return run, args, json.loads(r.stdout.strip().splitlines()[-1])

def test_staged_run_chains_its_stages(staged_run, tiny_ckpt):
    run, _, summary = staged_run
    assert set(summary['stages']) == {'mlm', 'snli'}
    for stage in ('mlm', 'snli'):
        for f in ('config.json', 'summary.json', 'metrics.jsonl', 'model.safetensors', 'encoder/model.safetensors', 'encoder/config.json'):
            assert (run/stage/f).is_file(), f'{stage}/{f}'
    # each stage starts from the previous stage's encoder folder, the first from the run's model
    assert json.loads((run/'mlm'/'config.json').read_text())['model'] == str(tiny_ckpt)
    assert json.loads((run/'snli'/'config.json').read_text())['model'] == str(run/'mlm'/'encoder')
    assert json.loads((run/'config.json').read_text())['model'] == str(run/'snli'/'encoder')
    assert (run/'mlm'/'summary.json').read_text().count('masked_accuracy') and 'snli/accuracy' in summary['stages']['snli']
    mlm = load_file(str(run/'mlm'/'encoder'/'model.safetensors'))
    assert any(k.startswith('cls.predictions.') for k in mlm)  # the MLM head travels with the encoder
    assert (run/'predictions'/'sts-test-output.csv').is_file()

def test_eval_and_predict_work_on_a_staged_run(staged_run, tmp_path):
    run, _, summary = staged_run
    data = Path(os.environ['EBERT_DATA'])
    r = cli('ebert_eval', run, '--sts', data/'sts-dev.csv')
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(r.stdout)['sts']['pearson'] - summary['sts/pearson']) < 1e-3
    out = tmp_path/'sst.csv'
    r = cli('ebert_predict', run, '--task', 'sst', '--input', data/'ids-sst-dev.csv', '--output', out)
    assert r.returncode == 0 and len(out.read_text().splitlines()) == 1101 + 1, r.stderr

def test_resume_skips_finished_stages(staged_run):
    "Resume at the multitask stage: the finished MLM and SNLI stages are kept as they are, the multitask stage runs again."
    run, args, summary = staged_run
    kept = {s: (run/s/'encoder'/'model.safetensors').read_bytes() for s in ('mlm', 'snli')}
    for f in ('summary.json', 'metrics.jsonl', 'model.safetensors', 'telemetry.jsonl'): (run/f).unlink()
    shutil.rmtree(run/'checkpoint'); shutil.rmtree(run/'predictions')
    r = cli('ebert_train', *args, '--resume')
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout.strip().splitlines()[-1])
    assert {s: (run/s/'encoder'/'model.safetensors').read_bytes() for s in ('mlm', 'snli')} == kept
    assert again['stages'] == summary['stages'] and abs(again['average'] - summary['average']) < 1e-9  # same seed, same start: same run
    r = cli('ebert_train', *args)  # without --resume a finished run is refused, not overwritten
    assert r.returncode == 2 and 'already holds a run' in r.stderr, r.stderr

def test_list_presets_names_every_table1_row():
    r = cli('ebert_train', '--list-presets')
    assert r.returncode == 0, r.stderr
    rows = [l.split(None, 1) for l in r.stdout.splitlines()]
    names = [n for n, _ in rows]
    assert set(names) >= {'baseline', 'mtl', 'pcgrad', 'quick', 'mlm', 'snli', 'cossim_pcgrad', 'snli_pcgrad', 'mlm_pcgrad', 'mlm_snli_pcgrad'}
    assert all(len(d.strip()) > 20 for _, d in rows)  # one real description each
    starts = {l.index(d) for l, (_, d) in zip(r.stdout.splitlines(), rows)}
    assert len(starts) == 1, 'descriptions are not aligned in one column'
