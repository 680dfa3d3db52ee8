"""Render README.md from nbs/index.ipynb without Quarto (which is not installable offline).

Markdown cells are copied as they are; code cells become ```python blocks followed by their
text output; cells marked `#| hide` are left out, and `#|` directive lines are dropped.
`python tools/readme.py` writes README.md; `--check` exits 1 when README.md is out of date.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then run `make readme`. -->\n\n'

def _text(o):
    if o.get('output_type') == 'stream': return ''.join(o['text'])
    return ''.join(o.get('data', {}).get('text/plain', ''))

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip()); continue
        lines = src.split('\n')
        directives = [l for l in lines if l.startswith('#|')]
        if any(d.split()[1:2] in (['hide'], ['exporti'], ['default_exp']) for d in directives): continue
        code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if code: parts.append(f'```python\n{code}\n```')
        out = ''.join(_text(o) for o in c.get('outputs', [])).rstrip()
        if out: parts.append(f'```\n{out}\n```')
    return HEADER + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    readme, text = ROOT/'README.md', render()
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is up to date' if ok else 'README.md differs from nbs/index.ipynb: run `make readme`')
        sys.exit(0 if ok else 1)
    readme.write_text(text)
    print(f'wrote {readme}')
