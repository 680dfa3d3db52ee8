"`ebert_report` as a user runs it: two tiny runs, one report with a comparison table and figures, and one-line errors."
import json, os, re, shutil
from pathlib import Path
import pytest
from conftest import cli

PNG = b'\x89PNG\r\n\x1a\n'

@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    "A data folder with the first 100 rows of every SST, QQP and STS file, so that a run (and its dev pass) takes seconds."
    src, dst = Path(os.environ['EBERT_DATA']), tmp_path_factory.mktemp('data')
    from extension_bert.data import TASKS
    for f in {f for t in ('sst', 'qqp', 'sts') for f in TASKS[t].files.values()}:
        (dst/f).write_text(''.join((src/f).read_text().splitlines(keepends=True)[:101]))
    return dst

@pytest.fixture(scope='module')
def runs(tiny_ckpt, tiny_data, tmp_path_factory):
    "Two tiny runs that differ in the combiner: `sum` (no gradient telemetry) and `pcgrad`."
    root = tmp_path_factory.mktemp('runs')
    for combiner in ('sum', 'pcgrad'):
        r = cli('ebert_train', '--preset', 'quick', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16', '--set', 'sst_phrases=0', '--set', 'epochs=2',
                '--set', f'combiner="{combiner}"', '--data-dir', tiny_data, '--no-progress', '--out', root/combiner)
        assert r.returncode == 0, r.stderr
    return root/'sum', root/'pcgrad'

@pytest.fixture(scope='module')
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp('report')
    r = cli('ebert_report', *runs, '--out', out)  # the gold files: the data folder each run's config.json names
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f'wrote {out/"report.md"}'
    return out, (out/'report.md').read_text()

def test_comparison_table_has_one_row_per_run(runs, report):
    _, md = report
    table = md.split('## Comparison', 1)[1].split('\n## ', 1)[0]
    rows = [l for l in table.splitlines() if l.startswith('|')]
    assert rows[0].startswith('| run | SST acc | QQP acc | STS r | mean of SST acc, QQP acc, STS r | CS224N overall')
    assert rows[0].rstrip().endswith('| wall time (min) |')
    assert [r.split('|')[1].strip() for r in rows[2:]] == ['sum', 'pcgrad']
    for run, row in zip(runs, rows[2:]):
        s = json.loads((run/'summary.json').read_text())
        cells = [c.strip() for c in row.split('|')[1:-1]]
        assert [float(c) for c in cells[1:4]] == pytest.approx([s['sst/accuracy'], s['qqp/accuracy'], s['sts/pearson']], abs=1e-3)
        assert float(cells[4]) == pytest.approx(s['average'], abs=1e-3)
        assert float(cells[5]) == pytest.approx((s['sst/accuracy'] + s['qqp/accuracy'] + (s['sts/pearson'] + 1) / 2) / 3, abs=1e-3)
    assert 'all-MiniLM-L6-v2 was trained on' in table  # the QQP caveat goes with QQP numbers

def test_sections_provenance_and_caveat(runs, report):
    _, md = report
    for run in runs:
        sec = md.split(f'## Run `{run.name}`', 1)[1].split('\n## Run ', 1)[0]
        for part in ('### Provenance', '### SST', '### QQP', '### STS', '### Training', 'quora-dev.csv', '`combiner=', 'wall time:',
                     'QQP caveat', 'This run does not start from it', 'TP', 'precision', 'Spearman', 'furthest from the best-fit line'):
            assert part in sec, (run.name, part)
    assert 'No gradient-conflict telemetry: combiner `sum`' in md

def test_figures_are_written_and_linked(report):
    out, md = report
    links = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', md)
    expected = {f'{n}-{f}.png' for n in ('sum', 'pcgrad') for f in ('sst-confusion', 'qqp-confusion', 'sts-scatter', 'training')} | {'pcgrad-conflicts.png'}
    assert set(links) == expected
    for f in links: assert (out/f).read_bytes()[:8] == PNG, f

def test_bad_input_is_one_line(runs, tmp_path):
    run = runs[0]
    bare = tmp_path/'bare'; bare.mkdir(); shutil.copy(run/'config.json', bare)
    broken = tmp_path/'broken'; shutil.copytree(run, broken, ignore=shutil.ignore_patterns('*.safetensors', 'checkpoint'))
    (broken/'predictions'/'sts-dev-output.csv').write_text('id \t Predicted_Similiarity \nabc , high \n')
    badjson = tmp_path/'badjson'; badjson.mkdir(); (badjson/'config.json').write_bytes(b'{"config": \xff')
    cases = [([tmp_path/'nope', '--out', tmp_path/'o'], f'{tmp_path/"nope"}: no such run folder'),
             ([run, bare, '--out', tmp_path/'o'], f'{bare}: no dev predictions'),
             ([broken, '--out', tmp_path/'o'], "sts-dev-output.csv, line 2: expected \"id , number\", found 'abc , high '"),
             ([badjson, '--out', tmp_path/'o'], f'{badjson/"config.json"}: cannot read'),
             ([run, '--out', tmp_path/'o', '--data-dir', tmp_path/'nodata'], f'data folder {tmp_path/"nodata"} does not exist'),
             ([run, '--out', tmp_path/'o', '--data-dir', os.environ['EBERT_DATA']], 'sst-dev-output.csv: no prediction for 1001 of the 1101 ids'),
             ([run], 'the following arguments are required: --out'),  # argparse: its usage line, then this
             (['--out', tmp_path/'o'], 'the following arguments are required: RUN')]
    for args, msg in cases:
        r = cli('ebert_report', *args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        if lines[0].startswith('usage: '): lines = lines[1:]
        assert len(lines) == 1 and msg in lines[0] and 'Traceback' not in r.stderr, r.stderr
        assert not (tmp_path/'o'/'report.md').exists()
