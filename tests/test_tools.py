"The measuring tools in tools/ as a user runs them, on a tiny random BERT and the shared data."
import json, os, re, subprocess, sys
from pathlib import Path
from extension_bert.bert import Bert, BertConfig, load_pretrained
from extension_bert.stage import save_encoder

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

def test_step_cost_prints_both_learners_and_the_ratio(tmp_path):
    tiny = save_encoder(tmp_path/'tiny-bert', Bert(BertConfig.tiny()), load_pretrained()[1])
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'step_cost.py'), '--base', f'model="{tiny}"',
                        '--base', 'sst_phrases=0', '--set', 'sst_rdrop=1.0', '--steps', '2', '--repeats', '2',
                        '--train-n', '32'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith('preset quick, sst_rdrop=1.0; 2 steps x 2 windows each'), lines[0]
    for name, line in zip(('without', 'with'), lines[1:3]):
        assert re.fullmatch(rf'{name} +median \d+\.\d{{3}} s/step  windows \d+\.\d{{3}} \d+\.\d{{3}}', line), line
    assert re.fullmatch(r'ratio=\d+\.\d\d', lines[3]), lines[3]

def test_step_cost_needs_a_setting():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'step_cost.py')], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and 'give at least one --set KEY=VALUE to cost' in r.stderr, r.stderr

def test_compare_pairs_runs_by_seed(tmp_path):
    "tools/compare.py reading finished runs: each combiner minus sum, seed by seed, mean ± standard error."
    def run(comb, seed, sst, qqp, sts):
        d = tmp_path/comb/f'seed{seed}'
        d.mkdir(parents=True)
        (d/'summary.json').write_text(json.dumps({'sst/accuracy': sst, 'qqp/accuracy': qqp, 'sts/pearson': sts,
                                                  'wall_seconds': 60.0}))
    for s, sst in enumerate((0.50, 0.48, 0.49)): run('sum', s, sst, 0.83, 0.87)
    for s, sst in enumerate((0.51, 0.50, 0.49)): run('pcgrad', s, sst, 0.83, 0.87)
    run('famo', 2, 0.45, 0.83, 0.87)  # one seed only: paired on seed 2, no standard error
    (tmp_path/'famo'/'seed2'/'telemetry.jsonl').write_text(''.join(json.dumps(
        {'step': i, 'weight/sst': w, 'weight/qqp': 1.0}) + '\n' for i, w in enumerate((0.2, 0.4))))
    run('famo', 5, 0.60, 0.83, 0.87)  # no sum run of seed 5 to pair with
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'compare.py'), '--out', str(tmp_path)],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    rows = {l.split(' | ')[0].strip('| '): l for l in r.stdout.splitlines() if l.startswith('| ')}
    # SST differences 1, 2, 0 points: mean 1.00, standard error 1 / sqrt(3) = 0.58; the average moves a third
    assert rows['pcgrad'].split(' | ')[1:] == ['0 1 2', '+1.00, +2.00, +0.00', '+1.00 ± 0.58', '+0.00 ± 0.00',
                                              '+0.00 ± 0.00', '+0.33 ± 0.19', '2 of 3 |'], rows['pcgrad']
    assert rows['famo'].split(' | ')[1:4] == ['2', '-4.00', '-4.00 ± nan'], rows['famo']
    first = {c: next(l.strip('| ').split(' | ') for l in r.stdout.splitlines() if l.startswith(f'| {c} '))
             for c in ('combiner', 'famo', 'sum')}  # the first table's rows: the mean weight of each task
    famo, summ = (dict(zip(first['combiner'], first[c])) for c in ('famo', 'sum'))
    assert (famo['weight qqp'], famo['weight sst'], summ['weight sst']) == ('1.00', '0.30', '–'), (famo, summ)

def test_paired_compares_folders_and_figures_of_the_same_runs(tmp_path):
    "tools/paired.py: folders minus a base seed by seed, other keys by prefix or by name, clear errors."
    def run(name, seed, **figs):
        d = tmp_path/name/f'seed{seed}'
        d.mkdir(parents=True)
        base = {'sst/accuracy': 0.50, 'qqp/accuracy': 0.83, 'sts/pearson': 0.87}
        (d/'summary.json').write_text(json.dumps({**base, **figs}))
    for s, sst in enumerate((0.50, 0.48, 0.49)): run('sum', s, **{'sst/accuracy': sst})
    for s, (sst, raw) in enumerate(((0.51, 0.50), (0.50, 0.49), (0.49, 0.49))):
        run('avg', s, **{'sst/accuracy': sst, 'raw/sst/accuracy': raw, 'raw/qqp/accuracy': 0.83,
                         'raw/sts/pearson': 0.87, 'sst/adjusted_accuracy': sst + 0.02})
    def paired(*args):
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'paired.py'), *map(str, args)],
                           capture_output=True, text=True, env=ENV)
        rows = [l.split(' | ') for l in r.stdout.splitlines() if l.startswith('| ') and '---' not in l]
        return r, rows[1:]
    r, rows = paired(tmp_path/'sum', tmp_path/'avg', '--prefix', 'raw/')  # the raw weights against sum
    assert r.returncode == 0, r.stderr
    assert rows[0][1:4] == ['0 1 2', '+0.00, +1.00, +0.00', '+0.33 ± 0.33'], rows
    r, rows = paired(tmp_path/'avg', tmp_path/'avg', '--base-prefix', 'raw/')  # the average against its raw weights
    assert rows[0][2:4] == ['+1.00, +1.00, +0.00', '+0.67 ± 0.33'] and rows[0][-1] == '2 of 3 |', rows
    r, rows = paired(tmp_path/'avg', tmp_path/'avg', '--key', 'sst=sst/adjusted_accuracy')
    assert rows[0][3] == '+2.00 ± 0.00', rows
    r, _ = paired(tmp_path/'sum', tmp_path/'avg', '--key', 'sst=sst/adjusted_accuracy')
    assert r.returncode == 0
    r, _ = paired(tmp_path/'avg', tmp_path/'sum', '--key', 'sst=sst/adjusted_accuracy')
    assert r.returncode == 1 and 'sum/seed0: the summary has no sst/adjusted_accuracy' in r.stderr, r.stderr
    r, _ = paired(tmp_path/'sum', tmp_path/'nothing')
    assert r.returncode == 1 and 'nothing: no such folder' in r.stderr, r.stderr
