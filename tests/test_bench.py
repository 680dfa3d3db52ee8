"`ebert_bench` as a user runs it, on tiny sizes: the report ends with the ratios line, and --out holds the rows."
import json, math, os, re, subprocess, sys
from pathlib import Path
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from extension_bert.measure import step_flops
from extension_bert.bert import Bert, BertConfig
from extension_bert.distributed import native_bf16

BIN = Path(sys.executable).parent
RATIOS = (r'ratios: vs_run_glue=\d+\.\d\d vs_trainer=\d+\.\d\d pcgrad_over_sum=\d+\.\d\d eval_vs_trainer=\d+\.\d\d '
          r'mfu_sum=\d\.\d{3} mfu_pcgrad=\d\.\d{3} padded_over_sum=\d+\.\d\d')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}  # tiny sizes: one thread is faster and kinder to a shared machine
TINY = ['--random-weights', 'tiny', '--steps', '2', '--repeats', '2', '--warmup', '1', '--batch-size', '4', '--train-n', '64']

def test_bench_prints_table_and_ratios(tmp_path):
    out = tmp_path/'bench.json'
    r = subprocess.run([str(BIN/'ebert_bench'), *TINY, '--eval-n', '16', '--padded-eval-n', '8', '--peak-n', '256', '--out', str(out)],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert re.fullmatch(RATIOS, lines[-1]), lines[-1]
    res = json.loads(out.read_text())
    assert set(res['rows']) == {'ours_sum', 'ours_padded', 'ours_pcgrad', 'trainer_pad128', 'trainer_dynamic', 'eval_ours', 'eval_trainer_pad128', 'eval_trainer_dynamic'}
    assert all(res['rows'][k]['examples'] == 2 * 4 * 3 for k in ('ours_sum', 'ours_padded', 'ours_pcgrad', 'trainer_pad128', 'trainer_dynamic'))
    assert res['rows']['eval_ours']['examples'] == res['rows']['eval_trainer_dynamic']['examples'] == 3 * 16
    assert res['rows']['trainer_pad128']['tok_per_ex'] == 128
    # MFU: our rows' model FLOP/s over the measured peak of 256x256 products in the step's dtype (the preset's
    # amp = "native": bf16 where the CPU computes it, float32 elsewhere)
    peak = res['machine']['matmul']
    want = 'bfloat16' if native_bf16('cpu') else 'float32'
    assert (peak['dtype'], peak['n']) == (want, 256) and peak['flop_per_s'] > 0
    for comb in ('sum', 'pcgrad'):
        row = res['rows'][f'ours_{comb}']
        assert math.isclose(res['ratios'][f'mfu_{comb}'], row['flop_per_s'] / peak['flop_per_s'])
        # the tiny BERT's linear layers alone: 3 x 2 layers x 2(4H² + 2HI) per real token; attention, pooler and
        # heads add less than half again at these lengths
        linear = 3 * 2 * 2 * (4 * 32 * 32 + 2 * 32 * 64) * row['tok_per_ex'] * (1 - row['pad'])
        assert linear < row['flop_per_ex'] < 1.5 * linear, (row['flop_per_ex'], linear)
    assert res['rows']['trainer_dynamic']['flop_per_s'] is None  # only our rows are counted
    # the padding-kept row runs the very same batches: same tokens, same model FLOPs (counted over real tokens)
    kept, ours = res['rows']['ours_padded'], res['rows']['ours_sum']
    assert kept['tok_per_ex'] == ours['tok_per_ex'] and kept['pad'] == ours['pad'] > 0
    assert math.isclose(kept['flop_per_ex'], ours['flop_per_ex'])
    assert math.isclose(res['ratios']['padded_over_sum'], ours['ex_per_s'] / kept['ex_per_s'])
    assert set(res['profiles']) == {'ours, sum', 'ours, pcgrad'}
    assert [l.split()[0] for l in lines if l.startswith(('phase', 'outside'))] == ['phase', 'outside']

def test_bench_without_eval_and_bad_flags():
    r = subprocess.run([str(BIN/'ebert_bench'), *TINY, '--no-eval', '--peak-n', '0', '--no-profile', '--no-padded'],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert 'eval_vs_trainer=nan' in last and last.endswith('mfu_sum=nan mfu_pcgrad=nan'), last
    assert 'phase' not in r.stdout and 'matrix-product peak' not in r.stdout and 'padding kept' not in r.stdout
    r = subprocess.run([str(BIN/'ebert_bench'), '--steps', '0'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and 'ebert_bench: error:' in r.stderr

def test_step_flops_match_pytorch_count_on_minilm_shapes():
    "MiniLM's shapes (H 384, I 1536, 6 layers), `cls` pooling, two unpadded calls: our count is PyTorch's exactly."
    cfg = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
    torch.manual_seed(0)
    bert = Bert(cfg)
    calls = [torch.randint(1000, 2000, (2, 9)), torch.randint(1000, 2000, (3, 4))]
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        sum(bert(ids)[1].sum() for ids in calls).backward()  # the pooled output: the pooler's backward runs too
    assert fc.get_total_flops() == step_flops(cfg, {'a': [9, 9], 'b': [4, 4, 4]})
