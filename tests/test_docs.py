"""The docs site as a reader sees it: built offline by `tools/docs.py`, served on localhost, opened in headless Chromium.

Every page must load with its title and navigation, notebooks that export code must show API entries, a
committed plot must load as an image in the browser, and no link inside the site may be broken (pages,
images, stylesheets, and `#anchors`). A screenshot of the analysis page goes to `screenshots/`.
"""
import functools, html.parser, io, json, os, shutil, subprocess, sys, tempfile, threading
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from docs import html_name, nb_pages

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason='needs Chromium (apt-get install -y chromium)')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-proxy-server', '--hide-scrollbars', '--virtual-time-budget=3000']

# Appended to every HTML page the test server sends (the built files are not touched): once the page has
# loaded, record what the browser made of each image, so that `--dump-dom` shows it. For screenshots,
# `?from=ID` hides what comes before that heading (headless Chromium paints nothing when it has to scroll).
PROBE = b"""<script>window.addEventListener('load', () => {
  const from = new URLSearchParams(location.search).get('from');
  if (from) for (const el of [...document.querySelector('main').children]) { if (el.id === from) break; el.style.display = 'none'; }
  const imgs = [...document.images].map(i => ({src: i.getAttribute('src'), width: i.naturalWidth, ok: i.complete && i.naturalWidth > 0}));
  const p = document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify({imgs}); document.body.appendChild(p);
});</script>"""

class _Probe(SimpleHTTPRequestHandler):
    "Serve the site, adding `PROBE` to HTML (Content-Length adjusted)."
    def log_message(self, *a): pass
    def handle(self):
        try: super().handle()
        except (BrokenPipeError, ConnectionResetError): pass  # the browser closed a connection early
    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path): path = os.path.join(path, 'index.html')
        if not path.endswith('.html') or not os.path.isfile(path): return super().send_head()
        data = Path(path).read_bytes().replace(b'</body>', PROBE + b'</body>')
        self.send_response(200); self.send_header('Content-Type', 'text/html; charset=utf-8')
        self.send_header('Content-Length', str(len(data))); self.end_headers()
        return io.BytesIO(data)

class _Dom(html.parser.HTMLParser):
    "What a test needs from a dumped DOM: links, element ids, classes, the probe's JSON, the title."
    def __init__(self, text):
        super().__init__(); self.links, self.ids, self.classes, self.probe, self._in_probe, self.h1 = [], set(), [], None, False, ''
        self._in_h1 = False
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if 'class' in a: self.classes += [(tag, c) for c in a['class'].split()]
        for k in ('href', 'src'):
            if a.get(k): self.links.append((tag, a[k]))
        self._in_probe = tag == 'pre' and a.get('id') == 'probe'
        self._in_h1 = self._in_h1 or (tag == 'h1' and 'title' in a.get('class', ''))
    def handle_endtag(self, tag):
        if tag == 'h1': self._in_h1 = False
    def handle_data(self, data):
        if self._in_probe: self.probe = json.loads(data); self._in_probe = False
        if self._in_h1: self.h1 += data

def chromium(*args) -> str:
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "Build the site with the documented command, into a fresh folder."
    out = tmp_path_factory.mktemp('site')/'_docs'
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py'), '--out', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out

@pytest.fixture(scope='module')
def base_url(site):
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Probe, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown()

PAGES = ['index.html'] + [html_name(p) for p in nb_pages(ROOT/'nbs') if p.stem != 'index']

@pytest.fixture(scope='module')
def doms(base_url):
    "Every page as headless Chromium renders it (two browsers at a time)."
    with ThreadPoolExecutor(2) as ex: texts = list(ex.map(lambda p: chromium('--dump-dom', base_url + p), PAGES))
    return {p: _Dom(t) for p, t in zip(PAGES, texts)}

def test_every_page_loads(doms):
    for page, d in doms.items():
        assert d.probe is not None, f'{page}: the page did not finish loading'
        assert d.h1.strip(), f'{page}: no title'
        assert {h for t, h in d.links if t == 'a'} >= set(PAGES), f'{page}: navigation does not link every page'

def test_api_entries(doms):
    exported = [html_name(p) for p in nb_pages(ROOT/'nbs') if '#| export' in p.read_text()]
    assert 'analysis.html' in exported and len(exported) >= 8
    for page in exported: assert ('div', 'api') in doms[page].classes, f'{page}: no show_doc entries'
    for sym in ('ebert_report', 'write_report', 'sst_metrics', 'plot_confusion'): assert sym in doms['analysis.html'].ids, sym

def test_a_plot_loads(doms):
    imgs = [i for d in doms.values() for i in d.probe['imgs']]
    assert any(i['ok'] and i['width'] > 100 for i in imgs), imgs
    bad = [i for i in imgs if not i['ok']]
    assert not bad, f'images that did not load: {bad}'
    assert any(i['ok'] for i in doms['analysis.html'].probe['imgs']), 'the analysis page shows no plot'

def test_no_broken_internal_links(doms, base_url):
    broken = []
    for page, d in doms.items():
        for tag, link in d.links:
            url = urljoin(base_url + page, link)
            if not url.startswith(base_url): continue  # outside the site: GitHub source links and other projects' docs
            target, frag = url.split('#', 1) if '#' in url else (url, '')
            path = target[len(base_url):] or 'index.html'
            if path in doms: ok = not frag or frag in doms[path].ids
            else:
                try: ok = urlopen(target, timeout=10).status == 200
                except OSError: ok = False
            if not ok: broken.append(f'{page}: {link}')
    assert not broken, broken

def test_screenshots(site, base_url):
    "The top of the analysis page (API entries) and its real-run section (plots) as a reader sees them."
    from matplotlib.image import imread
    shots = ROOT/'screenshots'; shots.mkdir(exist_ok=True)
    section = 'real-runs'  # the `## Real runs` heading of 08_analysis, where the plots are
    assert f'id="{section}"' in (site/'analysis.html').read_text(), f'analysis.html has no #{section} heading to screenshot'
    for name, query in (('docs-analysis-top.png', ''), ('docs-analysis-plots.png', f'?from={section}')):
        png = shots/name
        png.unlink(missing_ok=True)
        chromium(f'--screenshot={png}', '--window-size=1280,2200', base_url + 'analysis.html' + query)
        px = imread(png)[..., :3]
        assert (px.min(-1) < 0.9).mean() > 0.02, f'{name} is blank'
