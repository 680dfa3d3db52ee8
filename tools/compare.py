"""Train one recipe with several combiners over several seeds, and print the comparison as markdown.

    python tools/compare.py --preset quick --set samples_per_task=2000 --set head_warmup=2000 \
        --combiners sum pcgrad mgda --seeds 0 1 2 --out runs/compare --jobs 2
    python tools/compare.py --out runs/compare                       # only read the finished runs

`--dev-subset quora-dev.csv=2000` evaluates on a fixed random 2,000 of that dev file's pairs (the same for every
run: a data folder OUT/data links every other file of $EBERT_DATA), since the full QQP dev set (20,212 pairs)
costs more than the training of a small run on a CPU.

Each run is `ebert_train --preset P --set combiner=NAME --set seed=S ... --out OUT/NAME/seedS`, in its own
process (`--jobs` at a time, each with OMP_NUM_THREADS = cores / jobs); a finished run (one with
summary.json) is not trained again, so the command can be repeated after an interruption. The table has, per
combiner, the mean ± sample std over seeds of dev SST, QQP (optimistic with the MiniLM backbone, which saw Quora
duplicates), STS r, their plain average and the wall time, and the mean over seeds of each task pair's conflict
rate (the share of steps whose two task gradients had a negative dot product) and gradient cosine, from
`telemetry.jsonl` (only combiners that compute per-task gradients log them), and the mean weight each combiner
gave each task's loss or gradient (`weight/t`; the sum logs none: its weights are 1). A second table pairs the
runs by seed: each combiner minus `--paired-with` (default `sum`) on the seeds both finished, mean difference ±
standard error.
"""
import argparse, json, os, random, statistics, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from paired import TASKS, table  # tools/paired.py, beside this file

METRICS = tuple(TASKS.values())

def train(out:Path, preset:str, combiner:str, seed:int, sets:list, scale:float, threads:int) -> str:
    "Train one run unless it is finished; return a line for the log."
    if (out/'summary.json').is_file(): return f'{out}: finished before'
    args = [Path(sys.executable).parent/'ebert_train', '--preset', preset, '--set', f'combiner="{combiner}"',
            '--set', f'seed={seed}', *[x for s in sets for x in ('--set', s)], '--scale', str(scale),
            '--out', str(out), '--no-progress'] + (['--resume'] if (out/'checkpoint').is_dir() else [])
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads)}
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    if r.returncode: return f'{out}: FAILED ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}'
    return f'{out}: done'

def subset_data(src:Path, dst:Path, subsets:dict) -> Path:
    "A data folder `dst` linking every file of `src` but with `n` random data lines (seed 0) of each subset file."
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name in subsets or (dst/f.name).exists(): continue
        (dst/f.name).symlink_to(f.resolve())
    for name, n in subsets.items():
        head, *rows = (src/name).read_text(encoding='utf-8').splitlines(keepends=True)  # one record per line
        if not 0 < n <= len(rows): raise SystemExit(f'--dev-subset {name}={n}: the file has {len(rows)} data lines')
        keep = sorted(random.Random(0).sample(range(len(rows)), n))
        text = head + ''.join(rows[i] for i in keep)
        if not (dst/name).is_file() or (dst/name).read_text(encoding='utf-8') != text:
            (dst/name).write_text(text, encoding='utf-8')
    return dst

def telemetry_means(run:Path) -> dict:
    "Mean over the run's logged steps of every `conflict/a-b`, `cos/a-b` and task weight `weight/t`."
    f = run/'telemetry.jsonl'
    rows = [json.loads(line) for line in f.read_text().splitlines()] if f.is_file() else []
    keys = sorted({k for r in rows for k in r if k.startswith(('conflict/', 'cos/', 'weight/'))})
    return {k: statistics.mean(r[k] for r in rows if k in r) for k in keys}

def summarise(root:Path) -> str:
    "The markdown table of every finished run under `root/COMBINER/seedS`."
    lines, found = [], {}
    for comb in sorted(p for p in root.iterdir() if p.is_dir() and p.name != 'data'):
        runs = [r for r in sorted(comb.glob('seed*')) if (r/'summary.json').is_file()]
        if runs: found[comb.name] = runs
    tele = {c: [telemetry_means(r) for r in runs] for c, runs in found.items()}
    def names(kind): return sorted({k.split('/', 1)[1] for ts in tele.values() for t in ts for k in t
                                    if k.startswith(kind + '/')})
    extra = {kind: names(kind) for kind in ('conflict', 'cos', 'weight')}  # task pairs; tasks for weights
    head = ['combiner', 'seeds', 'SST acc', 'QQP acc', 'STS r', 'average', 'wall s'] + \
           [f'{kind} {x}' for kind, xs in extra.items() for x in xs]
    lines += ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    def ms(vals, f='.4f'):
        if len(vals) < 2: return format(vals[0], f)
        return f'{format(statistics.mean(vals), f)} ± {format(statistics.stdev(vals), f)}'
    for comb, runs in found.items():
        sums = [json.loads((r/'summary.json').read_text()) for r in runs]
        cols = [[s[m] for s in sums] for m in METRICS]
        avg = [sum(v) / 3 for v in zip(*cols)]
        wall = [s.get('wall_seconds', float('nan')) for s in sums]
        cells = [comb, str(len(runs)), *[ms(c) for c in cols], ms(avg), ms(wall, '.0f')]
        for kind, xs in extra.items():
            for p in xs:
                vals = [t[f'{kind}/{p}'] for t in tele[comb] if f'{kind}/{p}' in t]
                cells.append(f'{statistics.mean(vals):.2f}' if vals else '–')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

def paired(root:Path, base:str='sum') -> str:
    """Each combiner minus `base`, seed by seed (the seeds both finished): `tools/paired.py`'s table of the mean
    difference ± its standard error of SST, QQP, STS and the average, and how many seeds the average moved up on."""
    if not (root/base).is_dir(): return f'(no finished {base} runs to pair with)'
    return table(root/base, [c for c in sorted(root.iterdir()) if c.is_dir() and c.name not in ('data', base)])

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', default='quick')
    p.add_argument('--combiners', nargs='*', default=[])
    p.add_argument('--seeds', nargs='*', type=int, default=[0, 1, 2])
    p.add_argument('--set', action='append', default=[], dest='sets', metavar='KEY=VALUE')
    p.add_argument('--scale', type=float, default=1.0)
    p.add_argument('--out', required=True)
    p.add_argument('--jobs', type=int, default=1)
    p.add_argument('--paired-with', default='sum', metavar='COMBINER',
                   help='the combiner every other one is compared with, seed by seed')
    p.add_argument('--dev-subset', nargs='*', default=[], metavar='FILE=N',
                   help='evaluate on a fixed random N data lines of this dev file of $EBERT_DATA')
    a = p.parse_args()
    root = Path(a.out)
    if a.dev_subset:
        sub = {k: int(v) for k, v in (x.split('=', 1) for x in a.dev_subset)}
        src = Path(os.environ.get('EBERT_DATA', '../shared/data'))
        os.environ['EBERT_DATA'] = str(subset_data(src, root/'data', sub))
    todo = [(root/c/f'seed{s}', c, s) for s in a.seeds for c in a.combiners]
    threads = max(1, (os.cpu_count() or 1) // a.jobs)
    with ThreadPoolExecutor(a.jobs) as ex:
        for line in ex.map(lambda t: train(t[0], a.preset, t[1], t[2], a.sets, a.scale, threads), todo):
            print(line, file=sys.stderr, flush=True)
    print(summarise(root))
    print()
    print(paired(root, a.paired_with))

if __name__ == '__main__': main()
