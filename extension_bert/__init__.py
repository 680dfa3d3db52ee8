"""extension_bert: one BERT encoder fine-tuned on SST, QQP and STS at once.

`from extension_bert import load_model` is the front door for a trained run. This file imports nothing
heavy, so the console scripts answer `--help` at once; the modules (`.inference`, ...) load PyTorch.
"""
__version__ = "0.1.0"

def load_model(run, # a finished run folder (`ebert_train --out RUN`)
               device=None, # 'cpu', 'cuda', 'cuda:1', ...; None: CUDA when available
               amp=None): # 'auto', 'native', 'bf16' or 'off'; None: the run's setting
    """A trained run, ready to predict: `load_model('runs/quick').predict('sst', 'A fine film.')`.

    Returns an `extension_bert.inference.Predictor`: `predict(task, inputs)` takes one sentence, one pair,
    or a list of either, and `encode(sentences)` gives sentence vectors with the run's pooling."""
    from .inference import load_model as load
    return load(run, device=device, amp=amp)
