"""`ebert_predict`'s body, `predict_command`, on a tiny run: inputs from --text, standard input, comma and tab tables and
the CS224N files; each output format's header; STS clipping; bad rows named by file and line, or skipped; the
course's format refusing inputs without ids. Called with the namespace `07c_cli`'s parser gives."""
import argparse, csv, io, json, os, warnings
from pathlib import Path
import numpy as np, pytest, torch
from extension_bert import tables
from extension_bert.data import TASKS, BadRowsWarning, read_task_file
from extension_bert.inference import load_model
from extension_bert.tables import predict_command, read_inputs
from extension_bert.multitask import TrainConfig, train

DATA = Path(os.environ['EBERT_DATA'])
DEFAULTS = dict(text=None, input=None, out='-', format=None, raw_scores=False, skip_bad_rows=False, batch_size=None,
                device='cpu')

@pytest.fixture(scope='module')
def run(tiny_ckpt, small_data, tmp_path_factory):
    "A finished run of the tiny BERT: mean pooling, siamese QQP, a regression head for STS (which can overshoot 0-5)."
    out = tmp_path_factory.mktemp('runs')/'tiny'
    cfg = TrainConfig(model=str(tiny_ckpt), samples_per_task=16, head_warmup=16, head_warmup_epochs=2, pooling='mean',
                      qqp_mode='siamese', sts_mode='siamese')
    train(cfg, out, small_data, progress=False)
    return out

def args(run, task, **kw) -> argparse.Namespace:
    "The namespace the parser gives `predict_command`, with its defaults."
    return argparse.Namespace(run=str(run), task=task, **{**DEFAULTS, **kw})

def predict(capsys, run, task, **kw) -> tuple:
    "`(stdout, stderr)` of one `predict_command`."
    capsys.readouterr()
    predict_command(args(run, task, **kw))
    return tuple(capsys.readouterr())

def table(text:str, sep='\t') -> list:
    "The rows of a tsv/csv output, header first."
    return list(csv.reader(io.StringIO(text), delimiter=sep))

def stdin(monkeypatch, text:str):
    monkeypatch.setattr('sys.stdin', io.TextIOWrapper(io.BytesIO(text.encode())))

def test_text_single_sentences(run, capsys):
    out, err = predict(capsys, run, 'sst', text=[['A fine film.'], ['A dull, "tedious"\tmess.']])
    rows = table(out)
    assert err == '' and len(rows) == 3
    assert rows[2][0] == 'A dull, "tedious"\tmess.'  # a tab and quotes in a sentence do not break the row
    p = load_model(run, device='cpu').predict('sst', ['A fine film.', 'A dull, "tedious"\tmess.'])
    assert [int(r[1]) for r in rows[1:]] == p.labels.tolist()
    np.testing.assert_allclose([[float(x) for x in r[3:]] for r in rows[1:]], p.probs, atol=1e-6)

def test_text_pairs(run, capsys):
    out, _ = predict(capsys, run, 'qqp', text=[['Is it?', 'Is it so?'], ['How?', 'Why?']], format='jsonl')
    rows = [json.loads(l) for l in out.splitlines()]
    assert [(r['sentence1'], r['sentence2']) for r in rows] == [('Is it?', 'Is it so?'), ('How?', 'Why?')]
    assert all(r['label'] == int(r['prob'] > 0.5) for r in rows)

@pytest.mark.parametrize('task,text,msg', [
    ('sst', [['A', 'fine', 'film']], '--text 1: sst takes one sentence per --text, got 3 (quote each sentence'),
    ('sts', [['a', 'b'], ['only one']], '--text 2: sts takes exactly two sentences (sentence1 sentence2) per --text, got 1'),
    ('qqp', [['a', 'b', 'c']], '--text 1: qqp takes exactly two sentences'),
])
def test_text_wrong_count(run, task, text, msg):
    with pytest.raises(ValueError) as e: predict_command(args(run, task, text=text))
    assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)

def test_stdin_piped_and_dash(run, capsys, monkeypatch):
    stdin(monkeypatch, 'A fine film.\n\nDull.\n')  # no --text, no --input: the pipe is read
    out, _ = predict(capsys, run, 'sst')
    assert [r[0] for r in table(out)[1:]] == ['A fine film.', 'Dull.']
    stdin(monkeypatch, 'A man sings.\tA man is singing.\n')
    out, _ = predict(capsys, run, 'sts', input='-')
    assert table(out)[0] == ['sentence1', 'sentence2', 'score']

def test_terminal_without_inputs_says_what_to_give(run, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self): return True
    monkeypatch.setattr('sys.stdin', Terminal())
    with pytest.raises(ValueError) as e: predict_command(args(run, 'sst'))
    assert str(e.value) == 'nothing to predict: give --text, --input FILE or pipe inputs on standard input'

def test_comma_csv_with_quoting_and_no_id(run, capsys, tmp_path):
    f = tmp_path/'pairs.csv'
    f.write_text('sentence1,sentence2,note\n"Yes, it is.","He said ""no"".",x\nA cat.,A dog.,y\n')
    out, _ = predict(capsys, run, 'qqp', input=str(f), format='csv')
    rows = table(out, ',')
    assert rows[0] == ['sentence1', 'sentence2', 'label', 'prob']  # no ids in, no id column out
    assert rows[1][:2] == ['Yes, it is.', 'He said "no".'] and rows[2][:2] == ['A cat.', 'A dog.']

def test_tab_file_with_id(run, capsys, tmp_path):
    f = tmp_path/'in.tsv'
    f.write_text('id\tsentence\tsource\nr1\tA fine film.\tweb\nr2\tDull.\tweb\n')
    out, err = predict(capsys, run, 'sst', input=str(f), out=str(tmp_path/'out.tsv'))
    assert out == '' and err == f'wrote 2 predictions (sst) to {tmp_path/"out.tsv"}\n'
    rows = table((tmp_path/'out.tsv').read_text())
    assert [r[:2] for r in rows] == [['id', 'sentence'], ['r1', 'A fine film.'], ['r2', 'Dull.']]

@pytest.mark.parametrize('task,name', [('sst', 'ids-sst-dev.csv'), ('sst', 'ids-sst-test-student.csv'),
                                       ('sts', 'sts-test-student.csv'), ('qqp', 'quora-dev.csv')])
def test_cs224n_files_read_as_the_course_reads_them(task, name, capsys):
    "The course's files, with their unnamed first column and labels, give the rows the course's reader gives."
    got = read_inputs(task, input=str(DATA/name), skip_bad=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', BadRowsWarning)  # quora-dev.csv's row without sentence2
        course = read_task_file(DATA/name, task, labelled=False, on_bad='skip')
    cols = [course[c] for c in TASKS[task].sentences]
    assert got.ids == course['id'] and got.rows == (cols[0] if task == 'sst' else list(zip(*cols)))

def test_cs224n_file_in_cs224n_format_out(run, capsys, tmp_path):
    "All of ids-sst-dev.csv through the command, out in the course's format, ids in file order."
    out = tmp_path/'sst-dev-output.csv'
    _, err = predict(capsys, run, 'sst', input=str(DATA/'ids-sst-dev.csv'), out=str(out), format='cs224n')
    lines = out.read_text().splitlines()
    ids = [l.split('\t')[1] for l in (DATA/'ids-sst-dev.csv').read_text().splitlines()[1:]]  # after the unnamed one
    assert lines[0] == 'id \t Predicted_Sentiment ' and [l.split(' , ')[0] for l in lines[1:]] == ids
    assert all(l.split(' , ')[1] in ('0 ', '1 ', '2 ', '3 ', '4 ') for l in lines[1:])
    assert err == f'wrote {len(ids)} predictions (sst) to {out}\n' and len(ids) == 1101

HEADERS = [
    ('sst', 'tsv', 'id\tsentence\tlabel\tlabel_name\tprob_0\tprob_1\tprob_2\tprob_3\tprob_4'),
    ('qqp', 'csv', 'id,sentence1,sentence2,label,prob'),
    ('sts', 'tsv', 'id\tsentence1\tsentence2\tscore'),
    ('sts', 'jsonl', '{"id": "i1", "sentence1": "A man sings.", "sentence2": "A man is singing.", "score": '),
    ('sst', 'cs224n', 'id \t Predicted_Sentiment '),
    ('qqp', 'cs224n', 'id \t Predicted_Is_Paraphrase '),
    ('sts', 'cs224n', 'id \t Predicted_Similiarity '),  # the course's spelling, kept in its own format only
]

@pytest.mark.parametrize('task,fmt,header', HEADERS)
def test_output_headers(run, capsys, tmp_path, task, fmt, header):
    f = tmp_path/'in.tsv'
    if task == 'sst': f.write_text('id\tsentence\ni1\tA fine film.\n')
    else: f.write_text('id\tsentence1\tsentence2\ni1\tA man sings.\tA man is singing.\n')
    out, _ = predict(capsys, run, task, input=str(f), format=fmt)
    assert out.splitlines()[0].startswith(header) and len(out.splitlines()) == 1 + (fmt != 'jsonl')

@pytest.mark.parametrize('name,fmt', [('p.csv', 'csv'), ('p.jsonl', 'jsonl'), ('p.json', 'jsonl'), ('p.txt', 'tsv'),
                                      ('p.out', 'tsv')])
def test_format_from_extension(run, capsys, tmp_path, name, fmt):
    predict(capsys, run, 'sst', text=[['Fine.']], out=str(tmp_path/name))
    first = (tmp_path/name).read_text().splitlines()[0]
    assert first == {'csv': 'sentence,label,label_name,prob_0,prob_1,prob_2,prob_3,prob_4',
                     'tsv': 'sentence\tlabel\tlabel_name\tprob_0\tprob_1\tprob_2\tprob_3\tprob_4'}.get(fmt, first)
    if fmt == 'jsonl': assert json.loads(first)['sentence'] == 'Fine.'

def test_sts_scores_are_clipped_unless_raw(run, capsys, monkeypatch):
    "A head that overshoots the 0-5 scale: scores are 5.0 by default, the head's raw output with --raw-scores."
    def overshooting(*a, **kw):
        m = load_model(*a, **kw)
        with torch.no_grad(): m.model.heads['sts'].out.bias += 20
        return m
    monkeypatch.setattr(tables, 'load_model', overshooting)
    text = [['A man sings.', 'A man is singing.'], ['A cat.', 'Stocks fell.']]
    clipped = [float(r[2]) for r in table(predict(capsys, run, 'sts', text=text)[0])[1:]]
    raw = [float(r[2]) for r in table(predict(capsys, run, 'sts', text=text, raw_scores=True)[0])[1:]]
    assert clipped == [5.0, 5.0] and min(raw) > 5

@pytest.mark.parametrize('content,task,msg', [
    ('id\tsentence1\tsentence2\na\tone\ttwo\nb\tthree\n', 'qqp', 'line 3: expected 3 tab-separated fields, found 2'),
    ('id,sentence\nx,Yes, it is.\n', 'sst', 'line 2: expected 2 comma-separated fields, found 3'),
    ('id\tsentence1\tsentence2\na\tone\t \n', 'sts', 'line 2: empty sentence2'),
    ('one\ttwo\n\nthree\n', 'sts', 'line 3: expected two sentences separated by a tab, found 1 tab-separated field(s)'),
    ('id\tsentence\n', 'sst', ': a header and no rows'),
    ('id\tsentence\n', 'qqp', "line 1: the header ['id', 'sentence'] has no column sentence1 or sentence2"),
    ('id\tsentence\nx\t"broken\n', 'sst', 'line 2: broken quoting'),
])
def test_bad_rows_name_file_and_line(run, tmp_path, content, task, msg):
    f = tmp_path/'bad.txt'
    f.write_text(content)
    with pytest.raises(ValueError) as e: predict_command(args(run, task, input=str(f)))
    assert str(e.value).startswith(str(f)) and msg in str(e.value) and '\n' not in str(e.value), str(e.value)

def test_skip_bad_rows_on_quora_dev(capsys):
    "quora-dev.csv: line 14222 has no sentence2 (the row with an empty label is fine: labels are not read)."
    with pytest.raises(ValueError) as e: read_inputs('qqp', input=str(DATA/'quora-dev.csv'))
    assert str(e.value) == f'{DATA/"quora-dev.csv"}, line 14222: empty sentence2'
    got = read_inputs('qqp', input=str(DATA/'quora-dev.csv'), skip_bad=True)
    err = capsys.readouterr().err
    assert err == f'warning: {DATA/"quora-dev.csv"}: skipped 1 bad row(s): line 14222: empty sentence2\n'
    assert len(got) == len(got.ids) == 20213 and got.ids[0] == 'fbfddc56315fb8a39e7608fa0'

def test_skip_bad_rows_then_predict(run, capsys, tmp_path):
    f = tmp_path/'in.tsv'
    f.write_text('id\tsentence1\tsentence2\na\tone\ttwo\nb\tthree\t\nc\tfour\tfive\nd\tsix\n')
    out, err = predict(capsys, run, 'sts', input=str(f), skip_bad_rows=True, format='cs224n')
    assert [l.split(' , ')[0] for l in out.splitlines()[1:]] == ['a', 'c']
    assert err == (f'warning: {f}: skipped 2 bad row(s): line 3: empty sentence2, '
                   'line 5: expected 3 tab-separated fields, found 2\n')

def test_cs224n_needs_ids(run, tmp_path):
    f = tmp_path/'plain.txt'
    f.write_text('A fine film.\n')
    for kw, source in ((dict(text=[['A fine film.']]), '--text'), (dict(input=str(f)), str(f))):
        with pytest.raises(ValueError) as e: predict_command(args(run, 'sst', format='cs224n', **kw))
        assert str(e.value) == f'--format cs224n needs ids, and {source} has no id column; use tsv, csv or jsonl'
    assert not list(tmp_path.glob('*.csv'))

def test_mistakes_are_found_before_the_model_loads(tmp_path, monkeypatch):
    "Every check runs before `load_model`, which is never reached here (and the folder holds no run)."
    monkeypatch.setattr(tables, 'load_model', lambda *a, **kw: pytest.fail('the model was loaded'))
    (tmp_path/'dir').mkdir()
    for kw, msg in ((dict(task='nli'), "--task 'nli': choose from sst, qqp, sts"),
                    (dict(format='xlsx'), "--format 'xlsx': choose from tsv, csv, jsonl, cs224n"),
                    (dict(device='gpu'), "device 'gpu': not a device name"),
                    (dict(batch_size=0), '--batch-size must be at least 1'),
                    (dict(out=str(tmp_path/'dir')), 'is a folder; give a file name'),
                    (dict(input=str(tmp_path/'none.csv')), 'none.csv: no such file'),
                    (dict(text=[['a']], input='-'), 'give --text or --input, not both')):
        with pytest.raises(ValueError) as e: predict_command(args(tmp_path, **{'task': 'sst', **kw}))
        assert msg in str(e.value), (kw, str(e.value))
