"Our BERT against transformers.BertModel on the offline checkpoint: same hidden states and pooled output."
import pytest, torch
from transformers import BertModel
from extension_bert.bert import load_pretrained, resolve_checkpoint

SENTS = [('A man is playing a guitar.', 'Someone plays an instrument.'),
         ('How do I learn Python quickly?', 'What is the fastest way to learn Python programming from scratch?'),
         ('It is raining.', 'The quick brown fox jumps over the lazy dog near the old river bank, again and again.')]

@pytest.fixture(scope='module')
def models():
    ours, tok = load_pretrained()
    hf = BertModel.from_pretrained(resolve_checkpoint(None)).eval()
    return ours.eval(), hf, tok

def _max_diff(ours, hf, enc):
    with torch.no_grad():
        h, pooled = ours(enc['input_ids'], enc['attention_mask'], enc.get('token_type_ids'))
        ref = hf(**enc)
    real = enc['attention_mask'].bool()
    return (h - ref.last_hidden_state)[real].abs().max().item(), (pooled - ref.pooler_output).abs().max().item()

def test_single_sentences_padded(models):
    ours, hf, tok = models
    enc = tok([a for a, b in SENTS] + [b for a, b in SENTS], padding=True, return_tensors='pt')
    assert enc['attention_mask'].min() == 0  # padding is exercised
    h, p = _max_diff(ours, hf, enc)
    assert h < 1e-4 and p < 1e-4, (h, p)

def test_cross_encoded_pairs_with_segments(models):
    ours, hf, tok = models
    enc = tok([a for a, b in SENTS], [b for a, b in SENTS], padding=True, return_tensors='pt')
    assert enc['token_type_ids'].max() == 1
    h, p = _max_diff(ours, hf, enc)
    assert h < 1e-4 and p < 1e-4, (h, p)

def test_no_mask_equals_full_mask(models):
    ours, hf, tok = models
    enc = tok(['two sentences of', 'equal token count'], return_tensors='pt')
    with torch.no_grad():
        a, _ = ours(enc['input_ids'], None)
        b, _ = ours(enc['input_ids'], enc['attention_mask'])
    assert torch.allclose(a, b, atol=1e-6)

def test_train_mode_gradients_flow(models):
    ours, _, tok = models
    ours.train()
    enc = tok(['gradients reach every parameter'], return_tensors='pt')
    h, pooled = ours(enc['input_ids'])
    (h.sum() + pooled.sum()).backward()
    assert all(p.grad is not None for p in ours.parameters() if p.requires_grad and 'position' not in p.__repr__())
    ours.zero_grad(); ours.eval()
