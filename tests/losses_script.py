"""Two steps of every task loss, run alone or under `torchrun --nproc_per_node 2`; used by test_losses.py.

Each case is a tiny model without dropout, a batch of 7 examples (4 + 3 on two processes), then a batch of 1 (the second
process has no rows), one `Learner.train_step` each with the sum combiner; rank 0 saves each step's logged losses and the
gradients the optimiser applies (summed over the processes) to OUT/CASE-WORLD.safetensors.
"""
import os, sys
from pathlib import Path
import torch
from datasets import Dataset
from safetensors.torch import save_file
from extension_bert.bert import Bert, BertConfig, load_pretrained
from extension_bert.data import Collator, load_task, load_snli, tokenize_task
from extension_bert.heads import MultitaskBert, build_heads
from extension_bert.sampler import BalancedSampler
from extension_bert.learner import Learner
from extension_bert.settings import StageConfig
from extension_bert.mlm import BertForMlm, MlmCollator
from extension_bert.snli import build_nli_model
from extension_bert.distributed import world_size, is_main

out, tok = Path(sys.argv[1]), load_pretrained()[1]
def tiny(): return Bert(BertConfig.tiny(hidden_dropout_prob=0., attention_probs_dropout_prob=0.))

def task_data(mode:dict):
    "The first 7 train rows of SST, QQP and STS, tokenised for each head's mode."
    return {t: tokenize_task(load_task(t, 'train').select(range(7)), tok, m) for t, m in mode.items()}

def multitask(qqp='siamese', sts='siamese', sts_loss='mse'):
    model = MultitaskBert(tiny(), build_heads(32, qqp, sts, 0.0, tok.pad_token_id, sts_loss=sts_loss), 'mean')
    modes = {t: h.mode for t, h in model.heads.items()}
    return model, task_data(modes), Collator(tok.pad_token_id)

def nli():
    return build_nli_model(tiny(), 'cls'), {'snli': tokenize_task(load_snli('dev').select(range(7)), tok, 'siamese')}, \
        Collator(tok.pad_token_id)

def mlm():
    "Fixed masks (the collator's own generator), so both runs see the same targets."
    rows = [{'sentence': s} for s in load_task('sst', 'train').select(range(7))['sentence']]
    b = MlmCollator(tok, 0.3, generator=torch.Generator().manual_seed(0))(rows)
    ds = Dataset.from_dict({'input_ids': b['input_ids'].tolist(), 'labels': b['labels'].tolist()})
    def collate(rs):
        ids = torch.tensor([r['input_ids'] for r in rs])
        return dict(input_ids=ids, attention_mask=ids != tok.pad_token_id, labels=torch.tensor([r['labels'] for r in rs]))
    return BertForMlm(tiny()), {'mlm': ds}, collate

CASES = dict(ce_bce_mse=(multitask, {}), cosine_mse=(multitask, dict(sts='cosine')),
             cosent=(multitask, dict(sts='cosine', sts_loss='cosent')), cross=(multitask, dict(qqp='cross', sts='cross')),
             nli=(nli, {}), mlm=(mlm, {}))
for name, (make, kw) in CASES.items():
    torch.manual_seed(0)
    model, data, collate = make(**kw)
    sampler = BalancedSampler({t: len(d) for t, d in data.items()}, 7, n=7)
    learn = Learner(model, data, sampler, StageConfig(lr=1e-3, warmup=0.), 'sum', collate=collate, device='cpu')
    seen, apply = {}, learn.opt.step
    for i, idx in enumerate((list(range(7)), [3])):
        def record(*a, **k):
            "Keep the summed gradients that the optimiser is about to apply."
            seen.update({f'{i}.grad.{n}': p.grad.detach().clone() for n, p in model.named_parameters()
                         if p.grad is not None})
            return apply(*a, **k)
        learn.opt.step = record
        tel = learn.train_step({t: idx for t in data})
        seen.update({f'{i}.{k}': v.detach().reshape(1).clone() for k, v in tel.items() if k.startswith('loss/')})
    if is_main(): save_file(seen, str(out/f'{name}-{world_size()}.safetensors'))
