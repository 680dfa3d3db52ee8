"""Train a preset over several seeds, or read finished runs, and print dev mean ± std as a markdown table.

    python tools/seeds.py --preset quick --seeds 0 1 2 --out runs/seeds     # trains runs/seeds/seed0, ...
    python tools/seeds.py --preset quick --seeds 0 1 2 --out runs/seeds --set ema=0.995
    python tools/seeds.py runs/seeds/seed0 runs/seeds/seed1 runs/seeds/seed2 # only reads their summary.json

Columns: dev SST accuracy, QQP accuracy (optimistic with the MiniLM backbone, which saw Quora duplicates),
STS Pearson r, the plain average of the three, CS224N's normalised average (SST + QQP + (r + 1) / 2) / 3,
and the wall time. The spread is the sample standard deviation (n - 1). `seed=S` is set on the multitask stage
(an earlier stage of a staged preset keeps its own seed: `--set mlm.seed=S` changes it).
"""
import argparse, json, statistics, sys, time
from pathlib import Path

COLUMNS = ('sst/accuracy', 'qqp/accuracy', 'sts/pearson', 'average', 'cs224n', 'wall_seconds')

def row(summary:dict, prefix:str='') -> dict:
    "The table's columns from a run's `summary.json` (`prefix`: read e.g. `raw/sst/accuracy` instead)."
    keys = [prefix + k for k in ('sst/accuracy', 'qqp/accuracy', 'sts/pearson')]
    if any(k not in summary for k in keys): raise KeyError(f'no {", ".join(k for k in keys if k not in summary)}')
    r = dict(zip(('sst/accuracy', 'qqp/accuracy', 'sts/pearson'), (summary[k] for k in keys)))
    r['average'] = sum(r.values()) / 3
    r['cs224n'] = (r['sst/accuracy'] + r['qqp/accuracy'] + (r['sts/pearson'] + 1) / 2) / 3
    r['wall_seconds'] = summary.get('wall_seconds', float('nan'))
    return r

def table(rows:dict) -> str:
    "Markdown: one line per run, then mean ± std."
    fmt = lambda k, v: f'{v:.0f}' if k == 'wall_seconds' else f'{v:.4f}'
    lines = ['| run | SST acc | QQP acc | STS r | average | CS224N average | wall s |', '|---' * 7 + '|']
    lines += [f'| {name} | ' + ' | '.join(fmt(k, r[k]) for k in COLUMNS) + ' |' for name, r in rows.items()]
    if len(rows) > 1:
        cells = []
        for k in COLUMNS:
            vals = [r[k] for r in rows.values()]
            m, s = statistics.mean(vals), statistics.stdev(vals)
            cells.append(f'{m:.0f} ± {s:.0f}' if k == 'wall_seconds' else f'{m:.4f} ± {s:.4f}')
        lines.append(f'| **mean ± std** ({len(rows)} runs) | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('runs', nargs='*', help='finished run folders to read (no training)')
    p.add_argument('--preset'); p.add_argument('--config')
    p.add_argument('--seeds', nargs='*', type=int, default=[0, 1, 2])
    p.add_argument('--out', help='folder for the seed runs (seed0/, seed1/, ...)')
    p.add_argument('--set', action='append', default=[], dest='sets', metavar='KEY=VALUE')
    p.add_argument('--data-dir')
    p.add_argument('--prefix', default='', help="read metrics with this prefix, e.g. 'raw/'")
    a = p.parse_args()
    if a.runs and (a.preset or a.config): p.error('give run folders or a preset, not both')
    if a.runs: folders = [Path(r) for r in a.runs]
    else:
        if not (a.preset or a.config) or not a.out: p.error('training needs --preset (or --config) and --out')
        from extension_bert.config import load_pipeline, run_pipeline
        folders = []
        for s in a.seeds:
            out = Path(a.out)/f'seed{s}'
            t0 = time.time()
            stages = load_pipeline(a.preset, a.config, [*a.sets, f'seed={s}'])
            run_pipeline(stages, out, a.data_dir, progress=False)
            print(f'seed {s}: {out} ({time.time() - t0:.0f} s)', file=sys.stderr)
            folders.append(out)
    rows = {}
    for f in folders:
        summary = f/'summary.json'
        if not summary.is_file(): sys.exit(f'seeds: {summary}: no such file (not a finished run)')
        try: rows[str(f)] = row(json.loads(summary.read_text()), a.prefix)
        except KeyError as e: sys.exit(f'seeds: {summary}: {e.args[0]}')
    print(table(rows))

if __name__ == '__main__': main()
