"""`gather_cat` in 2 gloo processes on the CPU: the gathered values are the concatenation of the parts, in rank order,
for uneven and empty parts; and the gradients each process gets from a loss on the gathered rows, summed over the
processes, equal the gradient of that loss on the whole batch in one process (a CoSENT-like pairwise loss and a mean).
"""
import os, subprocess
from conftest import BIN, ROOT

SCRIPT = r'''
import torch, torch.distributed as dist
from extension_bert.distributed import dist_state, gather_cat, rank, world_size

def pairwise(x, y):  # CoSENT-like: logsumexp over every pair ordered against its gold scores
    d = 20 * (x[None, :] - x[:, None])[y[:, None] > y[None, :]]
    return torch.logsumexp(torch.cat([d.new_zeros(1), d]), 0)

def square_mean(x, y): return (x ** 2).mean()

dist_state()
assert world_size() == 2 and dist.get_backend() == 'gloo'
r = rank()
for case, sizes in enumerate([(3, 0), (2, 1), (0, 2), (1, 3)]):
    n, lo = sizes[r], sum(sizes[:r])
    torch.manual_seed(case)  # the same global batch on both processes
    Z, theta0, y = torch.randn(sum(sizes), 3), torch.randn(3, 2), torch.rand(sum(sizes))
    for f, rows in [(pairwise, lambda h: h[:, 0]), (square_mean, lambda h: h)]:
        theta = theta0.clone().requires_grad_()  # a shared parameter
        x = rows(Z[lo:lo + n] @ theta)  # this process's rows: (n,) or (n, 2)
        g = gather_cat(x)
        assert g.shape[0] == sum(sizes), (sizes, g.shape)
        assert torch.equal(g.detach(), rows(Z @ theta0)), (sizes, f.__name__)  # values: the concatenation
        f(g, gather_cat(y[lo:lo + n])).backward()
        grad = theta.grad if theta.grad is not None else torch.zeros_like(theta)
        dist.all_reduce(grad)  # what the learner does with every gradient
        one = theta0.clone().requires_grad_()
        f(rows(Z @ one), y).backward()
        assert torch.allclose(grad, one.grad, atol=1e-6), (sizes, f.__name__, grad, one.grad)
empty = gather_cat(torch.zeros(0, 4))
assert empty.shape == (0, 4)
print(f'rank {r}: ok')
dist.destroy_process_group()  # before exit: a gloo thread torn down at exit can abort the process
'''

def test_gather_cat_two_processes(tmp_path):
    (tmp_path/'gather.py').write_text(SCRIPT)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT), 'ACCELERATE_USE_CPU': '1'}
    r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', str(tmp_path/'gather.py')],
                       capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert 'rank 0: ok' in r.stdout and 'rank 1: ok' in r.stdout, r.stdout
