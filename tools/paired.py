"""Paired differences of runs, seed by seed: each folder of `seedS` runs minus a base folder, as markdown.

    python tools/paired.py runs/full/sum runs/levers/unpad runs/levers/redraw --prefix raw/
    python tools/paired.py runs/levers/holdout runs/levers/holdout --key sst=sst/adjusted_accuracy
    python tools/paired.py runs/levers/redraw runs/levers/redraw --base-prefix raw/

Every folder holds finished runs `seedS/summary.json` (e.g. from `tools/compare.py` or `ebert_train --out`). A row
pairs a folder with the base on the seeds both finished: the per-seed SST difference, then the mean difference ±
its standard error (sample std / sqrt(n)) of SST, QQP, STS r and their plain average, in points (× 100), and how many
seeds the average moved up on. `--prefix` and `--base-prefix` read other keys of the summaries: `raw/` is the raw
weights of a run that averaged them (`eval_raw`); `--key sst=sst/adjusted_accuracy` reads a task's figure from
another key of the folders' runs (the class-prior adjusted SST of `sst_holdout`). A folder paired with itself compares
two figures of the same runs.
"""
import argparse, json, statistics, sys
from pathlib import Path

TASKS = dict(sst='sst/accuracy', qqp='qqp/accuracy', sts='sts/pearson')

def seeds(folder:Path) -> dict:
    "seed -> summary of every finished run `folder/seedS`."
    if not folder.is_dir(): raise SystemExit(f'{folder}: no such folder')
    runs = {int(r.name[4:]): r/'summary.json' for r in folder.glob('seed*') if r.name[4:].isdigit()}
    return {s: json.loads(f.read_text()) for s, f in sorted(runs.items()) if f.is_file()}

def figures(summary:dict, prefix:str='', keys:dict|None=None, where:str='') -> list:
    "SST, QQP, STS and their mean from one summary, under `prefix`, a task's key replaced by `keys`."
    names = {t: (keys or {}).get(t, prefix + k) for t, k in TASKS.items()}
    missing = [k for k in names.values() if k not in summary]
    if missing: raise SystemExit(f'{where}: the summary has no {", ".join(missing)}')
    vals = [summary[k] for k in names.values()]
    return vals + [sum(vals) / 3]

def mean_se(col:list) -> str:
    se = statistics.stdev(col) / len(col) ** 0.5 if len(col) > 1 else float('nan')
    return f'{statistics.mean(col) * 100:+.2f} ± {se * 100:.2f}'

def table(base:Path, folders:list, prefix:str='', base_prefix:str='', keys:dict|None=None) -> str:
    "The markdown table of `folders` minus `base`, seed by seed."
    ref = seeds(base)
    head = [f'run − {base.name}', 'seeds', 'SST per seed', 'SST acc', 'QQP acc', 'STS r', 'average',
            'average > 0 on']
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for folder in folders:
        runs = seeds(folder)
        both = sorted(set(runs) & set(ref))
        if not both:
            lines.append(f'| {folder.name} | none | | | | | | |')
            continue
        diffs = [[a - b for a, b in zip(figures(runs[s], prefix, keys, f'{folder}/seed{s}'),
                                        figures(ref[s], base_prefix, None, f'{base}/seed{s}'))] for s in both]
        per_seed = ', '.join(f'{d[0] * 100:+.2f}' for d in diffs)
        cells = [folder.name, ' '.join(map(str, both)), per_seed, *[mean_se(list(c)) for c in zip(*diffs)],
                 f'{sum(d[3] > 0 for d in diffs)} of {len(diffs)}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n\n(points: differences × 100, mean ± standard error over the paired seeds)'

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('base', type=Path, help='the folder of seedS runs every other one is compared with')
    p.add_argument('folders', type=Path, nargs='+', help='folders of seedS runs')
    p.add_argument('--prefix', default='', help="read the folders' figures under this prefix, e.g. raw/")
    p.add_argument('--base-prefix', default='', help="read the base's figures under this prefix")
    p.add_argument('--key', action='append', default=[], metavar='TASK=KEY',
                   help="read TASK's figure of the folders from KEY, e.g. sst=sst/adjusted_accuracy")
    a = p.parse_args()
    keys = dict(k.split('=', 1) for k in a.key)
    bad = set(keys) - set(TASKS)
    if bad: raise SystemExit(f'--key: {", ".join(sorted(bad))} is not one of {", ".join(TASKS)}')
    print(table(a.base, a.folders, a.prefix, a.base_prefix, keys))

if __name__ == '__main__': main()
