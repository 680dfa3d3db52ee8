"A folder saved by `transformers.BertForMaskedLM` (no pooler weights) loads with a fresh pooler and one warning."
import warnings
import pytest, torch
transformers = pytest.importorskip('transformers')
from extension_bert.bert import load_pretrained

def test_mlm_folder_without_pooler(tmp_path):
    torch.manual_seed(0)
    tokenizer = load_pretrained()[1]
    cfg = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=37)
    transformers.BertForMaskedLM(cfg).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model, tok = load_pretrained(tmp_path)
    ours = [w for w in caught if 'pooler' in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    msg = str(ours[0].message)
    assert 'pooler.dense.weight' in msg and 'pooler.dense.bias' in msg and '\n' not in msg
    hf = transformers.BertModel.from_pretrained(tmp_path).eval()
    enc = tok(['A man is playing a guitar.', 'Hi'], padding=True, return_tensors='pt')
    with torch.no_grad():
        h = model(enc['input_ids'], enc['attention_mask'])[0]
        ref = hf(**enc).last_hidden_state
    real = enc['attention_mask'].bool()
    assert (h - ref)[real].abs().max().item() < 1e-5
