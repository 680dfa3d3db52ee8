"""The library reads the way STYLE.md asks: short lines, one statement per line, no unused imports or undefined names,
methods attached one way (`@patch`), no private name crossing a module boundary, and layers that only look down."""
import ast, io, re, subprocess, sys, tokenize
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in (ROOT/'extension_bert').glob('*.py') if p.name != '_modidx.py')

def code_lines(path):
    "`(number, line)` of a module, without the `__all__` list that nbdev writes (wrapped by nbdev at 120 characters)."
    lines, skip = path.read_text().splitlines(), False
    for i, l in enumerate(lines, 1):
        if l.startswith('__all__'): skip = True
        if not skip: yield i, l
        if skip and l.rstrip().endswith(']'): skip = False

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_lines_at_most_110(path):
    long = [(i, len(l)) for i, l in code_lines(path) if len(l) > 110]
    assert not long, f'{path.name}: lines over 110 characters (line, length): {long}'

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_modules_at_most_400_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= 400, f'{path.name} has {n} lines: split it by job'

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_one_statement_per_line(path):
    toks = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    semis = [t.start[0] for t in toks if t.type == tokenize.OP and t.string == ';']
    assert not semis, f'{path.name}: statements joined with ";" on lines {semis}'

def test_pyflakes_clean():
    r = subprocess.run([sys.executable, '-m', 'pyflakes', *map(str, MODULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_methods_attached_with_patch(path):
    assigned = [i for i, l in code_lines(path) if re.match(r'[A-Z]\w*\.\w+(\s*,\s*[A-Z]\w*\.\w+)*\s*=[^=]', l)]
    assert not assigned, f'{path.name}: methods attached by assignment on lines {assigned}; use @patch'

LAYERS = ['data', 'bert', 'heads', 'sampler', 'pcgrad', 'combiners', 'distributed', 'evaluation', 'rundir', 'settings',
          'callbacks', 'learner', 'stage', 'tracking', 'mlm', 'snli', 'multitask', 'config', 'inference', 'tables',
          'export', 'conflicts', 'measure', 'bench', 'analysis', 'report', 'cli']

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_imports_look_down_and_stay_public(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            assert not [a.name for a in node.names if a.name.startswith('_')], f'{path.name} imports private names'
            if path.stem in LAYERS and node.module in LAYERS and path.stem != 'analysis':
                assert LAYERS.index(node.module) < LAYERS.index(path.stem), f'{path.name} imports .{node.module}'

def test_analysis_does_not_import_training():
    code = "import extension_bert.report, sys; print('extension_bert.learner' in sys.modules)"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == 'False'
