"""Faults a training run meets in the wild, each refused in one line without losing the last good state.

A second writer into a live run folder (a real second process holding the lock), a holder killed with SIGKILL (its
lock is taken over), damaged weights and configs (checked against the manifests), and a scan of the package source
for anything that would execute or unpickle untrusted files. Non-finite losses are tested in `04a_learner`.
"""
import ast, json, re, shutil, signal, socket, subprocess, sys, textwrap
from pathlib import Path
import pytest, torch, torch.nn as nn
from datasets import Dataset
from conftest import ROOT, Killed, KillAt
from extension_bert.cli import ebert_train
from extension_bert.settings import StageConfig
from extension_bert.rundir import check_files
from extension_bert.distributed import no_gather
from extension_bert.sampler import BalancedSampler
from extension_bert.stage import Stage, StageParts, run_stage, start_stage

class Line(nn.Module):
    "y = w x, one parameter."
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
    def loss(self, task, batch, gather=no_gather): return ((self.w * batch['x'] - batch['labels']) ** 2).mean()
    def shared_parameters(self): return [self.w]

def collate(rows): return {'x': torch.tensor([r['x'] for r in rows]), 'labels': torch.tensor([r['label'] for r in rows])}

class LineStage(Stage):
    "A stage that trains `Line` for a few steps, in a fraction of a second."
    name = 'line'
    def setup(self):
        xs = torch.linspace(-1, 1, 8)
        data = {'t': Dataset.from_dict(dict(x=xs.tolist(), label=(3 * xs).tolist()))}
        return StageParts(Line(), data, BalancedSampler({'t': 8}, 4, n=8, seed=self.cfg.seed), collate=collate)

LOCKER = textwrap.dedent('''
    import sys, time
    from extension_bert.rundir import take_lock
    take_lock(sys.argv[1])
    print('locked', flush=True)
    time.sleep(300)
''')

@pytest.fixture
def holder(tmp_path):
    "A second process that holds the lock of `tmp_path/run` until it is killed."
    p = subprocess.Popen([sys.executable, '-c', LOCKER, str(tmp_path/'run')], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == 'locked'
        yield p
    finally:
        p.kill()
        p.wait()

def train_cli(capsys, *args) -> str:
    "Run `ebert_train` in this process as the console script does; its stderr after the plan line (status 2)."
    with pytest.raises(SystemExit) as e: ebert_train([*map(str, args)])
    assert e.value.code == 2
    first, rest = capsys.readouterr().err.split('\n', 1)
    assert first.startswith('preset pcgrad: multitask ('), first  # what the run would have done, then the error
    return rest

def test_second_writer_is_refused_and_a_dead_holder_taken_over(holder, tmp_path, capsys):
    out, cfg = tmp_path/'run', StageConfig(epochs=1, lr=0.1, warmup=0.)
    who = f'{out.resolve()} is being written by another training process (pid {holder.pid} on {socket.gethostname()}, '
    for resume in (False, True):
        with pytest.raises(ValueError) as e: run_stage(LineStage(cfg, tmp_path), out, resume=resume, progress=False)
        assert str(e.value).startswith(who + 'started ') and '\n' not in str(e.value), e.value
    err = train_cli(capsys, '--preset', 'pcgrad', '--no-progress', '--resume', '--out', out)
    assert err.startswith(f'ebert_train: error: {who}') and err.count('\n') == 1 and 'Traceback' not in err, err
    assert [p.name for p in out.iterdir()] == ['.lock']  # nothing was read, recovered or written
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with pytest.warns(UserWarning, match=rf'taking over the lock of a process that is gone \(pid {holder.pid} on '):
        summary = run_stage(LineStage(cfg, tmp_path), out, progress=False)
    assert summary['best_epoch'] == 0 and not (out/'.lock').exists()
    check_files(out)

def damage(path:Path, how:str):
    data = path.read_bytes()
    if how == 'truncated': path.write_bytes(data[:len(data) // 2])
    else: path.write_bytes(data[:-2] + bytes([data[-2] ^ 1]) + data[-1:])  # one bit, same size

@pytest.mark.parametrize('name,how', [('config.json', 'truncated'), ('model.safetensors', 'truncated'),
                                      ('model.safetensors', 'corrupted'), ('tokenizer.json', 'corrupted')])
def test_damaged_encoder_folder_is_named_before_loading(tiny_ckpt, tmp_path, name, how):
    "An earlier stage's encoder folder (`save_encoder`) damaged: the next stage refuses to start from it."
    enc = shutil.copytree(tiny_ckpt, tmp_path/'encoder')
    assert {'config.json', 'model.safetensors', 'tokenizer.json'} <= set(json.loads((enc/'manifest.json').read_text())['files'])
    damage(enc/name, how)
    with pytest.raises(ValueError, match=f'^{re.escape(str(enc/name))}: {how}:'):
        start_stage(tmp_path/'run', 'line', StageConfig(model=str(enc)), tmp_path, resume=False)
    assert not (tmp_path/'run').exists()
    (enc/'manifest.json').unlink()  # a folder written before manifests is not checked
    if how == 'corrupted': start_stage(tmp_path/'run', 'line', StageConfig(model=str(enc)), tmp_path, resume=False)

def test_cli_names_a_damaged_config_in_one_line(tiny_ckpt, tmp_path, capsys):
    enc = shutil.copytree(tiny_ckpt, tmp_path/'encoder')
    damage(enc/'config.json', 'truncated')
    err = train_cli(capsys, '--preset', 'pcgrad', '--set', f'model="{enc}"', '--no-progress', '--out', tmp_path/'run')
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    assert err.startswith(f"ebert_train: error: {enc/'config.json'}: truncated: "), err


@pytest.mark.parametrize('name', ['model.safetensors', 'optimizer.safetensors', 'trainer.json'])
def test_damaged_checkpoint_is_named_and_kept(tmp_path, name):
    out, cfg = tmp_path/'run', StageConfig(epochs=2, lr=0.1, warmup=0., ckpt_every=1)
    with pytest.raises(Killed): run_stage(LineStage(cfg, tmp_path), out, progress=False, cbs=[KillAt(step=3)])
    ck = out/'checkpoint'
    before = {p.name: p.read_bytes() for p in ck.iterdir()}
    damage(ck/name, 'truncated')
    with pytest.raises(ValueError, match=rf'^{re.escape(str(ck/name))}: truncated: \d+ bytes, manifest.json records \d+$'):
        run_stage(LineStage(cfg, tmp_path), out, resume=True, progress=False)
    assert sorted(p.name for p in ck.iterdir()) == sorted(before)  # the checkpoint is still there
    (ck/name).write_bytes(before[name])
    assert run_stage(LineStage(cfg, tmp_path), out, resume=True, progress=False)['best_epoch'] == 1

# Nothing untrusted is executed or unpickled: the package source, parsed (comments and strings do not count).
PICKLERS = {'pickle', 'cPickle', '_pickle', 'cloudpickle', 'dill', 'joblib', 'shelve', 'marshal'}

def dotted(node) -> str:
    "`a.b.c` for a name or attribute chain, else ''."
    if isinstance(node, ast.Name): return node.id
    if isinstance(node, ast.Attribute): return f'{dotted(node.value)}.{node.attr}' if dotted(node.value) else ''
    return ''

def is_true(node) -> bool: return isinstance(node, ast.Constant) and node.value is True

def unsafe(source:str, name:str='<string>') -> list:
    "`name:line: problem` for every call or import in `source` that could run or unpickle untrusted data."
    found = []
    def bad(node, problem): found.append(f'{name}:{node.lineno}: {problem}')
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split('.')[0] in PICKLERS: bad(node, f'imports {a.name}')
        elif isinstance(node, ast.ImportFrom):
            mod = (node.module or '').split('.')[0]
            if mod in PICKLERS: bad(node, f'imports from {node.module}')
            if mod == 'torch' and any(a.name == 'load' for a in node.names): bad(node, 'imports torch.load by name')
        elif isinstance(node, ast.Call):
            f, kw = dotted(node.func), {k.arg: k.value for k in node.keywords if k.arg}
            if f in ('eval', 'exec', 'builtins.eval', 'builtins.exec'): bad(node, f'calls {f}()')
            if f in ('torch.load', 'torch.serialization.load') and not is_true(kw.get('weights_only')):
                bad(node, f'{f} without weights_only=True')
            if f.split('.')[0] in PICKLERS or f.endswith('read_pickle'): bad(node, f'calls {f}()')
            if 'trust_remote_code' in kw and not (isinstance(kw['trust_remote_code'], ast.Constant)
                                                   and kw['trust_remote_code'].value is False):
                bad(node, 'passes trust_remote_code')
            if 'allow_pickle' in kw and not (isinstance(kw['allow_pickle'], ast.Constant)
                                              and kw['allow_pickle'].value is False):
                bad(node, 'passes allow_pickle')
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == 'trust_remote_code' and is_true(v):
                    bad(node, "sets 'trust_remote_code': True")
    return found

def scan(folder:Path) -> list:
    "`unsafe` over every .py file below `folder`."
    return [p for f in sorted(Path(folder).rglob('*.py')) for p in unsafe(f.read_text(), str(f.relative_to(folder)))]

def test_package_executes_and_unpickles_nothing_untrusted():
    files = sorted((ROOT/'extension_bert').rglob('*.py'))
    assert len(files) > 10 and scan(ROOT/'extension_bert') == []

@pytest.mark.parametrize('src,problem', [
    ('import pickle', 'imports pickle'), ('import cPickle as p', 'imports cPickle'), ('import dill', 'imports dill'),
    ('from joblib import load', 'imports from joblib'), ('import os, pickle.x', 'imports pickle.x'),
    ('x = pickle.loads(b)', 'calls pickle.loads()'), ('pickle.load(f)', 'calls pickle.load()'),
    ('torch.load(f)', 'torch.load without weights_only=True'),
    ('torch.load(f, weights_only=False)', 'torch.load without weights_only=True'),
    ('torch.load(f, weights_only=flag)', 'torch.load without weights_only=True'),
    ('from torch import load', 'imports torch.load by name'),
    ('eval("1 + 1")', 'calls eval()'), ('exec(code, {})', 'calls exec()'), ('builtins.exec(c)', 'calls builtins.exec()'),
    ('AutoModel.from_pretrained(n, trust_remote_code=True)', 'passes trust_remote_code'),
    ('from_pretrained(n, **{"trust_remote_code": True})', "sets 'trust_remote_code': True"),
    ('np.load(f, allow_pickle=True)', 'passes allow_pickle'), ('pd.read_pickle(f)', 'calls pd.read_pickle()'),
])
def test_checker_finds_each_unsafe_call(src, problem):
    assert unsafe(f'import torch\n\n{src}\n', 'bad.py') == [f'bad.py:3: {problem}']

def test_checker_ignores_methods_comments_and_strings():
    ok = '''
        model.eval()  # pickle, eval(x), torch.load(f)
        torch.load(f, map_location="cpu", weights_only=True)
        msg = "import pickle; exec(code); trust_remote_code=True"
        def evaluate(model): return model.eval()
        tok = AutoTokenizer.from_pretrained(p, trust_remote_code=False)
    '''
    assert unsafe(textwrap.dedent(ok)) == []

def test_scan_fails_on_a_bad_module(tmp_path):
    (tmp_path/'good.py').write_text('import json\nmodel.eval()\n')
    (tmp_path/'sub').mkdir()
    (tmp_path/'sub'/'bad.py').write_text('import torch\n\n\nstate = torch.load(path)\n')
    assert scan(tmp_path) == ['sub/bad.py:4: torch.load without weights_only=True']

@pytest.mark.parametrize('name,how', [('model.safetensors', 'truncated'), ('model.safetensors', 'corrupted'),
                                      ('config.json', 'corrupted')])
def test_damaged_run_is_named_by_eval_in_one_line(tiny_ckpt, small_data, tmp_path, capsys, name, how):
    "A finished run folder damaged on disk: `load_run` (so `ebert_eval`/`ebert_predict`) names the file."
    from extension_bert.multitask import load_run
    from extension_bert.cli import ebert_eval
    run = tmp_path/'run'
    ebert_train(['--preset', 'quick', '--set', f'model="{tiny_ckpt}"', '--set', 'samples_per_task=16',
                 '--set', 'sst_phrases=0', '--set', 'head_warmup=0', '--set', 'eval_batch_size=256',
                 '--data-dir', str(small_data), '--no-progress', '--out', str(run)])
    load_run(run)  # intact: loads
    damage(run/name, how)
    with pytest.raises(ValueError, match=f'^{re.escape(str(run/name))}: {how}:'): load_run(run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e: ebert_eval([str(run), '--sts', str(small_data/'sts-dev.csv')])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1, err
    assert err.startswith(f'ebert_eval: error: {run/name}: {how}:'), err

# --- killed anywhere, resumed: tools/faults.py (its larger run: nbs/07c_cli.ipynb) ---------------------------------
sys.path.insert(0, str(ROOT/'tools'))
import faults

@pytest.mark.parametrize('nproc,kills', [(1, 8), (2, 6)])
def test_killed_anywhere_and_resumed_equals_the_run_left_alone(tmp_path, nproc, kills):
    "mlm -> snli -> multitask, SIGKILLed at every kind of moment and in every stage, resumed each time."
    r = subprocess.run([sys.executable, ROOT/'tools'/'faults.py', '--kills', str(kills), '--nproc', str(nproc),
                        '--seed', str(nproc), '--out', tmp_path/'faults'], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and 'the run folders are equal' in r.stdout, r.stdout + r.stderr[-3000:]
    drawn, landed = r.stdout.splitlines()[:2]
    assert all(f'{k} ' in drawn for k in faults.KINDS) and all(s in drawn for s in faults.STAGES), drawn
    assert landed.startswith('killed at: ') and sum(map(int, re.findall(r'\d+', landed.split('(')[0]))) == kills, landed

def test_fault_comparison_sees_leftovers_and_changes(tmp_path):
    "The harness's folder comparison is not blind: it ignores timings and the folder's path, and nothing else."
    ref, run = tmp_path/'ref', tmp_path/'run'
    for d in (ref, run):
        (d/'predictions').mkdir(parents=True)
        (d/'model.safetensors').write_bytes(b'\0\1\2')
        (d/'metrics.jsonl').write_text(json.dumps({'epoch': 0, 'average': 0.5, 'train_seconds': len(d.name)}) + '\n')
        (d/'config.json').write_text(json.dumps({'model': str(d/'mlm'/'encoder')}))
    assert faults.differences(ref, run) == []
    (run/'predictions'/'.sst-dev-output.csv.tmp42').write_text('')
    (run/'model.safetensors').write_bytes(b'\0\1\3')
    (run/'metrics.jsonl').write_text(json.dumps({'epoch': 0, 'average': 0.6, 'train_seconds': 1}) + '\n')
    assert faults.differences(ref, run) == ['only in the killed run: predictions/.sst-dev-output.csv.tmp42',
                                            'differs: metrics.jsonl', 'differs: model.safetensors (bytes)']
