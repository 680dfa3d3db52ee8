"""Exports and inference on two tiny runs: the Hugging Face and sentence-transformers round trips with their model
cards, and `load_model` predicting what `ebert_predict` writes and what the run's own evaluation recorded."""
import argparse, configparser, contextlib, importlib, io, json, re, shutil
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ROOT
from extension_bert import heads
from extension_bert.data import TASKS, load_task
from extension_bert.evaluation import prediction_path
from extension_bert.export import export_command, export_hf, export_st
from extension_bert.inference import load_model
from extension_bert.tables import predict_command
from extension_bert.rundir import check_files
from extension_bert.multitask import TrainConfig, train

LONG = ' '.join(['the film keeps going'] * 60)  # over 128 tokens: truncation must agree too
SENTS = ['A man is playing a guitar.', 'Someone plays an instrument.', 'It is raining.', LONG]
KINDS = dict(mean=dict(pooling='mean', qqp_mode='siamese', sts_mode='cosine'),  # the quick preset's choices
             cls=dict(pooling='cls', qqp_mode='cross', sts_mode='siamese'))     # pooled [CLS], a cross head

@pytest.fixture(scope='module')
def runs(tiny_ckpt, small_data, tmp_path_factory):
    "Two finished runs of the tiny BERT on the first rows of the data: `{'mean': folder, 'cls': folder}`."
    out = {}
    for name, kw in KINDS.items():
        out[name] = tmp_path_factory.mktemp('runs')/name
        cfg = TrainConfig(model=str(tiny_ckpt), samples_per_task=16, head_warmup=16, head_warmup_epochs=2, **kw)
        train(cfg, out[name], small_data, progress=False)
    return out

@pytest.mark.parametrize('kind', KINDS)
def test_hf_round_trip(runs, kind, tmp_path):
    transformers = pytest.importorskip('transformers')
    out = export_hf(runs[kind], tmp_path/'hf')
    hf, info = transformers.AutoModel.from_pretrained(out, local_files_only=True, output_loading_info=True)
    assert type(hf).__name__ == 'BertModel' and not any(info.values()), info  # no missing or unexpected weight
    tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert tok.model_max_length == 128  # the run's max_length
    enc = tok(SENTS, padding=True, truncation=True, return_tensors='pt')
    bert = load_model(runs[kind], device='cpu').model.encoder.bert
    with torch.no_grad(): (h, pooled), ref = bert(enc['input_ids'], enc['attention_mask']), hf.eval()(**enc)
    real = enc['attention_mask'].bool()
    assert (h - ref.last_hidden_state)[real].abs().max() < 1e-5
    assert (pooled - ref.pooler_output).abs().max() < 1e-5

def export(run, fmt, out, overwrite=False):
    "`ebert_export RUN --format FMT --out OUT [--overwrite]`, as the parser hands it to `export_command`."
    export_command(argparse.Namespace(run=str(run), format=fmt, out=str(out), overwrite=overwrite))

@pytest.mark.parametrize('kind', KINDS)
def test_st_round_trip_through_the_command(runs, kind, tmp_path, capsys):
    st = pytest.importorskip('sentence_transformers')
    export(runs[kind], 'st', tmp_path/'st')
    assert capsys.readouterr().out == f'wrote {tmp_path/"st"} (st)\n'
    model = st.SentenceTransformer(str(tmp_path/'st'), device='cpu', local_files_only=True)
    ours = load_model(runs[kind], device='cpu', amp='off').encode(SENTS)
    theirs = model.encode(SENTS)
    assert theirs.shape == ours.shape == (4, 32)
    assert np.abs(theirs - ours).max() < 1e-5, np.abs(theirs - ours).max()

def test_unexportable_pooling_is_one_line_and_writes_nothing(runs, tmp_path, monkeypatch, capsys):
    "A pooling added to `POOLINGS` without a sentence-transformers equivalent is refused before anything is written."
    monkeypatch.setitem(heads.POOLINGS, 'first', lambda h, pooled, mask: h[:, 0])
    run = tmp_path/'run'
    shutil.copytree(runs['mean'], run)
    cfg = json.loads((run/'config.json').read_text())
    cfg['config']['pooling'] = 'first'
    (run/'config.json').write_text(json.dumps(cfg))
    (run/'manifest.json').unlink()  # the edited config.json no longer matches its checksum
    with pytest.raises(ValueError) as e: export(run, 'st', tmp_path/'st')
    assert str(e.value) == "pooling 'first' has no sentence-transformers equivalent; exportable poolings: mean, cls"
    assert not (tmp_path/'st').exists()
    assert export_hf(run, tmp_path/'hf').is_dir()  # the Hugging Face folder does not depend on the pooling
    assert 'The run pools with `first`' in (tmp_path/'hf'/'README.md').read_text()  # the card names it

def recorded(path:Path) -> np.ndarray:
    "The prediction column of a CS224N output file."
    return np.array([float(l.split(' , ')[1]) for l in path.read_text().splitlines()[1:]])

def predict_args(run, task, **kw) -> argparse.Namespace:
    "The namespace `ebert_predict`'s parser hands `predict_command`, with its defaults."
    d = dict(text=None, input=None, out='-', format=None, raw_scores=False, skip_bad_rows=False, batch_size=None,
             device='cpu')
    return argparse.Namespace(run=str(run), task=task, **{**d, **kw})

@pytest.mark.parametrize('kind', KINDS)
def test_predict_matches_ebert_predict_and_evaluation(runs, kind, small_data, tmp_path):
    "On the dev rows: `predict` == `ebert_predict`'s file == the dev predictions the run wrote at its best epoch."
    m = load_model(runs[kind], device='cpu')
    for t in ('sst', 'qqp', 'sts'):
        dev, rows = small_data/TASKS[t].files['dev'], load_task(t, 'dev', small_data)
        inputs = rows['sentence'] if t == 'sst' else list(zip(rows['sentence1'], rows['sentence2']))
        p = m.predict(t, inputs, clip=False)  # evaluation scores the raw output
        with contextlib.redirect_stderr(io.StringIO()):
            predict_command(predict_args(runs[kind], t, input=str(dev), out=str(tmp_path/f'{t}.csv'),
                                         format='cs224n', raw_scores=True))
        assert len(p.labels) == len(rows) > 10
        np.testing.assert_allclose(m.predict(t, inputs).labels, np.clip(p.labels, 0, 5) if t == 'sts' else p.labels)
        np.testing.assert_allclose(p.labels, recorded(tmp_path/f'{t}.csv'), atol=1e-6, err_msg=t)
        np.testing.assert_allclose(p.labels, recorded(prediction_path(runs[kind], t, 'dev')), atol=1e-6, err_msg=t)
        if t == 'sst': assert p.probs.shape == (len(rows), 5) and (p.labels == p.probs.argmax(1)).all()
        if t == 'qqp': assert ((p.probs > 0.5) == (p.labels == 1)).all()

@pytest.mark.parametrize('task,inputs,msg', [
    ('nli', ['a'], "unknown task 'nli'; this run predicts sst, qqp, sts"),
    ('cfimdb', ['a'], "the run has no head for 'cfimdb'; it predicts sst, qqp, sts"),
    ('sst', [], 'sst: nothing to do (an empty list)'),
    ('sst', 7, 'sst: expected a list of inputs, each a sentence (str); got int'),
    ('qqp', 'one sentence', 'qqp: expected a list of inputs, each a pair of two sentences; got str'),
    ('qqp', ['a', 'b', 'c'], "qqp: input 0 is not a pair of two sentences: 'a'"),
    ('sts', [('a', 'b'), ('a', 'b', 'c')], "sts: input 1 is not a pair of two sentences: ('a', 'b', 'c')"),
    ('sst', [('a', 'b')], "sst: input 0 is not a sentence (str): ('a', 'b')"),
])
def test_bad_input_is_one_line(runs, task, inputs, msg):
    m = load_model(runs['mean'], device='cpu')
    with pytest.raises(ValueError) as e: m.predict(task, inputs)
    assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)

def test_export_refuses_the_run_and_used_folders(runs, tmp_path, capsys):
    (tmp_path/'used').mkdir()
    (tmp_path/'used'/'notes.txt').write_text('keep me')
    for out, msg in ((tmp_path/'used', 'the folder is not empty (pass --overwrite to replace it)'),
                     (runs['mean'].parent, 'writing there would replace the run folder')):
        with pytest.raises(ValueError) as e: export(runs['mean'], 'hf', out)
        assert msg in str(e.value) and '\n' not in str(e.value)
    assert (tmp_path/'used'/'notes.txt').read_text() == 'keep me'
    with pytest.raises(ValueError) as e: export(runs['mean'], 'onnx', tmp_path/'used')
    assert str(e.value) == "--format 'onnx': choose from hf, st"
    export(runs['mean'], 'hf', tmp_path/'used', overwrite=True)
    assert (tmp_path/'used'/'model.safetensors').is_file() and not (tmp_path/'used'/'notes.txt').exists()

def front_matter(card:str) -> dict:
    "The YAML metadata of a model card."
    yaml = pytest.importorskip('yaml')
    assert card.startswith('---\n')
    return yaml.safe_load(card.split('---\n')[1])

@pytest.mark.parametrize('fmt,library,tag', [('hf', 'transformers', 'feature-extraction'),
                                             ('st', 'sentence-transformers', 'sentence-similarity')])
def test_model_card(runs, tmp_path, fmt, library, tag):
    "README.md: Hub metadata, the dev scores of summary.json, the pooling, the training command, the QQP caveat."
    run = tmp_path/'run'
    shutil.copytree(runs['mean'], run)
    summary = json.loads((run/'summary.json').read_text())
    (run/'summary.json').write_text(json.dumps({**summary, 'command': 'ebert_train --preset quick --out runs/q'}))
    cfg = json.loads((run/'config.json').read_text())
    cfg['config']['model'] = None  # as a run from the offline all-MiniLM-L6-v2 records it
    (run/'config.json').write_text(json.dumps(cfg))
    (run/'manifest.json').unlink()  # both edited files no longer match their checksums
    out = (export_hf if fmt == 'hf' else export_st)(run, tmp_path/'out')
    card = (out/'README.md').read_text()
    meta = front_matter(card)
    assert (meta['library_name'], meta['pipeline_tag'], meta['language']) == (library, tag, ['en'])
    assert meta['base_model'] == 'sentence-transformers/all-MiniLM-L6-v2' and 'extension-bert' in meta['tags']
    for key, name in (('sst/accuracy', 'SST | accuracy'), ('qqp/accuracy', 'QQP | accuracy'),
                      ('sts/pearson', 'STS | pearson'), ('average', 'average | of the tasks')):
        assert f'| {name} | {summary[key]:.4f} |' in card
    assert '```bash\nebert_train --preset quick --out runs/q\n```' in card
    assert 'Quora duplicate questions' in card and ('**mean**' if fmt == 'hf' else '(mean)') in card
    check_files(out, ['README.md'])  # recorded in the folder's manifest

def test_model_card_of_an_older_run_and_a_cls_run(runs, tmp_path):
    "No command in summary.json: said to be unknown. The cls pooling: the card's code takes `pooler_output`."
    card = (export_hf(runs['cls'], tmp_path/'hf')/'README.md').read_text()
    assert 'The command that trained it is unknown' in card
    assert 'base_model' not in front_matter(card)  # the tiny BERT is a local folder, with no Hub name
    code = re.search(r'```python\n(.*?)```', card, re.S).group(1)
    assert 'vectors = out.pooler_output' in code

@pytest.mark.parametrize('script', ['ebert_export', 'ebert_predict'])
def test_console_script_is_declared(script):
    "settings.ini names the script, and the name resolves to a function (what `pip install` wires up)."
    ini = configparser.ConfigParser()
    ini.read(ROOT/'settings.ini')
    scripts = dict(l.strip().split('=') for l in ini['DEFAULT']['console_scripts'].split('\n') if l.strip())
    module, name = scripts[script].split(':')
    assert callable(getattr(importlib.import_module(module), name))

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_gpu_predicts_as_cpu(runs):
    cpu, gpu = (load_model(runs['cls'], device=d, amp='off') for d in ('cpu', 'cuda'))
    pairs = list(zip(SENTS, SENTS[1:]))
    assert gpu.model.encoder.bert.pooler.dense.weight.is_cuda
    np.testing.assert_allclose(gpu.encode(SENTS), cpu.encode(SENTS), atol=1e-4)
    np.testing.assert_allclose(gpu.predict('sts', pairs).labels, cpu.predict('sts', pairs).labels, atol=1e-3)
    assert (gpu.predict('sst', SENTS).labels == cpu.predict('sst', SENTS).labels).all()
