"""Time a preset's training step with and without some settings, in one process, and print the ratio.

    python tools/step_cost.py --preset quick --set sst_rdrop=1.0
    python tools/step_cost.py --preset quick --set sst_rdrop=1.0 --steps 10 --repeats 4 --train-n 4000
    python tools/step_cost.py --base model='"runs/my-bert"' --set combiner='"pcgrad"'  # --base: both learners

Two learners are built as `ebert_train` builds them (`bench_learner`): one from the preset, one from the preset with
the `--set` overrides. Each draws its first `steps` steps from its own sampler (the same seed, so the same examples
where the settings leave the training data alone) and replays them window after window, the two learners taking
turns (A B A B ...), so that a drift of the machine's speed touches both alike. One untimed window each first.
Prints the median seconds per step of each and `ratio=` (with the overrides over without). Weights change between
windows, shapes do not, so this measures the cost of the settings, not their quality.
"""
import argparse, statistics, time
from itertools import islice
import datasets, torch, transformers
from extension_bert.bench import bench_learner, first_rows
from extension_bert.measure import endless_steps
from extension_bert.bert import load_pretrained
from extension_bert.config import load_config
from extension_bert.evaluation import load_splits

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', default='quick')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', help='the settings to cost')
    p.add_argument('--base', action='append', default=[], metavar='KEY=VALUE', help='settings of both learners')
    p.add_argument('--steps', type=int, default=10, help='steps per window')
    p.add_argument('--repeats', type=int, default=4, help='timed windows per learner')
    p.add_argument('--train-n', type=int, default=4000, help='first training examples per task (0: all)')
    p.add_argument('--data-dir', default=None)
    a = p.parse_args(argv)
    if not a.set: p.error('give at least one --set KEY=VALUE to cost')
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    learners, splits = {}, {}
    for name, sets in (('without', a.base), ('with', a.base + a.set)):
        cfg = load_config(a.preset, sets=sets)
        bert, tokenizer = load_pretrained(cfg.model)
        tasks = tuple(cfg.tasks)  # read once for both learners unless the settings change the tasks
        if tasks not in splits: splits[tasks] = first_rows(load_splits(cfg.tasks, 'train', a.data_dir), a.train_n)
        learn = bench_learner(cfg, bert, tokenizer, splits[tasks], device='cpu')
        learn.model.train()
        learners[name] = (learn, list(islice(endless_steps(learn.sampler), a.steps)))
    times = {name: [] for name in learners}
    for r in range(a.repeats + 1):
        for name, (learn, steps) in learners.items():
            t0 = time.perf_counter()
            for s in steps: learn.train_step(s)
            if r: times[name].append((time.perf_counter() - t0) / a.steps)  # window 0 is untimed
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f'preset {a.preset}, {" ".join(a.set)}; {a.steps} steps x {a.repeats} windows each, '
          f'{torch.get_num_threads()} threads')
    for name, ts in times.items():
        print(f'{name:8s} median {med[name]:.3f} s/step  windows ' + ' '.join(f'{t:.3f}' for t in ts))
    print(f"ratio={med['with'] / med['without']:.2f}")

if __name__ == '__main__': main()
