"""Execute a notebook in place and keep its outputs, skipping cells that carry given flags.

    python tools/run_nb.py nbs/07_multitask.ipynb --skip gpu
    python tools/run_nb.py nbs/07a_bench.ipynb --keep 41 43   # also keep cells 41 and 43 (counted from 0) as they are

Flagged cells that are skipped keep whatever outputs they already had; use this to commit the
outputs of a real `#| slow` run on CPU without running the `#| gpu` cells.
"""
import argparse, os
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebook'); p.add_argument('--skip', nargs='*', default=['gpu'], help='flags whose cells are not run')
    p.add_argument('--keep', nargs='*', type=int, default=[],
                   help='indices (among all cells, from 0) of cells not run, whose outputs are kept')
    a = p.parse_args()
    path = Path(a.notebook).resolve()
    nb = read_nb(path)
    keep = {id(nb.cells[i]) for i in a.keep}
    def skip(cell):
        if cell.cell_type != 'code' or id(cell) in keep: return True
        first = [l.split() for l in cell.source.splitlines() if l.startswith('#|')]
        return any(len(d) > 1 and d[1] in a.skip for d in first) or 'nbdev_export(' in cell.source
    old = {i: c.get('outputs', []) for i, c in enumerate(nb.cells)}
    os.chdir(path.parent)
    sh = CaptureShell(path)
    sh.run_all(nb, exc_stop=True, preproc=skip)
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'code' and skip(c) and old[i]: c['outputs'] = old[i]
    write_nb(nb, path)
    print(f'executed {path.name}')

if __name__ == '__main__': main()
