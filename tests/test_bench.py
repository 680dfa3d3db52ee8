"`ebert_bench` as a user runs it, on tiny sizes: the report ends with the ratios line, and --out holds the rows."
import json, os, re, subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent
RATIOS = r'ratios: vs_run_glue=\d+\.\d\d vs_trainer=\d+\.\d\d pcgrad_over_sum=\d+\.\d\d eval_vs_trainer=\d+\.\d\d'
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}  # tiny sizes: one thread is faster and kinder to a shared machine
TINY = ['--random-weights', 'tiny', '--steps', '2', '--repeats', '2', '--warmup', '1', '--batch-size', '4', '--train-n', '64']

def test_bench_prints_table_and_ratios(tmp_path):
    out = tmp_path/'bench.json'
    r = subprocess.run([str(BIN/'ebert_bench'), *TINY, '--eval-n', '16', '--padded-eval-n', '8', '--out', str(out)],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert re.fullmatch(RATIOS, lines[-1]), lines[-1]
    res = json.loads(out.read_text())
    assert set(res['rows']) == {'ours_sum', 'ours_pcgrad', 'trainer_pad128', 'trainer_dynamic', 'eval_ours', 'eval_trainer_pad128', 'eval_trainer_dynamic'}
    assert all(res['rows'][k]['examples'] == 2 * 4 * 3 for k in ('ours_sum', 'ours_pcgrad', 'trainer_pad128', 'trainer_dynamic'))
    assert res['rows']['eval_ours']['examples'] == res['rows']['eval_trainer_dynamic']['examples'] == 3 * 16
    assert res['rows']['trainer_pad128']['tok_per_ex'] == 128

def test_bench_without_eval_and_bad_flags():
    r = subprocess.run([str(BIN/'ebert_bench'), *TINY, '--no-eval'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith('eval_vs_trainer=nan')
    r = subprocess.run([str(BIN/'ebert_bench'), '--steps', '0'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and 'ebert_bench: error:' in r.stderr
