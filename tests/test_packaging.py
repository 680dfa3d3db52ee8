"The package as users get it: a wheel built from setup.py works installed non-editable; notebooks and package agree."
import os, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_wheel_installs_and_imports(tmp_path):
    src = tmp_path/'src'
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.venv', '.git', 'runs', '_docs', '_proc', 'build', 'dist', '*.egg-info', '__pycache__'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(tmp_path/'dist'), str(src)], check=True)
    wheels = list((tmp_path/'dist').glob('extension_bert-*.whl'))
    assert len(wheels) == 1, wheels
    site = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-compile', '--target', str(site), str(wheels[0])], check=True)
    code = ('import extension_bert, extension_bert.data, extension_bert.bert, pathlib\n'
            'print(pathlib.Path(extension_bert.__file__).parent)\n'
            'from extension_bert.bert import Bert, BertConfig\n'
            'import torch; h, p = Bert(BertConfig.tiny())(torch.tensor([[101, 2023, 102]])); print(tuple(h.shape))')
    env = {**os.environ, 'PYTHONPATH': str(site)}
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split('\n')
    assert Path(out[0]) == site/'extension_bert', out  # the installed copy, not the checkout
    assert out[1] == '(1, 3, 32)'
    installed = {p.name for p in (site/'extension_bert').glob('*.py')}
    assert installed >= {p.name for p in (ROOT/'extension_bert').glob('*.py')}, installed

def test_export_matches_package(tmp_path):
    "nbdev_export on a copy of the notebooks reproduces the committed package byte for byte."
    for name in ('nbs', 'extension_bert'): shutil.copytree(ROOT/name, tmp_path/name, ignore=shutil.ignore_patterns('__pycache__', 'runs'))
    for name in ('settings.ini', 'setup.py', 'pyproject.toml'): shutil.copy(ROOT/name, tmp_path/name)
    exporter = Path(sys.executable).parent/'nbdev_export'
    subprocess.run([str(exporter)], cwd=tmp_path, check=True)
    for p in (ROOT/'extension_bert').rglob('*.py'):
        q = tmp_path/p.relative_to(ROOT)
        assert q.read_text() == p.read_text(), f'{p.relative_to(ROOT)} differs from what nbdev_export writes: run nbdev_export'
    made = {p.relative_to(tmp_path) for p in (tmp_path/'extension_bert').rglob('*.py')}
    assert made == {p.relative_to(ROOT) for p in (ROOT/'extension_bert').rglob('*.py')}

def test_readme_matches_index():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
