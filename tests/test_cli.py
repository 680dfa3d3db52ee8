"The console scripts as a user runs them: a tiny end-to-end run, what it says, and one-line errors for bad input."
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import cli, BIN
from safetensors.torch import load_file

COMMANDS = ['ebert_train', 'ebert_eval', 'ebert_predict', 'ebert_export', 'ebert_report', 'ebert_bench', 'ebert_conflicts']

@pytest.fixture(scope='module')
def tiny_run(tiny_ckpt, tmp_path_factory):
    run = tmp_path_factory.mktemp('runs')/'tiny'
    r = cli('ebert_train', '--preset', 'pcgrad', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16', '--set', 'epochs=2',
            '--set', 'ckpt_every=1', '--no-progress', '--out', run)
    assert r.returncode == 0, r.stderr
    return run, json.loads((run/'summary.json').read_text()), r

def test_train_says_what_it_does(tiny_run):
    run, summary, r = tiny_run
    err = r.stderr.strip().splitlines()
    assert err[0].startswith('preset pcgrad: multitask (4 steps); batch 8 per task; cpu, ') and err[0].endswith(f'writing {run}'), err[0]
    for line in ('multitask: training 4 steps (2 epoch(s) of 2)', 'multitask: epoch 2/2: SST '):
        assert any(l.startswith(line) for l in err), r.stderr
    assert not any('%|' in l for l in err), 'a progress bar despite --no-progress'
    assert r.stdout.strip().startswith(f"wrote {run}: SST {summary['sst/accuracy']:.4f}, QQP ") and r.stdout.strip().endswith(' min')

def test_train_writes_the_run_folder(tiny_run):
    run, summary, _ = tiny_run
    for f in ('config.json', 'model.safetensors', 'metrics.jsonl', 'telemetry.jsonl', 'summary.json', 'README.md'): assert (run/f).is_file(), f
    assert not (run/'checkpoint').exists(), 'a finished run keeps its optimiser state'
    rows = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in rows] == [0, 1]
    assert all('conflict_rate/sst-qqp' in r for r in rows)  # PCGrad telemetry reaches the metrics
    assert json.loads((run/'config.json').read_text())['config']['combiner'] == 'pcgrad'
    sst = (run/'predictions'/'sst-test-output.csv').read_text().splitlines()
    assert sst[0] == 'id \t Predicted_Sentiment ' and len(sst) == 2210 + 1
    assert 0.0 <= summary['average'] <= 1.0
    assert summary['command'].startswith('ebert_train --preset pcgrad --set ')
    readme = (run/'README.md').read_text()
    assert summary['command'] in readme and f"SST {summary['sst/accuracy']:.4f}" in readme
    for f in ('config.json', 'metrics.jsonl', 'predictions/', 'model.safetensors'): assert f'| `{f}` |' in readme, f

def test_eval_prints_one_json_object(tiny_run):
    run, summary, _ = tiny_run
    data = Path(os.environ['EBERT_DATA'])
    r = cli('ebert_eval', run, '--sst', data/'ids-sst-dev.csv', '--sts', data/'sts-dev.csv')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert set(m) == {'sst', 'sts', 'average'}
    assert abs(m['sst']['accuracy'] - summary['sst/accuracy']) < 1e-3
    assert abs(m['average'] - (m['sst']['accuracy'] + m['sts']['pearson']) / 2) < 1e-9

def test_predict_writes_course_format(tiny_run, tmp_path):
    run, _, _ = tiny_run
    out = tmp_path/'sts.csv'
    r = cli('ebert_predict', run, '--task', 'sts', '--input', Path(os.environ['EBERT_DATA'])/'sts-test-student.csv', '--format', 'cs224n',
            '--out', out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == 'id \t Predicted_Similiarity ' and len(lines) == 1725 + 1
    float(lines[1].split(' , ')[1])

def test_predict_reads_stdin_text_and_comma_files_as_a_user_does(tiny_run, tmp_path):
    "Sentences piped in, a pair from --text, a comma-separated table with quoting and ids, and a wrong --text."
    run, _, _ = tiny_run
    r = subprocess.run([str(BIN/'ebert_predict'), str(run), '--task', 'sst'], input='A fine film.\nA dull film.\n',
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split('\t') == ['sentence', 'label', 'label_name', *[f'prob_{i}' for i in range(5)]] and len(lines) == 3
    assert lines[1].startswith('A fine film.\t') and lines[2].startswith('A dull film.\t')
    r = cli('ebert_predict', run, '--task', 'sts', '--text', 'A man plays.', 'A man is playing.')
    assert r.returncode == 0 and r.stdout.splitlines()[0] == 'sentence1\tsentence2\tscore', r.stderr
    assert 0 <= float(r.stdout.splitlines()[1].split('\t')[2]) <= 5
    pairs, out = tmp_path/'pairs.csv', tmp_path/'pairs.jsonl'
    pairs.write_text('id,sentence1,sentence2\na,"Hello, world",Hi world\nb,Two dogs,Three cats\n')
    r = cli('ebert_predict', run, '--task', 'sts', '--input', pairs, '--out', out)
    assert r.returncode == 0 and r.stderr.strip() == f'wrote 2 predictions (sts) to {out}', r.stderr
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [x['id'] for x in rows] == ['a', 'b'] and rows[0]['sentence1'] == 'Hello, world'
    assert all(0 <= x['score'] <= 5 for x in rows)
    r = cli('ebert_predict', run, '--task', 'qqp', '--text', 'only one sentence')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and '--text 1: qqp takes exactly two sentences' in r.stderr, r.stderr

@pytest.mark.parametrize('args,msg', [
    (['ebert_train', '--preset', 'nope', '--out', 'x'], "unknown preset 'nope'"),
    (['ebert_train', '--preset', 'quick', '--set', 'lr_max=1', '--out', 'x'], "--set lr_max=1: unknown setting 'lr_max'; did you mean lr"),
    (['ebert_train', '--preset', 'quick', '--set', 'epochs=many', '--out', 'x'], 'epochs must be int'),
    (['ebert_train', '--set', 'epochs=0', '--out', 'x'], '--set epochs=0: epochs must be at least 1, got 0'),
    (['ebert_train', '--set', 'batch_size=0', '--out', 'x'], '--set batch_size=0: batch_size must be at least 1, got 0'),
    (['ebert_train', '--set', 'lr=-1', '--out', 'x'], '--set lr=-1: lr must be greater than 0, got -1.0'),
    (['ebert_train', '--set', 'warmup=2', '--out', 'x'], 'warmup must be at least 0 and at most 1, got 2.0'),
    (['ebert_train', '--set', 'mlm_tasks=["sst","imdb"]', '--out', 'x'], "mlm_tasks must be one of sst, cfimdb, qqp, sts; got 'imdb'"),
    (['ebert_train', '--preset', 'quick', '--data-dir', '/no/such/dir', '--out', 'x'], 'data folder /no/such/dir does not exist'),
    (['ebert_eval', '/no/such/run', '--sst', 'x.csv'], '/no/such/run: no such run folder'),
])
def test_bad_input_is_one_line(args, msg, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count('\n') == 0 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [], 'a failed command left files behind'
    if '--set' in args: assert r.stderr.startswith('ebert_train: error: --set '), 'the run said something before the check'

def test_a_run_that_fails_before_training_leaves_no_folder(tiny_ckpt, tmp_path):
    empty = tmp_path/'data'
    empty.mkdir()
    r = cli('ebert_train', '--set', f'model="{tiny_ckpt}"', '--data-dir', empty, '--out', tmp_path/'runs'/'x')
    assert r.returncode == 2 and 'ids-sst-train.csv' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'runs').exists()

def test_help_is_fast_described_and_imports_no_torch():
    for name in COMMANDS:
        r = cli(name, '--help')
        assert r.returncode == 0 and 'examples:' in r.stdout, name
        assert 'usage: ' + name in r.stdout
    r = cli('ebert_train', '--help')
    assert '(default: quick)' in r.stdout and '(default: 1.0)' in r.stdout and '--out RUN' in r.stdout
    code = ("import sys\nfrom extension_bert.cli import ebert_train, ebert_predict\n"
            "for f in (ebert_train, ebert_predict):\n    try: f(['--help'])\n    except SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'datasets', 'scipy', 'transformers')))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == '[]', r.stdout[-500:]

def test_out_is_required_but_not_for_listing():
    r = cli('ebert_train', '--preset', 'quick')
    assert r.returncode == 2 and 'one of the arguments --out' in r.stderr
    r = cli('ebert_train', '--preset', 'mlm_pcgrad', '--list-settings')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == 'mlm stage (--set mlm.KEY=VALUE), values of preset mlm_pcgrad:'
    assert any(l.split()[:3] == ['mlm.mask_prob', 'float', '0.15'] for l in lines)
    assert any(l.split()[:3] == ['batch_size', 'int', '8'] and l.endswith('(at least 1)') for l in lines)

def test_resume_of_a_finished_run_changes_nothing(tiny_run, tiny_ckpt):
    run, summary, _ = tiny_run
    before = {f: (run/f).read_bytes() for f in ('model.safetensors', 'summary.json', 'README.md')}
    r = cli('ebert_train', '--preset', 'pcgrad', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16', '--set', 'epochs=2',
            '--set', 'ckpt_every=1', '--no-progress', '--resume', '--out', run)
    assert r.returncode == 0, r.stderr
    assert 'is finished' in r.stderr and 'nothing to do' in r.stderr and 'tokenising' not in r.stderr, r.stderr
    assert {f: (run/f).read_bytes() for f in before} == before
    r = cli('ebert_train', '--preset', 'pcgrad', '--set', f'model="{tiny_ckpt}"', '--out', run)
    assert r.returncode == 2 and 'already holds a finished run' in r.stderr, r.stderr

def test_ctrl_c_saves_a_checkpoint_that_resumes(tiny_ckpt, small_data, tmp_path):
    "A user's Ctrl-C (SIGINT) during training: one line, exit 130, a checkpoint at that step, and --resume finishes the run."
    run = tmp_path/'run'
    args = ['--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=2000', '--set', 'batch_size=4', '--set', 'head_warmup=0', '--set', 'sst_phrases=0',
            '--data-dir', small_data, '--no-progress', '--out', run]
    p = subprocess.Popen([str(BIN/'ebert_train'), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stderr:  # wait until the loop trains
        lines.append(line)
        if line.startswith('multitask: training'): break
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    assert p.wait(timeout=120) == 130, ''.join(lines) + rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith('ebert_train: interrupted at epoch 0, step ') and 'continue with --resume' in last, rest
    assert 'Traceback' not in rest, rest
    step = int(last.split('step ')[1].split(';')[0])
    assert json.loads((run/'checkpoint'/'trainer.json').read_text())['step'] == step
    r = cli('ebert_train', *args, '--resume')
    assert r.returncode == 0, r.stderr
    assert f'resuming after step {step:,}' in r.stderr and (run/'summary.json').is_file()

@pytest.fixture(scope='module')
def staged_run(tiny_ckpt, tmp_path_factory):
    "The report's best row, `mlm_snli_pcgrad`, end to end at a tiny size: MLM, then SNLI, then multitask PCGrad."
    run = tmp_path_factory.mktemp('runs')/'staged'
    args = ['--preset', 'mlm_snli_pcgrad', '--set', f'model="{tiny_ckpt}"', '--scale', '0.004', '--set', 'epochs=1', '--set', 'mlm.epochs=1',
            '--set', 'snli.epochs=1', '--set', 'mlm.eval_n=64', '--set', 'snli.eval_n=64', '--no-progress', '--out', run]
    r = cli('ebert_train', *args)
    assert r.returncode == 0, r.stderr
    return run, args, json.loads((run/'summary.json').read_text())

def test_staged_run_chains_its_stages(staged_run, tiny_ckpt):
    run, _, summary = staged_run
    assert set(summary['stages']) == {'mlm', 'snli'}
    for stage in ('mlm', 'snli'):
        for f in ('config.json', 'summary.json', 'metrics.jsonl', 'model.safetensors', 'encoder/model.safetensors', 'encoder/config.json'):
            assert (run/stage/f).is_file(), f'{stage}/{f}'
        assert not (run/stage/'checkpoint').exists()
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
    out = tmp_path/'sst.tsv'
    r = cli('ebert_predict', run, '--task', 'sst', '--input', data/'ids-sst-dev.csv', '--out', out)
    assert r.returncode == 0 and len(out.read_text().splitlines()) == 1101 + 1, r.stderr

def test_resume_skips_finished_stages(staged_run):
    "Resume at the multitask stage: the finished MLM and SNLI stages are kept as they are, the multitask stage runs again."
    run, args, summary = staged_run
    kept = {s: (run/s/'encoder'/'model.safetensors').read_bytes() for s in ('mlm', 'snli')}
    for f in ('summary.json', 'metrics.jsonl', 'model.safetensors', 'telemetry.jsonl'): (run/f).unlink()
    shutil.rmtree(run/'predictions')
    r = cli('ebert_train', *args, '--resume')
    assert r.returncode == 0, r.stderr
    assert 'mlm: finished before, skipped' in r.stderr and 'snli: finished before, skipped' in r.stderr
    again = json.loads((run/'summary.json').read_text())
    assert {s: (run/s/'encoder'/'model.safetensors').read_bytes() for s in ('mlm', 'snli')} == kept
    assert again['stages'] == summary['stages'] and abs(again['average'] - summary['average']) < 1e-9  # same seed, same start: same run
    r = cli('ebert_train', *args)  # without --resume a finished run is refused, not overwritten
    assert r.returncode == 2 and 'already holds a finished run' in r.stderr, r.stderr

def test_list_presets_names_every_table1_row():
    r = cli('ebert_train', '--list-presets')
    assert r.returncode == 0, r.stderr
    rows = [l.split(None, 1) for l in r.stdout.splitlines()]
    names = [n for n, _ in rows]
    assert set(names) >= {'baseline', 'mtl', 'pcgrad', 'quick', 'mlm', 'snli', 'cossim_pcgrad', 'snli_pcgrad', 'mlm_pcgrad', 'mlm_snli_pcgrad'}
    assert all(len(d.strip()) > 20 for _, d in rows)  # one real description each
    starts = {l.index(d) for l, (_, d) in zip(r.stdout.splitlines(), rows)}
    assert len(starts) == 1, 'descriptions are not aligned in one column'
