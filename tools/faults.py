"""Kill a staged training run with SIGKILL at many moments, resume it each time, and compare it with the same run
left alone.

    python tools/faults.py --kills 40 --seed 0 --out /tmp/faults            # 1 process
    python tools/faults.py --kills 12 --nproc 2 --out /tmp/faults2         # 2 processes (torchrun, gloo)

The run is `ebert_train --preset mlm_snli_pcgrad` (masked LM, then SNLI, then multitask PCGrad) on a random 2-layer,
32-wide BERT and the first rows of every data file of $EBERT_DATA, with mid-epoch checkpoints, so that each of its
three stages takes a few seconds. Every launch runs `ebert_train` in a child process (under `torchrun` with
`--nproc 2`) that reports each *moment* it passes, named by stage, kind and training step:

- `step`: a training step starts (inside each stage);
- `eval`: the dev evaluation of an epoch has run, its result not yet used;
- `tmp-written`: a file was written to its temporary name and not yet moved to its own (model weights, JSON,
  prediction files, manifests: every `atomic_write`);
- `checkpoint-half`: the new checkpoint folder holds its weights but not yet its optimiser or trainer state;
- `checkpoint-swap`: between the two renames that replace the old checkpoint by the new one;
- `stage-end`: a stage has written its summary; the next stage has not started.

An uninterrupted run first lists every moment. Then `--kills` of them are drawn at random (seeded; at least one of
every kind and one in every stage; with 18 or more, one of every kind in every stage; the rest uniformly), and the run is started, killed with SIGKILL
(its whole process group, as when a machine dies) at the first drawn moment, resumed with `--resume` and killed at
the next, and so on; a last `--resume` finishes it. Then every file of the two run folders is compared: weights,
prediction files, telemetry, checkpoints' tensors, byte for byte; JSON and JSON-lines files (configs, summaries,
`metrics.jsonl`, manifests, trainer state) field by field, the run folder's path replaced by RUN, without the
wall-clock fields (`*_seconds`) and the manifests' checksums of the files that hold either, which no two runs share. Any file in one folder and not the other (such
as a temporary file a killed process left behind) is a difference. Exit status 0 when the folders are equal.
"""
import argparse, json, os, random, shutil, signal, subprocess, sys, time
from collections import Counter
from pathlib import Path

STAGES = ('mlm', 'snli', 'multitask')  # of the preset mlm_snli_pcgrad, in order
KINDS = ('step', 'eval', 'tmp-written', 'checkpoint-half', 'checkpoint-swap', 'stage-end')

def tiny_sets(ckpt:Path) -> list:
    "The `--set` values of the tiny staged run: 2 epochs per stage, a checkpoint every 2 steps."
    sets = [f'model="{ckpt}"', 'epochs=2', 'samples_per_task=24', 'batch_size=8', 'ckpt_every=2', 'eval_batch_size=16']
    for s in ('mlm', 'snli'):
        sets += [f'{s}.epochs=2', f'{s}.samples_per_task=24', f'{s}.batch_size=8', f'{s}.ckpt_every=2', f'{s}.eval_n=16']
    return sets

def train_args(ckpt:Path, data:Path, out:Path, resume:bool) -> list:
    args = ['--preset', 'mlm_snli_pcgrad', *[x for s in tiny_sets(ckpt) for x in ('--set', s)],
            '--data-dir', str(data), '--out', str(out), '--no-progress']
    return args + ['--resume'] if resume else args

def make_inputs(root:Path, src:Path) -> tuple:
    "A tiny random BERT checkpoint and a data folder of the first rows of every file of `src`."
    import torch
    from extension_bert.bert import Bert, BertConfig, load_pretrained
    from extension_bert.stage import save_encoder
    ckpt, data = root/'tiny-bert', root/'data'
    if not (ckpt/'model.safetensors').is_file():
        torch.manual_seed(0)
        save_encoder(ckpt, Bert(BertConfig.tiny()), load_pretrained()[1])
    rows = {'ids-sst-train.csv': 40, 'quora-train-partial.csv': 40, 'sts-train.csv': 40, 'ids-sst-dev.csv': 21,
            'quora-dev.csv': 23, 'sts-dev.csv': 19, 'ids-sst-test-student.csv': 11, 'sts-test-student.csv': 11,
            **{f'snli/{n}.{s}': 40 for n in ('s1', 's2', 'labels') for s in ('dev', 'test')}}
    for f, n in rows.items():
        (data/f).parent.mkdir(parents=True, exist_ok=True)
        lines = (src/f).read_text(encoding='utf-8').splitlines(keepends=True)
        (data/f).write_text(''.join(lines[:n + (0 if f.startswith('snli/') else 1)]), encoding='utf-8')
    return ckpt, data

def kill_all():
    "SIGKILL this run at once: this process alone, or under torchrun the agent and every worker."
    if 'LOCAL_RANK' not in os.environ: os.killpg(os.getpgrp(), signal.SIGKILL)
    agent = os.getppid()  # torchrun starts each worker in a session of its own
    workers = [int(d) for d in os.listdir('/proc') if d.isdigit() and d != str(os.getpid())
               and proc_parent(int(d)) == agent]
    for pid in [agent, *workers]:
        try: os.kill(pid, signal.SIGKILL)
        except ProcessLookupError: pass
    os.kill(os.getpid(), signal.SIGKILL)

def proc_parent(pid:int) -> int|None:
    try: return int(Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[1])
    except (OSError, IndexError, ValueError): return None

# --- the child: ebert_train with its moments reported --------------------------------------------------------------
def position(moment:str, stages:list) -> tuple:
    "Where a moment `STAGE KIND WHAT STEP N` lies in the run: (stage, step), a stage's end after its steps."
    stage, kind, _, step, _ = moment.split()
    if stage not in stages: return -1, -1  # before the first stage
    return stages.index(stage), 10**9 if kind == 'stage-end' else int(step)

def child(target:str, log:str, argv:list, stages:list):
    """Run `ebert_train argv` in this process, appending each moment to `log`; SIGKILL the run at `target`, or at
    the first moment past its position if this launch does not pass that moment (e.g. the 4th write of a file at a
    step, of which a launch resumed from that step's checkpoint makes fewer)."""
    import extension_bert.config as C, extension_bert.learner as L
    from extension_bert.callbacks import Callback
    from extension_bert.cli import ebert_train
    rank, fd = int(os.environ.get('RANK', '0')), os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    now, seen, where = dict(stage='-', learn=None), Counter(), position(target, stages) if target else None
    def moment(kind:str, what:str='-'):
        if rank: return
        learn = now['learn']
        key = (now['stage'], kind, what, learn.step if learn else -1)
        seen[key] += 1
        name = ' '.join(map(str, (*key, seen[key])))
        os.write(fd, (name + '\n').encode())  # unbuffered: the line survives the kill
        if target and (name == target or position(name, stages) > where): kill_all()

    class Moments(Callback):
        "The loop's moments, from its events."
        order = -100  # first: `eval` before any callback has used the epoch's scores
        def before_fit(self): now['learn'] = self.learn
        def before_batch(self): moment('step')
        def after_epoch(self):
            if self.learn.evaluate is not None: moment('eval')

    run_stage = C.run_stage
    def staged(stage, out, resume=False, progress=True, cbs=(), *a, **kw):
        now['stage'] = stage.name
        out = run_stage(stage, out, resume, progress, (*cbs, Moments()), *a, **kw)
        now['learn'] = None
        moment('stage-end')
        return out
    C.run_stage = staged

    save_weights = L.save_weights
    def saving(path, model):
        out = save_weights(path, model)
        if Path(path).parent.name == 'checkpoint.tmp': moment('checkpoint-half')
        return out
    L.save_weights = saving

    replace = os.replace
    def replacing(src, dst, *a, **kw):
        s, d = Path(src), Path(dst)
        if s.name.startswith('.') and '.tmp' in s.name: moment('tmp-written', d.name)
        replace(src, dst, *a, **kw)
        if s.name == 'checkpoint' and d.name == 'checkpoint.old': moment('checkpoint-swap')
    os.replace = replacing
    ebert_train(argv)

# --- the harness ---------------------------------------------------------------------------------------------------
def launch(nproc:int, target:str, log:Path, args:list, timeout:float=600) -> int:
    "One child launch in its own process group; its exit status (-9: killed at `target`)."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'FAULTS_TARGET': target, 'FAULTS_LOG': str(log),
           'FAULTS_STAGES': ' '.join(STAGES)}
    me = [str(Path(__file__).resolve())]
    cmd = [sys.executable, *me] if nproc == 1 else \
        [str(Path(sys.executable).parent/'torchrun'), '--standalone', '--nproc_per_node', str(nproc), *me]
    p = subprocess.Popen(cmd + args, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try: _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise SystemExit(f'a launch ran past {timeout} s (target {target!r})')
    if p.returncode == -signal.SIGKILL: wait_gone(log)  # torchrun's workers may outlive it by a moment
    elif p.returncode:  # the one-line errors first: under torchrun the other process's traceback follows them
        said = '\n'.join(l for l in err.splitlines() if ': error: ' in l)
        raise SystemExit(f'ebert_train failed ({p.returncode}) at target {target!r}:\n{said}\n{err[-3000:]}')
    return p.returncode

def wait_gone(log:Path, timeout:float=60):
    "Wait until no live process of a launch (one with `FAULTS_LOG=log` in its environment) is left."
    mark, t0 = f'FAULTS_LOG={log}'.encode(), time.time()
    def alive():
        for d in os.listdir('/proc'):
            try:
                if d.isdigit() and mark in Path(f'/proc/{d}/environ').read_bytes().split(b'\0') and \
                   Path(f'/proc/{d}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z': return True
            except OSError: pass
        return False
    while alive():
        if time.time() - t0 > timeout: raise SystemExit(f'processes of a killed launch still alive after {timeout} s')
        time.sleep(0.05)

def draw(moments:list, n:int, rng:random.Random) -> list:
    """`n` distinct moments in run order, at least one of every kind and one in every stage; with `n` at least the
    number of (stage, kind) pairs, one of every pair. The rest are drawn uniformly."""
    groups = {}
    for i, m in enumerate(moments): groups.setdefault(tuple(m.split()[:2]), []).append(i)
    stages, kinds = {g[0] for g in groups}, {g[1] for g in groups}
    if n >= len(groups): need = list(groups)
    else:  # a random stage for each kind, then a step of every stage not drawn yet
        need = [rng.choice([g for g in groups if g[1] == k]) for k in sorted(kinds)]
        need += [(s, 'step') for s in sorted(stages - {g[0] for g in need})]
    picks = {rng.choice(groups[g]) for g in need}
    rest = [i for i in range(len(moments)) if i not in picks]
    picks |= set(rng.sample(rest, max(0, min(n - len(picks), len(rest)))))
    return [moments[i] for i in sorted(picks)]

# files whose checksums no two runs share: wall-clock fields, or the run folder's own path (config.json, README.md)
UNSHARED = ('summary.json', 'metrics.jsonl', 'trainer.json', 'config.json', 'README.md')

def untimed(x, root:str):
    "JSON value without `*_seconds` fields, the run folder's path replaced by RUN."
    if isinstance(x, dict):
        return {k: untimed(v, root) for k, v in x.items()
                if not k.endswith('_seconds') and not (k in UNSHARED and isinstance(v, dict) and 'sha256' in v)}
    if isinstance(x, list): return [untimed(v, root) for v in x]
    return x.replace(root, 'RUN') if isinstance(x, str) else x

def differences(ref:Path, run:Path) -> list:
    "Every difference between two run folders (see the module's doc); empty when they are equal."
    files = lambda d: {str(p.relative_to(d)) for p in d.rglob('*') if p.is_file() and p.name != '.lock'}
    a, b = files(ref), files(run)
    out = [f'only in the reference: {n}' for n in sorted(a - b)] + [f'only in the killed run: {n}' for n in sorted(b - a)]
    for n in sorted(a & b):
        x, y = (ref/n).read_bytes(), (run/n).read_bytes()
        if n.endswith(('.json', '.jsonl')):
            rows = lambda t: [json.loads(l) for l in t.decode().splitlines()] if n.endswith('l') else [json.loads(t)]
            load = lambda t, root: [untimed(r, root) for r in rows(t)]
            if load(x, str(ref)) != load(y, str(run)): out.append(f'differs: {n}')
        elif n.endswith('.md'):  # text that names the run folder
            if x.decode().replace(str(ref), 'RUN') != y.decode().replace(str(run), 'RUN'): out.append(f'differs: {n}')
        elif x != y: out.append(f'differs: {n} (bytes)')
    return out

def main():
    if 'FAULTS_LOG' in os.environ:  # a child: the arguments are ebert_train's
        return child(os.environ['FAULTS_TARGET'], os.environ['FAULTS_LOG'], sys.argv[1:],
                     os.environ['FAULTS_STAGES'].split())
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--kills', type=int, default=12, help='moments to kill at (at least one of each kind and one in each stage)')
    p.add_argument('--nproc', type=int, default=1, help='processes per run (2: torchrun with gloo on the CPU)')
    p.add_argument('--seed', type=int, default=0, help='draws the kill moments')
    p.add_argument('--out', required=True, help='work folder (emptied first)')
    a = p.parse_args()
    root = Path(a.out)
    if root.exists(): shutil.rmtree(root)
    root.mkdir(parents=True)
    ckpt, data = make_inputs(root, Path(os.environ.get('EBERT_DATA', '../shared/data')))
    t0 = time.time()
    launch(a.nproc, '', root/'moments.log', train_args(ckpt, data, root/'ref', False))
    moments = (root/'moments.log').read_text().split('\n')[:-1]
    targets = draw(moments, a.kills, random.Random(a.seed))
    kinds, stages = Counter(m.split()[1] for m in targets), Counter(m.split()[0] for m in targets)
    print(f'{len(moments)} moments in the uninterrupted run ({time.time() - t0:.0f} s); drew {len(targets)}: '
          + ', '.join(f'{k} {kinds[k]}' for k in KINDS if kinds[k]) + '; in '
          + ', '.join(f'{s} {n}' for s, n in stages.items()), flush=True)
    log, landed = root/'killed.log', []
    for i, t in enumerate(targets):
        start = log.stat().st_size if log.exists() else 0
        rc = launch(a.nproc, t, log, train_args(ckpt, data, root/'run', i > 0))
        if rc != -signal.SIGKILL: raise SystemExit(f'launch {i + 1} finished without being killed (target {t!r})')
        landed.append(log.read_bytes()[start:].decode().split('\n')[-2])  # the moment it died at
    launch(a.nproc, '', log, train_args(ckpt, data, root/'run', True))
    kinds = Counter(m.split()[1] for m in landed)
    print("killed at: " + ', '.join(f'{k} {kinds[k]}' for k in KINDS if kinds[k]) +
          f' ({sum(m != t for m, t in zip(landed, targets))} just past a drawn moment that their launch did not pass)')
    diff = differences(root/'ref', root/'run')
    n = sum(1 for _ in (root/'ref').rglob('*'))
    print(f'{len(targets)} kills, {len(targets) + 1} resumed launches, {time.time() - t0:.0f} s: ' +
          (f'the run folders are equal ({n} files and folders)' if not diff else 'DIFFERENT:\n  ' + '\n  '.join(diff)))
    sys.exit(1 if diff else 0)

if __name__ == '__main__': main()
