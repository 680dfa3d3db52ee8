"""MkDocs hooks that turn the notebooks into the documentation site: `mkdocs.yml` names this file, and `make docs`
(`mkdocs build`) writes `_docs/` offline.

The pages are nbdev's processed notebooks, as `nbdev_docs` hands them to Quarto, rendered by mkdocs-jupyter:
1. nbdev's processors (`FilterDefaults`, as `nbdev_docs` runs them): a `show_doc` entry after each exported symbol,
   exported and `#| hide` cells dropped, the `# Title` / `> summary` cell turned into front matter, `backticked` names
   linked. nbdev runs the export cells and the cells that import, so a cell must hold imports alone or no import:
   one that mixes them stops the build, named (`tests/test_docs.py` builds the site).
2. What Quarto does with that and mkdocs-jupyter does not: the front matter becomes the title, the `show_doc`
   cells (`#| output: asis`) become markdown, `#|` options leave the code, Quarto's `[text](url){attrs}` becomes a
   plain link, and links to the published site (`doc_host` + `doc_baseurl` in settings.ini) become relative.
Pages keep Quarto's names (`04_pcgrad.ipynb` -> `pcgrad.html`), in notebook order; `nbs/experiments/` is a section of its
own. MathJax comes from the
`django-static-mathjax` package into `assets/mathjax/`: nothing is loaded from another site.
"""
import ast, contextlib, gc, logging, os, re, shutil
from collections import Counter
from pathlib import Path
import mathjax, yaml
from execnb.nbio import mk_cell, read_nb, write_nb
from markdown.extensions.toc import nest_toc_tokens
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.structure.toc import get_toc
from mkdocs_jupyter.utils import slugify
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.processors import FilterDefaults

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger('mkdocs.hooks.docs')

def nb_pages(nbs:Path=ROOT/'nbs') -> list:
    "The notebooks that become pages: index first, the chapters in file order, then `experiments/`; not `_scratch`."
    def found(d): return sorted(p for p in Path(d).glob('*.ipynb') if not p.name.startswith(('_', '.')))
    return sorted(found(nbs), key=lambda p: p.stem != 'index') + found(Path(nbs)/'experiments')

def page_name(nb:Path) -> str:
    """Quarto's page name, which nbdev's links use: the numeric prefix dropped (`04a_learner` -> `learner.html`);
    an experiment's page is named after its folder too (`experiments/sst.ipynb` -> `experiments-sst.html`)."""
    nb = Path(nb)
    if nb.parent.name == 'experiments': return f'experiments-{nb.stem.lower()}.html'
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.stem.lower()) + '.html'

def _mixed(cell) -> bool:
    "Does `cell` mix imports with other code (which nbdev's processing would run only in part)?"
    if cell.cell_type != 'code' or 'nbdev_export()' in cell.source: return False
    d = cell.directives_
    if d.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or d.get('eval:', [''])[0].lower() == 'false': return False
    nodes = [n for t in cell.parsed_() or [] for n in ast.walk(t)]
    def has(*types): return any(isinstance(n, types) for n in nodes)
    return has(ast.Import, ast.ImportFrom) and has(ast.Expr, ast.Assign)

def check_imports_alone(nb, name:str):
    "Stop the build if a cell of `nb` mixes imports with other code, naming it."
    mixed = [c.source.strip().splitlines()[0] for c in nb.cells if _mixed(c)]
    if mixed: raise SystemExit(f'docs: {name}: a cell mixes imports with other code ({mixed[0]!r} ...): '
                               'put the imports in a cell of their own')

_quarto_link = re.compile(r'\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}')  # [source](url){target="_blank" style="..."}
def _md(text:str) -> str: return _quarto_link.sub(r'<a href="\2" \3>\1</a>', text)
def _options(src:str) -> dict: return dict(re.findall(r'^#\|\s*([\w-]+):\s*(.*?)\s*$', src, re.M))

TITLES = {}  # page file -> title, from each notebook's front matter

def for_mkdocs(nb, name:str):
    "What Quarto does with nbdev's processed notebook `nb` (page `name`) and mkdocs-jupyter does not; returns `nb`."
    cells = []
    for c in nb.cells:
        opts = _options(c.source)
        if c.cell_type == 'raw' and c.source.startswith('---'):  # the title goes above the page (`on_page_content`)
            fm = yaml.safe_load(c.source.strip().strip('-'))
            TITLES[name] = fm['title']
            if fm.get('description'): cells.append(mk_cell(f"> {fm['description']}", 'markdown'))
        elif c.cell_type == 'markdown': cells.append(mk_cell(_md(c.source), 'markdown'))
        elif opts.get('include') == 'false': continue
        elif opts.get('output') == 'asis':  # a `show_doc` entry: its markdown is the cell
            md = [''.join(o.data['text/markdown']) for o in c.outputs if 'text/markdown' in o.get('data', {})]
            cells += [mk_cell(_md(m), 'markdown', metadata={'tags': ['api']}) for m in md]
        else:
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|')).strip()
            if opts.get('echo') == 'false': c.metadata['tags'] = c.metadata.get('tags', []) + ['remove_input']
            if opts.get('output') == 'false': c.outputs = []
            cells.append(c)
    nb.cells = cells
    return nb

def on_config(config):
    "The site's address and description from settings.ini, its navigation from the notebooks."
    cfg = get_config(path=ROOT)
    config.site_description = cfg.description
    config.site_url = f"{cfg.doc_host.rstrip('/')}/{cfg.doc_baseurl.strip('/')}/"
    pages = [(p, page_name(p).replace('.html', '.ipynb')) for p in nb_pages(cfg.nbs_path)]
    experiments = [n for p, n in pages if p.parent.name == 'experiments']
    config.nav = [n for p, n in pages if p.parent.name != 'experiments'] + \
                 ([{'Experiments': experiments}] if experiments else [])
    config.watch.append(str(cfg.nbs_path))  # `mkdocs serve` rebuilds when a notebook changes
    return config

@event_priority(50)  # before mkdocs-jupyter's on_files, which takes up the notebooks
def on_files(files, config):
    "Process every notebook with nbdev, adapt it, and add it to the site; add MathJax."
    out = ROOT/'.cache'/'docs-nbs'
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.environ['IN_TEST'] = '1'  # as nbdev's `nbdev_proc_nbs` runs its processors
    with contextlib.chdir(ROOT):  # nbdev reads settings.ini from the working directory
        for p in nb_pages(get_config().nbs_path):
            nb = read_nb(p)
            check_imports_alone(NBProcessor(p).nb, p.name)  # its own copy, with nbdev's parsed directives
            try: FilterDefaults()(nb)
            except Exception as e: raise SystemExit(f'docs: {p.name}: {e}' + (f' ({e.__cause__!r})' if e.__cause__ else '')) from None
            dst = out/page_name(p).replace('.html', '.ipynb')
            write_nb(for_mkdocs(nb, dst.name), dst)
            gc.freeze()  # each notebook's shell runs a full `gc.collect()` at exit: over torch's heap that took seconds
            # a file on disk, not a generated one: mkdocs-jupyter reads the notebook from its path
            files.append(File(dst.name, str(out), config.site_dir, config.use_directory_urls))
    del os.environ['IN_TEST']
    mj = Path(mathjax.__file__).parent/'static'/'mathjax'/'es5'  # MathJax's one-file build, its fonts, its TeX packages
    for f in [mj/'tex-mml-chtml.js', *(mj/'output/chtml/fonts/woff-v2').iterdir(), *(mj/'input/tex/extensions').iterdir()]:
        if f.is_file(): files.append(File.generated(config, f'assets/mathjax/{f.relative_to(mj)}', abs_src_path=str(f)))
    return files

_heading = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)<a class="anchor-link" href="#\2">(.*?)</a></h\1>', re.S)

def on_page_content(html, page, config, files):
    "The title from the front matter; unique heading ids, and the table of contents read from the page's headings."
    page.title = TITLES.get(page.file.src_uri, page.title)
    seen, tokens = Counter(), []
    def heading(m):  # mkdocs-jupyter's own contents can name ids that the page lacks (repeated or `code` headings)
        level, hid, body, mark = m.groups()
        seen[hid] += 1
        if seen[hid] > 1: hid = f'{hid}_{seen[hid] - 1}'
        tokens.append(dict(level=int(level), id=hid, name=re.sub(r'<[^>]+>', '', body).strip()))
        return f'<h{level} id="{hid}">{body}<a class="anchor-link" href="#{hid}">{mark}</a></h{level}>'
    html = _heading.sub(heading, html)
    page.toc = get_toc(nest_toc_tokens(tokens))
    return html

def on_env(env, config, files):
    "Links into the published site become relative; a link to a member without an entry goes to its class's entry."
    pages = {f.dest_uri: f.page for f in files.documentation_pages()}
    ids = {uri: set(re.findall(r' id="([^"]+)"', p.content or '')) for uri, p in pages.items()}
    def fix(m):
        page, frag = m.group(1), m.group(2)
        if frag is None or page not in ids: return f'href="{page}{"#" + frag if frag else ""}"'
        while slugify(frag) not in ids[page] and '.' in frag: frag = frag.rsplit('.', 1)[0]
        return f'href="{page}#{slugify(frag) if slugify(frag) in ids[page] else frag}"'
    site = re.compile(r'href="' + re.escape(config.site_url) + r'([\w.-]+\.html)(?:#([^"]*))?"')
    for p in pages.values(): p.content = site.sub(fix, p.content or '')
    return env
