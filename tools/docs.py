"""Build the documentation site offline, without Quarto: `python tools/docs.py` (or `make docs`) writes `_docs/`.

1. nbdev's own processing, as `nbdev_proc_nbs` / `nbdev_docs` run it before Quarto (`nbdev.processors.FilterDefaults`),
   turns each notebook into `_proc/*.ipynb`: a `show_doc` cell after each exported symbol, executed so that the
   API entry is markdown; exported and `#| hide` cells dropped; the `# Title` / `> summary` cell turned into
   front matter (title, description); `backticked` names linked to their entries. One difference: a cell that
   mixes imports with other code (nbdev warns about those) runs only its imports, so building the docs never
   runs a notebook's tests or training cells; such cells are listed on stderr.
2. Each processed notebook becomes one HTML page, named as Quarto names it (`00_data.ipynb` -> `data.html`,
   `index.ipynb` -> `index.html`): markdown through mistune (nbconvert's markdown engine), code through
   Pygments, the committed outputs as they are, plots written as PNG files beside the page. Links that nbdev
   points at the published site (`doc_host` + `doc_baseurl` in settings.ini) become relative links.

Users with Quarto can still run `nbdev_docs`, which reads `_quarto.yml`.
"""
import argparse, ast, base64, html, json, os, re, shutil, sys
from pathlib import Path
from urllib.parse import urljoin
import mistune, yaml
from execnb.nbio import read_nb, write_nb
from nbdev.config import get_config
from nbdev.processors import FilterDefaults, exec_show_docs, _ast_contains
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, get_lexer_by_name
from pygments.util import ClassNotFound

ROOT = Path(__file__).resolve().parent.parent

def nb_pages(nbs:Path) -> list:
    "The notebooks that become pages: index first, then in file order; `_scratch` notebooks are skipped."
    nbs = sorted(p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    return sorted(nbs, key=lambda p: p.stem != 'index')

def html_name(nb:Path) -> str:
    "Quarto's page name: the numeric prefix dropped (`04a_learner` -> `learner.html`)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.stem.lower()) + '.html'

class exec_imports_only(exec_show_docs):
    "nbdev's `exec_show_docs`, except that a cell mixing imports with other code runs only its imports."
    mixed = []  # (notebook, cell index) of such cells, reported by `process`
    def _mixed(self, cell) -> bool:
        "Would nbdev run this cell because of its imports, and warn that it also holds other code?"
        if not (hasattr(self, 'k') and self.nb.has_docs_ and cell.cell_type == 'code' and cell.source) or 'nbdev_export()' in cell.source: return False
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or cell.directives_.get('eval:', [''])[0].lower() == 'false': return False
        trees = cell.parsed_()
        return bool(trees) and bool(_ast_contains(trees, (ast.Import, ast.ImportFrom))) and bool(_ast_contains(trees, (ast.Expr, ast.Assign)))
    def __call__(self, cell):
        if not self._mixed(cell): return super().__call__(cell)
        self.mixed.append((Path(getattr(self.nb, 'path_', '?')).name, cell.idx_))
        imports = '\n'.join(ast.unparse(t) for t in cell.parsed_() if isinstance(t, (ast.Import, ast.ImportFrom)))
        self.k.run(imports)
        if self.k.exc: raise RuntimeError(f'the imports of cell {cell.idx_} failed:\n{imports}') from self.k.exc

class DocsFilter(FilterDefaults):
    "nbdev's notebook processors for the docs, with `exec_imports_only` in place of `exec_show_docs`."
    def base_procs(self): return [exec_imports_only if p is exec_show_docs else p for p in super().base_procs()]

def process(root:Path=ROOT) -> Path:
    "Run nbdev's docs processors over every page's notebook; write them to `_proc/` and return that folder."
    os.chdir(root)  # nbdev finds settings.ini from the working directory
    cfg, proc = get_config(), root/'_proc'
    proc.mkdir(exist_ok=True)
    os.environ['IN_TEST'] = '1'  # as `nbdev_proc_nbs` does
    for nb_path in nb_pages(cfg.nbs_path):
        nb = read_nb(nb_path)
        try: DocsFilter()(nb)
        except Exception as e: raise SystemExit(f'docs: {nb_path.name}: {e}' + (f' ({e.__cause__!r})' if e.__cause__ else '')) from None
        write_nb(nb, proc/nb_path.name)
    if exec_imports_only.mixed:
        print('note: cells that mix imports with other code ran their imports only (nbdev_docs would run them whole): '
              + ', '.join(f'{n} cell {i}' for n, i in exec_imports_only.mixed), file=sys.stderr)
    return proc

class _Renderer(mistune.HTMLRenderer):
    "Markdown to HTML with Pygments code blocks and heading ids (the names nbdev's links point at)."
    def block_code(self, code, info=None): return _code(code, (info or 'text').split()[0])
    def heading(self, text, level, **attrs):
        return f'<h{level} id="{_slug(text)}">{text}</h{level}>\n'

def _slug(text:str) -> str:
    "Heading id as nbdev's links expect it: `Learner.fit` -> `learner.fit`, `The recipe` -> `the-recipe`."
    t = re.sub(r'<[^>]+>', '', html.unescape(text)).strip().lower()
    return re.sub(r'[^\w.\-]+', '-', t).strip('-')

def _code(code:str, lang:str='python') -> str:
    try: lexer = PythonLexer() if lang == 'python' else get_lexer_by_name(lang)
    except ClassNotFound: return f'<pre class="code"><code>{html.escape(code)}</code></pre>\n'
    return highlight(code, lexer, HtmlFormatter(cssclass='code'))

_md = mistune.create_markdown(renderer=_Renderer(escape=False), plugins=['table', 'strikethrough', 'url', 'math', 'footnotes'])

class Page:
    "One processed notebook rendered to HTML; its figures are written to `out/<stem>_files/`."
    def __init__(self, proc_nb:Path, out:Path, site_url:str):
        self.nb, self.out, self.site_url = json.loads(proc_nb.read_text()), out, site_url
        self.file, self.title, self.description = html_name(proc_nb), proc_nb.stem, ''
        self.figures = 0
    def md(self, text:str) -> str:
        text = re.sub(r'\[source\]\(([^)]+)\)\{[^}]*\}', r'<a class="source" href="\1">source</a>', text)  # Quarto link attributes
        text = text.replace(self.site_url, '')  # nbdev links to the published site -> relative links
        return _md(text)
    def image(self, data:str, mime:str) -> str:
        self.figures += 1
        folder = self.out/(Path(self.file).stem + '_files')
        folder.mkdir(parents=True, exist_ok=True)
        name = f'figure-{self.figures}.{mime.split("/")[1].split("+")[0]}'
        (folder/name).write_bytes(base64.b64decode(data) if mime == 'image/png' else data.encode())
        return f'<img class="figure" src="{folder.name}/{name}" alt="figure {self.figures}">'
    def output(self, o:dict) -> str:
        if o.get('output_type') == 'stream': return f'<pre class="output">{html.escape("".join(o["text"]))}</pre>'
        if o.get('output_type') == 'error': return f'<pre class="output error">{html.escape(o.get("ename", ""))}: {html.escape(o.get("evalue", ""))}</pre>'
        d = {k: ''.join(v) if isinstance(v, list) else v for k, v in o.get('data', {}).items()}
        for mime in ('image/png', 'image/svg+xml'):
            if mime in d: return self.image(d[mime], mime)
        if 'text/markdown' in d: return f'<div class="output markdown">{self.md(d["text/markdown"])}</div>'
        if 'text/html' in d: return f'<div class="output html">{d["text/html"]}</div>'
        if 'text/plain' in d: return f'<pre class="output">{html.escape(d["text/plain"])}</pre>'
        return ''
    def cell(self, c:dict) -> str:
        src = ''.join(c.get('source', ''))
        if c['cell_type'] == 'raw' and src.startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            self.title, self.description = fm.get('title', self.title), fm.get('description', '')
            return ''
        if c['cell_type'] == 'markdown': return self.md(src)
        if c['cell_type'] != 'code': return ''
        directives = {m.group(1): m.group(2).strip() for m in re.finditer(r'^#\|\s*([\w-]+):?(.*)$', src, re.M)}
        if 'hide' in directives or directives.get('include') == 'false': return ''
        code = '\n'.join(l for l in src.split('\n') if not l.startswith('#|')).strip()
        api = 'show_doc(' in code
        parts = [] if api or directives.get('echo') == 'false' or not code else [_code(code)]
        if directives.get('output') != 'false': parts += [self.output(o) for o in c.get('outputs', [])]
        body = '\n'.join(p for p in parts if p)
        return f'<div class="{"api" if api else "cell"}">{body}</div>' if body else ''
    def render(self) -> str:
        body = '\n'.join(self.cell(c) for c in self.nb['cells'])
        desc = re.sub(r'^\s*<p>(.*)</p>\s*$', r'<p class="description">\1</p>', self.md(self.description), flags=re.S) if self.description else ''
        return f'<h1 class="title">{html.escape(self.title)}</h1>\n{desc}\n{body}'

_CSS = """
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529; }
header { background: #2780e3; color: white; padding: .6rem 1.5rem; font-size: 1.15rem; }
header a { color: white; text-decoration: none; font-weight: 600; }
.layout { display: flex; align-items: flex-start; }
nav { width: 15rem; flex: none; padding: 1rem 1.2rem; border-right: 1px solid #dee2e6; position: sticky; top: 0; }
nav a { display: block; padding: .2rem 0; color: #343a40; text-decoration: none; }
nav a.active { color: #2780e3; font-weight: 600; }
main { flex: 1; max-width: 60rem; padding: 1rem 2rem 4rem; min-width: 0; }
h1.title { margin-bottom: .3rem; } p.description { color: #6c757d; font-size: 1.1rem; margin-top: 0; }
a { color: #2780e3; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f8f9fa; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px; }
div.code pre { border-left: 3px solid #2780e3; }
pre.output { background: white; border: 1px solid #e9ecef; }
.api { border: 1px solid #dee2e6; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.06); padding: .2rem 1rem .6rem; margin: 1.2rem 0; }
.api hr { display: none; } a.source { float: right; font-size: smaller; }
table { border-collapse: collapse; margin: .8rem 0; } th, td { border: 1px solid #dee2e6; padding: .25rem .55rem; text-align: left; vertical-align: top; }
img.figure { max-width: 100%; display: block; margin: .6rem 0; }
span.math, div.math { font-family: ui-monospace, monospace; }
"""

def _page_html(title:str, body:str, pages:list, current:str, site_title:str) -> str:
    active = ' class="active"'
    nav = '\n'.join(f'<a href="{f}"{active if f == current else ""}>{html.escape(t)}</a>' for f, t in pages)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)} – {html.escape(site_title)}</title><link rel="stylesheet" href="styles.css"></head>\n'
            f'<body><header><a href="index.html">{html.escape(site_title)}</a></header>\n'
            f'<div class="layout"><nav>{nav}</nav>\n<main>\n{body}\n</main></div></body></html>\n')

def _fix_anchors(body:str, ids:dict) -> str:
    "Point links to undocumented members (`page.html#cls.attr`, no such entry) at their class's entry."
    def fix(m):
        page, frag = m.group(1), m.group(2)
        while frag not in ids.get(page, {frag}) and '.' in frag: frag = frag.rsplit('.', 1)[0]
        return f'href="{page}#{frag}"'
    return re.sub(r'href="([\w-]+\.html)#([^"]+)"', fix, body)

def build(out:Path=ROOT/'_docs', root:Path=ROOT) -> list:
    "Process the notebooks and write the site to `out`; return the page file names."
    proc = process(root)
    cfg = get_config()
    site_url = urljoin(cfg.doc_host.rstrip('/') + '/', cfg.doc_baseurl.strip('/') + '/')  # where nbdev's links point
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    rendered = {}
    for nb in nb_pages(cfg.nbs_path):
        p = Page(proc/nb.name, out, site_url)
        body = p.render()  # sets the title from the front matter
        rendered[p.file] = (p.title, body)
    pages = [(f, 'Home' if f == 'index.html' else t) for f, (t, _) in rendered.items()]
    ids = {f: set(re.findall(r' id="([^"]+)"', body)) for f, (_, body) in rendered.items()}
    for f, (title, body) in rendered.items():
        (out/f).write_text(_page_html(title, _fix_anchors(body, ids), pages, f, cfg.title))
    (out/'styles.css').write_text(_CSS + HtmlFormatter(cssclass='code').get_style_defs('.code'))
    (out/'.nojekyll').touch()
    return [f for f, _ in pages]

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(ROOT/'_docs'), help='folder to write (default: _docs/)')
    a = ap.parse_args()
    files = build(Path(a.out).resolve())
    print(f'wrote {len(files)} pages to {a.out}: {", ".join(files)}')
