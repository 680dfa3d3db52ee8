"""Convert notebooks to and from a plain-text cell format for editing in any editor.

    python tools/nb.py to-text nbs/00_data.ipynb  > /tmp/00_data.txt
    python tools/nb.py to-nb /tmp/00_data.txt nbs/00_data.ipynb

A text file is a list of cells, each starting with a marker line: `#%% md` for markdown,
`#%%` for code. `to-nb` keeps the outputs of code cells whose source did not change.
"""
import hashlib, json, sys
from pathlib import Path

def to_text(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    out = []
    for c in nb['cells']:
        out.append('#%% md' if c['cell_type'] == 'markdown' else '#%%')
        out.append(''.join(c['source']).rstrip('\n'))
    return '\n'.join(out) + '\n'

def parse_text(text):
    cells, cur = [], None
    for line in text.splitlines():
        if line.strip() in ('#%%', '#%% md'):
            cur = {'type': 'markdown' if line.strip() == '#%% md' else 'code', 'lines': []}
            cells.append(cur)
        elif cur is not None: cur['lines'].append(line)
    return [(c['type'], '\n'.join(c['lines']).strip('\n')) for c in cells]

def to_nb(txt_path, nb_path):
    old, ids = {}, {}
    if Path(nb_path).exists():
        for c in json.loads(Path(nb_path).read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'code': old[src] = c.get('outputs', [])
            if 'id' in c: ids.setdefault(src, c['id'])
    cells = []
    for kind, src in parse_text(Path(txt_path).read_text()):
        lines = [l + '\n' for l in src.split('\n')]
        if lines: lines[-1] = lines[-1].rstrip('\n')
        # cell ids name the exported cells (`# %% ... #id`): keep a cell's id, else derive one from its text
        cid = ids.get(src) or hashlib.sha1(f'{len(cells)}:{src}'.encode()).hexdigest()[:8]
        c = {'cell_type': kind, 'id': cid, 'metadata': {}, 'source': lines}
        if kind == 'code': c.update(execution_count=None, outputs=old.get(src, []))
        cells.append(c)
    nb = {'cells': cells, 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    Path(nb_path).write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + '\n')

if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    if cmd == 'to-text': sys.stdout.write(to_text(args[0]))
    elif cmd == 'to-nb': to_nb(*args)
    else: sys.exit(f'unknown command {cmd!r}: use to-text or to-nb')
