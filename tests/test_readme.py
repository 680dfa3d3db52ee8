"""README.md is the front door: short, names every notebook, links to docs headings that exist, never tells anyone to
`pip install` a package that is not on PyPI, and every figure of its results table is the one its notebook records."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
README = (ROOT/'README.md').read_text()
SITE = 'https://extension-bert.github.io/extension_bert/'

# The notebooks that record each row of the README's results table, by the start of the row's label.
SOURCES = {'CS224N seed': 'experiments/recipe experiments/sst', '**`quick`**': 'experiments/sst', '`best`': 'experiments/sst',
           '`Trainer`, SST alone': 'experiments/sst', 'Hugging Face `Trainer`': '09_guide',
           'sentence-transformers': '09_guide', 'zero-shot': '09_guide', 'frozen encoder': '09_guide'}
FIGURE = re.compile(r'\d+\.\d+(?: ± \d+\.\d+)?')  # 0.4351, or a mean ± std as one figure

def nb_text(stem:str) -> str:
    "The sources and text outputs of every cell of `nbs/STEM.ipynb`, as one string."
    parts = []
    for c in json.loads((NBS/f'{stem}.ipynb').read_text())['cells']:
        parts.append(''.join(c['source']))
        for o in c.get('outputs', []): parts.append(''.join(o.get('text', o.get('data', {}).get('text/plain', ''))))
    return '\n'.join(parts)

def results_rows(readme:str) -> list:
    "`(label, [figure, ...])` for each row of the table under the `| dev sets |` header."
    lines = readme.split('\n')
    start = next(i for i, l in enumerate(lines) if l.startswith('| dev sets |'))
    rows = []
    for l in lines[start+2:]:
        if not l.startswith('|'): break
        label, *cells = [c.strip() for c in l.strip('|').split('|')]
        rows.append((label, [f for c in cells for f in FIGURE.findall(c.replace('**', ''))]))
    return rows

def disagreements(readme:str) -> list:
    "Each figure of the results table that the notebook recording its row does not hold, as `(label, figure, nb)`."
    bad, texts = [], {}
    for label, figures in results_rows(readme):
        stem = next((nb for start, nb in SOURCES.items() if label.startswith(start)), None)
        assert stem, f'results row {label!r}: add the notebook that records it to SOURCES'
        text = texts.setdefault(stem, '\n'.join(nb_text(s) for s in stem.split()))
        bad += [(label, f, stem) for f in figures if f not in text]
    return bad

def test_short():
    assert len(README) <= 8000, f'README.md has {len(README):,} characters; the details belong in nbs/09_guide.ipynb'

def test_names_every_notebook():
    found = sorted([*NBS.glob('*.ipynb'), *NBS.glob('experiments/*.ipynb')])
    stems = [str(p.relative_to(NBS).with_suffix('')) for p in found if not p.name.startswith('_')]
    missing = [s for s in stems if f'`{s}`' not in README]
    assert not missing, f'README.md does not list {missing}: add them to the notebook table of nbs/index.ipynb'

def test_results_agree_with_notebooks():
    rows = results_rows(README)
    assert len(rows) >= 8 and sum(len(f) for _, f in rows) >= 20, rows  # the table was found and parsed
    bad = disagreements(README)
    assert not bad, f'README figures that their notebooks do not record (row, figure, notebook): {bad}'

def test_a_changed_figure_fails():
    "The check above can fail: one digit changed in the table (0.4850 -> 0.4851), or one peer's figure, is caught."
    assert disagreements(README.replace('0.4850 ± 0.0051', '0.4851 ± 0.0051', 1))
    assert disagreements(README.replace('| 0.7683 |', '| 0.7684 |', 1))

def test_install_from_the_repository():
    assert not re.search(r'pip install\s+extension[_-]bert', README, re.I), 'the package is not on PyPI'
    assert 'pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu' in README

def test_docs_links_exist():
    "Every link to the docs site names a notebook's page, and a `##` heading of it when it has a `#fragment`."
    pages = {re.sub(r'^\d+[a-zA-Z0-9]*_', '', p.stem.lower()) + '.html': p for p in NBS.glob('*.ipynb')}
    links = re.findall(re.escape(SITE) + r'([\w.]*)(?:#([\w-]+))?', README)
    assert links
    for page, frag in links:
        if not page: continue
        assert page in pages, f'README links to {page}, which no notebook makes'
        heads = re.findall(r'^## (.+)$', nb_text(pages[page].stem), re.M)
        slugs = {re.sub(r'[^\w\s-]', '', h.lower()).strip().replace(' ', '-') for h in heads}
        assert not frag or frag in slugs, f'{page} has no heading #{frag} (it has {sorted(slugs)})'
