"""The docs site as a reader sees it: built by `mkdocs build` (mkdocs.yml, tools/docs.py), served on localhost, opened
in headless Chromium driven over the DevTools protocol (on a pipe: no extra packages).

Every page must load without console errors or requests to other sites, with its notebook's title and the navigation;
notebooks that export code must show API entries; nothing that only Quarto reads may show; every image must load with a
nonzero size (the analysis page shows plots); no link inside the site may be broken (pages, assets and `#anchors`); the
search must find the PCGrad page, and its equations must render as MathJax with no TeX source left in the text.
Screenshots of the analysis page go to `screenshots/`.
"""
import base64, fcntl, functools, json, os, select, shutil, signal, subprocess, sys, tempfile, threading, time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit
import pytest
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from docs import nb_pages, page_name

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason='needs Chromium (apt-get install -y chromium)')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-proxy-server', '--hide-scrollbars']
PAGES = [page_name(p) for p in nb_pages(ROOT/'nbs')]

def nb_title(nb:Path) -> str:
    "The `# Title` that opens a notebook (nbdev makes it the page's title)."
    md = next(c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'markdown')
    return ''.join(md['source']).splitlines()[0].removeprefix('# ').strip()

class Chromium:
    "Headless Chromium on `--remote-debugging-pipe`: DevTools commands go to its fd 3, answers and events come from fd 4."
    def __init__(self):
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)  # see `close`
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        def fds():  # in the child: the pipe ends become fds 3 and 4 (copied above 9 first: neither overwrites the other)
            r, w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, res_w))
            os.dup2(r, 3)
            os.dup2(w, 4)
        cmd = [CHROMIUM, *FLAGS, '--remote-debugging-pipe', f'--user-data-dir={self.profile.name}']
        self.proc = subprocess.Popen(cmd, preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)  # its own process group: `close` ends its helpers too
        os.close(cmd_r), os.close(res_w)
        self.buf, self.events, self.n, self.session = b'', [], 0, None
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        for m in ('Page.enable', 'Runtime.enable', 'Log.enable'): self.send(m)
        self.send('Emulation.setDeviceMetricsOverride', width=1280, height=2200, deviceScaleFactor=1, mobile=False)

    def _recv(self, timeout:float) -> dict:
        end = time.monotonic() + timeout
        while b'\0' not in self.buf:
            if not select.select([self.res_r], [], [], max(0., end - time.monotonic()))[0]:
                raise TimeoutError('Chromium did not answer')
            chunk = os.read(self.res_r, 1 << 20)
            if not chunk: raise EOFError('Chromium exited')
            self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method:str, timeout:float=60, **params) -> dict:
        "Run one DevTools command on the page and return its result; events that arrive meanwhile are kept."
        self.n += 1
        msg = {'id': self.n, 'method': method, 'params': params} | ({'sessionId': self.session} if self.session else {})
        os.write(self.cmd_w, json.dumps(msg).encode() + b'\0')
        end = time.monotonic() + timeout
        while (m := self._recv(end - time.monotonic())).get('id') != self.n: self.events.append(m)
        assert 'error' not in m, f'{method}: {m["error"]}'
        return m['result']

    def open(self, url:str, timeout:float=60):
        "Load `url` and wait for its load event; the events of the previous page are dropped."
        self.events = []
        assert 'errorText' not in (r := self.send('Page.navigate', url=url)), f'{url}: {r["errorText"]}'
        end = time.monotonic() + timeout
        while not any(e.get('method') == 'Page.loadEventFired' for e in self.events):
            self.events.append(self._recv(end - time.monotonic()))

    def js(self, expr:str, timeout:float=60):
        "The value of a JavaScript expression on the page (promises awaited)."
        r = self.send('Runtime.evaluate', timeout, expression=expr, awaitPromise=True, returnByValue=True)
        assert 'exceptionDetails' not in r, r['exceptionDetails']
        return r['result'].get('value')

    def errors(self) -> list:
        "What the page reported as errors: uncaught exceptions, `console.error`, failed loads and other console errors."
        res = []
        for e in self.events:
            m, p = e.get('method'), e.get('params', {})
            if m == 'Runtime.exceptionThrown':
                x = p['exceptionDetails']
                res.append(x.get('exception', {}).get('description', x['text']))
            if m == 'Runtime.consoleAPICalled' and p['type'] in ('error', 'assert'):
                res.append(' '.join(str(a.get('value', a.get('description'))) for a in p['args']))
            if m == 'Log.entryAdded' and p['entry']['level'] == 'error': res.append(f"{p['entry']['text']} {p['entry'].get('url', '')}")
        return res

    def close(self):
        "End Chromium and every helper process it started, then remove its profile folder."
        try: os.killpg(self.proc.pid, signal.SIGKILL)  # helpers left alive kept writing into the profile being removed
        except ProcessLookupError: pass
        self.proc.wait()
        self.profile.cleanup()
        os.close(self.cmd_w), os.close(self.res_r)
        self.profile.cleanup()

# What a test needs from a loaded page, once MathJax (where the page loads it) has typeset it.
PROBE = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let i = 0; i < 200 && window.MathJax && !(MathJax.startup && MathJax.startup.promise); i++) await sleep(50);
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const prose = document.querySelector('article').cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-assistive-mml').forEach(e => e.remove());
  return {title: document.querySelector('article h1')?.textContent.trim(),
          links: [...document.querySelectorAll('[href], [src]')].map(e => e.getAttribute('href') ?? e.getAttribute('src')),
          anchors: [...document.querySelectorAll('a[href]')].map(e => e.getAttribute('href')),
          ids: [...document.querySelectorAll('[id]')].map(e => e.id),
          imgs: [...document.images].map(i => ({src: i.getAttribute('src').slice(0, 60), width: i.naturalWidth,
                                                ok: i.complete && i.naturalWidth > 0})),
          api: document.querySelectorAll('.celltag_api').length,
          options: [...document.querySelectorAll('.jp-InputArea pre')].filter(p => /^#[|]/m.test(p.textContent)).length,
          math: document.querySelectorAll('mjx-container').length, math_errors: document.querySelectorAll('mjx-merror').length,
          prose: prose.textContent, resources: performance.getEntriesByType('resource').map(r => r.name)};
})()"""

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def handle(self):
        try: super().handle()
        except (BrokenPipeError, ConnectionResetError): pass  # the browser closed a connection early

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "Build the site with the documented command (`make docs` runs `mkdocs build`), into a fresh folder."
    out = tmp_path_factory.mktemp('site')/'_docs'
    cmd = [sys.executable, '-m', 'mkdocs', 'build', '--site-dir', str(out)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out

@pytest.fixture(scope='module')
def base_url(site):
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown()

@pytest.fixture(scope='module')
def browser():
    b = Chromium()
    yield b
    b.close()

@pytest.fixture(scope='module')
def pages(browser, base_url):
    "Every page as headless Chromium renders it, with the errors it reported."
    res = {}
    for p in PAGES:
        browser.open(base_url + p)
        res[p] = browser.js(PROBE) | {'errors': browser.errors()}
    return res

def test_every_page_loads(pages, base_url):
    assert PAGES[0] == 'index.html' and 'pcgrad.html' in PAGES and len(PAGES) >= 19
    nbs = {page_name(p): p for p in nb_pages(ROOT/'nbs')}
    for page, d in pages.items():
        assert not d['errors'], f'{page}: console errors {d["errors"]}'
        assert d['title'] == nb_title(nbs[page]), f'{page}: title {d["title"]!r}'
        assert set(d['anchors']) >= set(PAGES), f'{page}: the navigation does not link every page'
        outside = [r for r in d['resources'] if not r.startswith(base_url)]
        assert not outside, f'{page}: loads from other sites {outside}'

def test_api_entries(pages):
    exported = [page_name(p) for p in nb_pages(ROOT/'nbs') if '#| export' in p.read_text()]
    assert 'analysis.html' in exported and len(exported) >= 8
    for page in exported: assert pages[page]['api'], f'{page}: no show_doc entries'
    for sym in ('sst_metrics', 'plot_confusion', 'load_run_outputs'): assert sym in pages['analysis.html']['ids'], sym
    for sym in ('report_command', 'write_report', 'run_section'): assert sym in pages['report.html']['ids'], sym
    for sym in ('ebert_train', 'ebert_report', 'run_command'): assert sym in pages['cli.html']['ids'], sym

def test_no_quarto_syntax_left(pages):
    "What only Quarto reads (front matter, `{attrs}` after a link, `#|` cell options) does not reach the reader."
    for page, d in pages.items():
        left = [s for s in ('output-file:', '{target=') if s in d['prose']] + ['#| options in code'] * bool(d['options'])
        assert not left, f'{page}: {left}'

def test_plots_load(pages):
    imgs = [i for d in pages.values() for i in d['imgs']]
    bad = [i for i in imgs if not i['ok']]
    assert not bad, f'images that did not load: {bad}'
    assert sum(i['width'] > 100 for i in pages['report.html']['imgs']) >= 2, 'the report page shows no plots'

def test_no_broken_internal_links(pages, site, base_url):
    published = get_config(path=ROOT).doc_host  # nbdev links to the published site; the build makes them relative
    assert not [(p, a) for p, d in pages.items() for a in d['anchors'] if a.startswith(published)]
    broken = []
    for page, d in pages.items():
        for link in d['links']:
            url = urljoin(base_url + page, link)
            if not url.startswith(base_url): continue  # data: images, GitHub source links, other projects' docs
            target, _, frag = url.partition('#')
            path = target[len(base_url):].split('?')[0] or 'index.html'
            ok = (not frag or frag in pages[path]['ids']) if path in pages else (site/path).is_file()
            if not ok: broken.append(f'{page}: {link}')
    assert not broken, broken

def test_pcgrad_equations_render(pages):
    d = pages['pcgrad.html']
    assert d['math'] >= 5 and not d['math_errors'], (d['math'], d['math_errors'])
    for page, d in pages.items():
        raw = [s for s in ('$$', '\\(', '\\frac', '\\cdot') if s in d['prose']]
        assert not raw, f'{page}: TeX left in the text: {raw}'

def test_search_finds_pcgrad(browser, base_url):
    "Material's search (in the browser, from the built index) answers `PCGrad` with the PCGrad page."
    browser.open(base_url + 'index.html?q=PCGrad')  # the search box, filled in from the address
    hits = browser.js("""(async () => {
      for (let i = 0; i < 300 && !document.querySelector('.md-search-result__item'); i++) await new Promise(r => setTimeout(r, 50));
      return [...document.querySelectorAll('.md-search-result__item > a')].map(a => a.getAttribute('href'));
    })()""")
    assert not browser.errors(), browser.errors()
    assert any(urlsplit(h).path.endswith('/pcgrad.html') for h in hits[:3]), hits

def test_screenshots(browser, base_url):
    "The top of the report page (API entries) and its real-run section (plots) as a reader sees them."
    from matplotlib.image import imread
    shots = ROOT/'screenshots'
    shots.mkdir(exist_ok=True)
    section = 'real-runs'  # the `## Real runs` heading of 08a_report, where the plots are
    browser.open(base_url + 'report.html')
    browser.js(PROBE)
    for name, scroll in (('docs-report-top.png', 'window.scrollTo(0, 0)'),
                         ('docs-report-plots.png', f'document.getElementById("{section}").scrollIntoView()')):
        assert browser.js(f'!!document.getElementById("{section}")'), f'report.html has no #{section} heading to screenshot'
        browser.js(scroll + '; new Promise(r => setTimeout(r, 500))')  # the header's title changes with a transition
        png = shots/name
        png.write_bytes(base64.b64decode(browser.send('Page.captureScreenshot', format='png')['data']))
        px = imread(png)[..., :3]
        assert (px.min(-1) < 0.9).mean() > 0.02, f'{name} is blank'
