"The measuring tools in tools/ as a user runs them, on a tiny random BERT and the shared data."
import os, re, subprocess, sys
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
