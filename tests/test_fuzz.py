"""Property-based fuzzing of every input the package reads: the CS224N, phrase and SNLI data files (real rows,
corrupted at random), `--set` values, TOML config files and the `ebert_train` command line.

A reader must either return the rows it was given (each dropped row named, with its line, in a `BadRowsWarning`)
or raise a one-line `DataError` naming the file and the line; config loading must either give a config or raise a
one-line `ValueError` naming where the bad setting came from; `ebert_train` must exit 2 with one stderr line."""
import contextlib, csv, io, json, math, os, re, tomllib, warnings
from pathlib import Path
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from extension_bert.data import (TASKS, SST_PHRASES, DataError, BadRowsWarning, read_task_file, load_task,
                                 load_sst_phrases, load_snli, SNLI_LABELS)
from extension_bert.evaluation import read_labelled
from extension_bert.config import PRESET_DIR, STAGES, list_presets, load_pipeline
from extension_bert.multitask import TrainConfig
from extension_bert.cli import ebert_train

DATA = Path(os.environ['EBERT_DATA'])
FUZZ = dict(deadline=None, derandomize=True, database=None,  # the same examples on every run
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

def head_bytes(path:Path, n:int=1 << 16) -> bytes:
    "The first complete lines within the first `n` bytes of a file."
    with open(path, 'rb') as f: b = f.read(n)
    return b[:b.rfind(b'\n') + 1]

# name: (file, spec, task name for `load_task`/`read_labelled` (None: the phrase file), labelled)
FORMATS = {'sst': ('ids-sst-dev.csv', TASKS['sst'], 'sst', True),
           'sst-test': ('ids-sst-test-student.csv', TASKS['sst'], 'sst', False),
           'cfimdb': ('ids-cfimdb-dev.csv', TASKS['cfimdb'], 'cfimdb', True),
           'qqp': ('quora-dev.csv', TASKS['qqp'], 'qqp', True),
           'sts': ('sts-dev.csv', TASKS['sts'], 'sts', True),
           'sts-test': ('sts-test-student.csv', TASKS['sts'], 'sts', False),
           'phrases': ('sst-train-phrases.csv', SST_PHRASES, None, True)}

def columns(spec, labelled:bool) -> list:
    return ['id', *spec.sentences] + (['label', *(c for c, _ in spec.extra)] if labelled else [])

def expected_record(line:bytes, header:list, spec, labelled:bool):
    "What a correct reader makes of one real line, worked out with the `csv` module; None for a bad row."
    row = next(csv.reader([line.decode('utf-8')], delimiter='\t'))
    if len(row) != len(header): return None
    rec = dict(zip(header, row))
    out = [rec['id'].strip(), *(rec[c].strip() for c in spec.sentences)]
    if not all(out): return None
    if labelled:
        for c, parse in ((spec.label, spec.parse), *spec.extra):
            try: out.append(parse(rec[c].strip()))
            except ValueError: return None
    return tuple(out)

def real_rows(fmt:str):
    "A format's header, and a few of its real rows (plain ones, quoted ones, the known-bad QQP one) with records."
    name, spec, _, labelled = FORMATS[fmt]
    lines = head_bytes(DATA/name).split(b'\n') if fmt == 'phrases' else (DATA/name).read_bytes().split(b'\n')
    header, body = lines[0], [l for l in lines[1:] if l]
    pick = body[:4] + [l for l in body if b'"' in l][:3] + [l for l in body if l.endswith(b'\t')][:1]
    cols = next(csv.reader([header.decode()], delimiter='\t'))
    return header, [(l, expected_record(l, cols, spec, labelled)) for l in pick]

ROWS = {f: real_rows(f) for f in FORMATS}
assert any(rec is None for _, rec in ROWS['qqp'][1])  # the empty-label QQP row is among them

JUNK = [b'\xe9', b'\xff', b'\xc3', b'\xef\xbb\xbf', b'"', b'""', b'\t', b'\r', b'\n', b'\r\n', b'\x00', b'\\',
        '\u2028'.encode(), '\u0085'.encode(), b'\xed\xa0\x80']  # latin-1 e-acute, half a character, a surrogate
LABELS = [b'', b' ', b'nan', b'NaN', b'inf', b'-inf', b'1e400', b'-1', b'5', b'2.5', b'0.0', b'1.0', b'4', b'3 ',
          b'abc', b'3\x00', b'\xe9', b'"3"', b'"3', b'1_0', '\u0663'.encode(), b'9' * 400]
HUGE = b'x' * (1 << 20)  # 1 MB

def quoted(field:bytes) -> bytes: return b'"' + field.replace(b'"', b'""') + b'"'

@st.composite
def mutated_row(draw, line:bytes, rec, cols:list):
    "A real row damaged in one way, or changed in a known way: `(bytes, record or None, record known)`."
    fields = line.split(b'\t')
    i = draw(st.integers(0, len(fields) - 1))
    kind = draw(st.sampled_from(['field', 'drop', 'add', 'insert', 'truncate', 'requote', 'huge', 'label']))
    if kind == 'requote':  # pandas-style quotes around a field that has none: the same row
        if b'"' in fields[i]: return line, rec, True
        return b'\t'.join(quoted(f) if j == i else f for j, f in enumerate(fields)), rec, True
    if kind == 'huge':  # a 1 MB sentence, plain or quoted, is still a good row
        huge, text = draw(st.sampled_from([(HUGE, HUGE.decode()), (quoted(HUGE + b' "a" '), HUGE.decode() + ' "a"')]))
        j = draw(st.sampled_from([cols.index(c) for c in ('sentence', 'sentence1', 'sentence2') if c in cols]))
        fields[j] = huge
        k = 1 + ('sentence1', 'sentence2').index(cols[j]) if cols[j] != 'sentence' else 1
        return b'\t'.join(fields), rec and rec[:k] + (text,) + rec[k + 1:], True
    if kind == 'field': fields[i] = draw(st.sampled_from(LABELS + JUNK) | st.binary(max_size=6))
    if kind == 'label': fields[-1] = draw(st.sampled_from(LABELS) | st.text(max_size=6).map(str.encode))
    if kind == 'drop': del fields[i]
    if kind == 'add': fields.insert(i, draw(st.sampled_from([b'', b'x', b'0'])))
    out = b'\t'.join(fields)
    if kind == 'insert':
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.sampled_from(JUNK) | st.binary(min_size=1, max_size=4)) + out[at:]
    if kind == 'truncate': out = out[:draw(st.integers(0, max(len(out) - 1, 0)))]
    return out, rec, out == line

@st.composite
def damaged_file(draw, fmt:str):
    "`(file bytes, pieces)`: each piece `(bytes, its record (None: a bad row), record known)`, the header first."
    header, rows = ROWS[fmt]
    if draw(st.integers(0, 30)) == 0: return draw(st.sampled_from([b'', b'\xef\xbb\xbf', b'\n'])), None
    pieces = [(header, None, draw(st.integers(0, 8)) != 0)]
    if not pieces[0][2]:  # a damaged header: a column dropped or renamed, or junk inserted
        cols = header.split(b'\t')
        i = draw(st.integers(0, len(cols) - 1))
        cols[i] = draw(st.sampled_from([b'', b'x', cols[i] + b'\xe9', cols[i] + b'"', b'ID']))
        pieces[0] = (b'\t'.join(c for c in cols if draw(st.integers(0, 6)) != 0), None, False)
    cols = next(csv.reader([header.decode()], delimiter='\t'))
    for j in draw(st.lists(st.integers(0, len(rows) - 1), max_size=8)):
        line, rec = rows[j]
        pieces.append(draw(mutated_row(line, rec, cols)) if draw(st.integers(0, 2)) == 0 else (line, rec, True))
    pieces += [(b'', None, False)] * draw(st.integers(0, 2) if draw(st.booleans()) else st.just(0))
    end = draw(st.sampled_from([b'\n', b'\r\n']))
    data = end.join(p for p, _, _ in pieces) + (end if draw(st.integers(0, 4)) else b'')
    if draw(st.integers(0, 4)) == 0: data = b'\xef\xbb\xbf' + data
    return data, pieces

def line_count(data:bytes) -> int:
    "Lines of a file: newlines, plus one for an unterminated last line."
    data = data.removeprefix(b'\xef\xbb\xbf')
    return data.count(b'\n') + (1 if data and not data.endswith(b'\n') else 0)

def one_line(msg:str) -> bool: return len(msg.splitlines()) == 1 and msg == msg.strip()

def run_reader(call):
    "`(dataset, DataError message, BadRowsWarning messages)`; any other exception fails the test."
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        try: ds, err = call(), None
        except DataError as e: ds, err = None, str(e)
    return ds, err, [str(x.message) for x in w if issubclass(x.category, BadRowsWarning)]

def check_outcome(path:Path, data:bytes, pieces, spec, labelled:bool, skip:bool, ds, err, warned:list):
    "The read either failed on one line naming the file and a line, or kept every good row and named each drop."
    starts, n = [], 1  # the first line of each piece
    for p, _, _ in pieces or []: starts.append(n); n += p.count(b'\n') + 1
    good = {s: rec for s, (_, rec, same) in zip(starts, pieces or []) if same and rec is not None and s > 1}
    known_bad = {s for s, (_, rec, same) in zip(starts, pieces or []) if same and rec is None and s > 1}
    intact_header = bool(pieces) and pieces[0][2]
    if err is not None:
        assert one_line(err) and err.startswith(f'{path}'), err
        assert not warned, warned
        if err.startswith(f'{path}: no usable data rows'): named = [int(x) for x in re.findall(r'line (\d+):', err)]
        else: named = [int(re.match(re.escape(f'{path}, line ') + r'(\d+): ', err)[1])]
        assert named and not set(named) & set(good), (err, sorted(good))
        if skip: assert not (intact_header and good), err  # a good row was there: skipping must not fail
        elif intact_header: assert named[0] <= min(known_bad, default=named[0]), err  # the first bad row
        return
    assert pieces, 'an empty file was read'
    if not intact_header: good, known_bad = {}, set()  # a damaged header may still name the columns read
    n_lines = line_count(data) - 1
    assert len(warned) <= 1, warned
    skipped = 0
    if warned:
        m = re.match(re.escape(f'{path}: skipped ') + r'(\d+) bad row\(s\): ', warned[0])
        assert m and one_line(warned[0]) and skip, warned[0]
        skipped = int(m[1])
        named = [int(x) for x in re.findall(r'line (\d+): ', warned[0])]
        assert len(named) == min(skipped, 10) and named == sorted(named) and not set(named) & set(good), warned
        assert (skipped > 10) == ('more)' in warned[0]), warned
        assert {s for s in known_bad if s <= (named[-1] if skipped > 10 else n_lines + 1)} <= set(named), warned
    assert len(ds) + skipped == n_lines, (len(ds), skipped, n_lines)  # no row lost without a word
    cols = columns(spec, 'label' in ds.column_names)
    assert set(ds.column_names) == set(cols) and (labelled or not intact_header or 'label' not in cols), cols
    got = list(zip(*(ds[c] for c in cols)))
    it = iter(got)
    assert all(rec in it for _, rec in sorted(good.items())), 'a good row is missing or changed'
    lo, hi = (0, spec.n_labels - 1) if spec.n_labels > 1 else (0, 5)
    for r in got:  # every row kept, damaged or not, is a valid row
        assert all(isinstance(s, str) and s and s == s.strip() for s in r[:1 + len(spec.sentences)]), r
        if 'label' in cols: assert math.isfinite(r[len(spec.sentences) + 1]) and lo <= r[len(spec.sentences) + 1] <= hi, r

def draw_damaged(data, formats:list):
    "`(format, its FORMATS entry, damaged_file(format))`, drawn."
    fmt = data.draw(st.sampled_from(formats), label='format')
    return fmt, FORMATS[fmt], data.draw(damaged_file(fmt), label='file')

@pytest.fixture(scope='module')
def work(tmp_path_factory): return tmp_path_factory.mktemp('fuzz')

@settings(max_examples=120, **FUZZ)
@given(st.data())
def test_read_task_file_survives_damage(work, data):
    fmt, (name, spec, task, labelled), (raw, pieces) = draw_damaged(data, list(FORMATS))
    skip = data.draw(st.booleans(), label='skip')
    path = work/name
    path.write_bytes(raw)
    ds, err, warned = run_reader(lambda: read_task_file(path, spec, data.draw(st.sampled_from([None, labelled])),
                                                        'skip' if skip else 'raise'))
    check_outcome(path, raw, pieces, spec, labelled, skip, ds, err, warned)

@settings(max_examples=60, **FUZZ)
@given(st.data())
def test_load_task_and_phrases_survive_damage(work, data):
    fmt, (name, spec, task, labelled), (raw, pieces) = draw_damaged(data, list(FORMATS))
    (work/name).write_bytes(raw)
    if task is None:
        ds, err, warned = run_reader(lambda: load_sst_phrases(work, sentences=True))
        skip = False
    else:
        skip = data.draw(st.booleans(), label='skip')
        split = 'dev' if labelled else 'test'
        ds, err, warned = run_reader(lambda: load_task(task, split, work, 'skip' if skip else 'raise'))
    check_outcome(work/name, raw, pieces, spec, labelled, skip, ds, err, warned)

@settings(max_examples=60, **FUZZ)
@given(st.data())
def test_read_labelled_survives_damage(work, data):
    "The reader behind `ebert_eval` and `ebert_predict`: skipped rows become `warning:` lines on stderr."
    fmt, (name, spec, task, labelled), (raw, pieces) = draw_damaged(data, [f for f in FORMATS if FORMATS[f][2]])
    strict = data.draw(st.booleans(), label='strict')
    path = work/f'input-{name}'
    path.write_bytes(raw)
    err_out = io.StringIO()
    with contextlib.redirect_stderr(err_out):
        ds, err, warned = run_reader(lambda: read_labelled(path, task, strict))
    lines = err_out.getvalue().splitlines()
    assert not warned and all(l.startswith('warning: ') for l in lines), lines
    warned = [l.removeprefix('warning: ') for l in lines if l.startswith(f'warning: {path}: skipped')]
    check_outcome(path, raw, pieces, spec, labelled, not strict, ds, err, warned)

SNLI = {n: (DATA/'snli'/f'{n}.dev').read_bytes().split(b'\n')[:6] for n in ('s1', 's2', 'labels')}

@settings(max_examples=80, **FUZZ)
@given(st.data())
def test_load_snli_survives_damage(work, data):
    "Three aligned line files: a pair is read right, or the error names the file and line that broke it."
    folder = work/'snli-data'/'snli'
    folder.mkdir(parents=True, exist_ok=True)
    n = data.draw(st.integers(0, 6), label='pairs')
    damaged, counts = {}, {}
    for f, lines in SNLI.items():
        lines = list(lines[:n])
        for i in data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=2), label=f'damaged {f}'):
            if i >= len(lines): continue
            lines[i] = data.draw(st.sampled_from(LABELS + JUNK + [b'', b'  ', b'neutral ', b'Neutral'])
                                 | st.binary(max_size=5), label=f'{f} line {i + 1}')
            damaged.setdefault(i + 1, set()).add(f)
        if n and data.draw(st.integers(0, 8), label=f'drop last of {f}') == 0: lines.pop()
        end = data.draw(st.sampled_from([b'\n', b'\r\n']), label='end')
        raw = (b'\xef\xbb\xbf' if data.draw(st.integers(0, 5)) == 0 else b'') + end.join(lines)
        raw += end if lines and data.draw(st.integers(0, 4)) else b''
        (folder/f'{f}.dev').write_bytes(raw)
        counts[f] = line_count(raw)
    ds, err, _ = run_reader(lambda: load_snli('dev', folder.parent))
    if err is not None:
        m = re.match(re.escape(f'{folder}/') + r'(s1|s2|labels)\.dev, line (\d+): ', err)
        assert m and one_line(err), err
        f, line = m[1], int(m[2])
        if len(set(counts.values())) > 1: assert line == min(counts.values()) + 1 and counts[f] + 1 == line, err
        else: assert f in damaged.get(line, ()) or counts[f] == 0, (err, damaged)
        return
    assert len(set(counts.values())) == 1 and len(ds) == counts['s1'] > 0
    for i, r in enumerate(ds, start=1):
        want = [SNLI[f][i - 1].decode().strip() for f in SNLI]
        if i not in damaged: assert [r['sentence1'], r['sentence2'], SNLI_LABELS[r['label']]] == want, (i, r)
        assert r['sentence1'] and r['sentence2'] and r['sentence1'] == r['sentence1'].strip(), r

# --- settings: --set values, TOML files, the command line
def field_values(cfg, name:str, edge:bool) -> list:
    "TOML text of the field's own type: what a user might well write, or (`edge`) its edge cases."
    if name in cfg.CHOICES: return ['"nope"', '"mean"'] if edge else [f'"{c}"' for c in cfg.CHOICES[name]]
    kind = str(cfg.__dataclass_fields__[name].type)
    vals = {'int': ['0', '1', '1000', str(2**63 - 1)], 'float': ['0.5', '1e-5', '2'], 'bool': ['true', 'false'],
            'list': ['[]', '["sst"]', '["sst", "qqp", "sts"]'], 'dict': ['{}', '{sts = 30.0}'], 'str': ['"x"', 'x']}
    edges = {'int': [str(2**63), str(-2**63 - 1), '9' * 30, '1' * 5000, '-5'],
             'float': ['inf', '-inf', 'nan', '1e400', '[' * 3000, '1\nseed = 3'], 'bool': ['1', '"true"'],
             'list': ['[inf]', '[1]', '"sst"'], 'dict': ['{sts = inf}', '{c = 0.4}', '{c = nan}', '{c = 1e400}'],
             'str': ['""', '"a\nb"', '1']}
    return [v for t, vs in (edges if edge else vals).items() if t in kind for v in vs]

def typed(edge:bool) -> dict:
    "Stage -> (setting, TOML value) pairs."
    return {s: [(k, v) for k in cls.config().__dataclass_fields__ for v in field_values(cls.config(), k, edge)]
            for s, cls in STAGES.items()}
TYPED, EDGES = typed(False), typed(True)
FIELDS = sorted({k if s == 'multitask' else f'{s}.{k}' for s, pairs in TYPED.items() for k, _ in pairs})
TOMLISH = ['1', '0', '-1', '2e-5', '1e400', '-1e400', 'inf', 'nan', '-inf', '+inf', 'true', 'false', '"x"', "'x'",
           'mean', '"mean"', 'cls', 'pcgrad', 'cagrad', 'sum', '"cagrad"', '[]', '[1, 2]', '["sst"]', '["sst", "qqp"]',
           '{}', '{sts = 30.0}', '{sts = inf}', '{c = 0.4}', '{c = nan}', '{alpha = 1}', '{a = {b = 1e999}}',
           '9' * 19, '9' * 30, '-' + '9' * 30, '1' * 5000, '[' * 3000, '{a = ' * 3000, '"""', '"', "'", '1979-05-27',
           '07:32:00', '0x1F', '0o17', '0b11', '1_000', '"\\u00e9"', '"\\ud800"', 'é', '\u2028', '1\nepochs = 3',
           '1\n', '\x00', '"a\nb"', '', ' ', '=', 'x=y', '[1, "a"]', '[[1]]', 'null', str(2**63), str(-2**63 - 1),
           str(2**63 - 1), 'x' * 100_000]
VALUES = (st.sampled_from(TOMLISH) | st.text(max_size=12) | st.integers().map(str) | st.floats().map(repr)
          | st.booleans().map(str))
KEYS = st.sampled_from(FIELDS) | st.text(max_size=10) | st.sampled_from(['', ' ', 'mlm.', 'x.y', 'stages', '.lr',
                                                                        'CHOICES', '__class__', 'snli.lr.x'])
WILD = st.builds(lambda k, v: f'{k}={v}', KEYS, VALUES) | st.text(max_size=15)
def set_items(pairs:dict, stages=tuple(STAGES)) -> list:
    return [f'{k if s == "multitask" else f"{s}.{k}"}={v}' for s, kv in pairs.items() if s in stages for k, v in kv]
WELL_TYPED = st.sampled_from(set_items(TYPED, ['multitask']) + ['pooling=mean', 'multitask.lr=1e-5'])
STAGED = st.sampled_from(set_items(TYPED, ['mlm', 'snli']) + ['snli.pooling=cls', 'snli.pooling=mean'])
SMUGGLED = (st.builds('{}\n{}'.format, WELL_TYPED, st.sampled_from(['seed = 3', 'x = 1', '', '[mlm]']))  # 2 lines
            | WELL_TYPED.map(lambda item: item.replace('=', '=\n', 1)))
ITEMS = st.one_of(*[WELL_TYPED] * 4, STAGED, st.sampled_from(set_items(EDGES)), SMUGGLED, WILD)
PRESETS = list(list_presets())

def config_outcome(call):
    "`(result, ValueError message)`; any other exception fails the test."
    try: return call(), None
    except ValueError as e:
        assert type(e) is ValueError, f'{type(e).__name__}: {e}'  # not a TOMLDecodeError or UnicodeDecodeError
        return None, str(e)

def set_value(item:str):
    "What `--set item` should set: `(stage, key, value)`; None for a value of several lines of TOML."
    k, v = item.split('=', 1)
    try: doc = tomllib.loads(f'v = {v}')
    except (ValueError, RecursionError): doc = {'v': v}
    stage, key = k.strip().split('.', 1) if '.' in k else ('multitask', k.strip())
    return (stage, key, doc['v']) if list(doc) == ['v'] else None

def check_config(result, err, sources:tuple, sets=()):
    if err is not None:
        # `combiner_opts:` messages come from `make_combiner`; the CLI tests rely on their exact text
        assert one_line(err) and err.startswith((*sources, '--set ', '--scale', 'combiner_opts:')), err
        return
    assert [s for s, _ in result][-1] == 'multitask' and isinstance(result[-1][1], TrainConfig)
    for _, cfg in result:  # TOML allows inf, nan and any integer; no setting does
        for v in vars(cfg).values():
            nums = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else [v]
            for x in nums:
                if isinstance(x, float): assert math.isfinite(x), cfg
                if isinstance(x, int): assert -2**63 <= x < 2**63, cfg
    cfgs = dict(result)
    for item in sets:  # every --set took effect, the last one of a key winning
        assert set_value(item) is not None, f'{item!r} holds several settings, and was read as one'
        stage, key, val = set_value(item)
        later = [i for i in sets[sets.index(item) + 1:] if (set_value(i) or ())[:2] == (stage, key)]
        if key != 'samples_per_task' and not later: assert getattr(cfgs[stage], key) == val, (item, cfgs[stage])

@settings(max_examples=150, **FUZZ)
@given(st.sampled_from(PRESETS + [None]), st.lists(ITEMS, max_size=4),
       st.sampled_from([1.0, 0.01, 0.0, -1.0, math.nan, math.inf, 1e300, 1.7e308]) | st.floats())
def test_set_values(preset, sets, scale):
    result, err = config_outcome(lambda: load_pipeline(preset, None, sets, scale))
    check_config(result, err, (str(PRESET_DIR/f'{preset}.toml'),) if preset else ('defaults',), sets)

def toml_value(v) -> str:
    "A Python value written as TOML (a bare key, a JSON-escaped string)."
    if isinstance(v, bool): return str(v).lower()
    if isinstance(v, float): return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, int): return str(v)
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return '[' + ', '.join(map(toml_value, v)) + ']'
    return '{' + ', '.join(f'{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}' for k, x in v.items()) + '}'

PLAIN = (st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
         | st.sampled_from([2**64, -2**63, 2**63, 1e-5, 'mean', 'pcgrad', 'cagrad', 'sst', '']))
TOML_VALUES = st.recursive(PLAIN, lambda x: st.lists(x, max_size=3) | st.dictionaries(st.text(max_size=4), x, max_size=3),
                           max_leaves=6)
STAGE_LISTS = (st.sampled_from([None, ['multitask'], ['mlm', 'multitask'], ['snli', 'multitask'],
                                ['mlm', 'snli', 'multitask'], ['multitask', 'mlm'], 'multitask'])
               | st.sampled_from([['mlm', 'multitask'], ['snli', 'multitask'], ['mlm', 'snli', 'multitask']])
               | st.lists(st.sampled_from(['mlm', 'snli', 'x']) | TOML_VALUES, max_size=2).map(lambda l: l + ['multitask']))
RAW_LINES = ['x = ' + '[' * 3000, 'seed = ' + '9' * 5000, 'y = ' + '{a = ' * 3000, 'lr = inf', 'epochs = 1\nepochs = 2']

@st.composite
def toml_file(draw) -> bytes:
    "A TOML config of settings, stages and stage tables, well typed or not, maybe broken afterwards."
    def table(stage):
        key = st.text(max_size=6).map(lambda k: json.dumps(k, ensure_ascii=False))
        pairs = draw(st.lists(st.one_of(*[st.sampled_from(TYPED[stage])] * 3, st.sampled_from(EDGES[stage]),
                                        st.tuples(key, TOML_VALUES.map(toml_value))), max_size=4, unique_by=lambda kv: kv[0]))
        return [f'{k} = {v}' for k, v in pairs]
    lines, stages = table('multitask'), draw(STAGE_LISTS)
    if stages is not None: lines.insert(0, f'stages = {toml_value(stages)}')
    for s in ('mlm', 'snli'):
        kind = draw(st.sampled_from(['none', 'table', 'value']))
        if kind == 'table': lines += [f'[{s}]'] + table(s)
        if kind == 'value': lines.insert(0, f'{s} = {toml_value(draw(TOML_VALUES))}')
    raw = '\n'.join(lines).encode()
    how = draw(st.sampled_from(['as is'] * 4 + ['insert', 'truncate', 'bom', 'crlf', 'raw line']))
    if how == 'insert':
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(JUNK + [b'[', b'=', b'{', b']]']) | st.binary(max_size=4)) + raw[at:]
    if how == 'truncate': raw = raw[:draw(st.integers(0, len(raw)))]
    if how == 'bom': raw = b'\xef\xbb\xbf' + raw
    if how == 'crlf': raw = raw.replace(b'\n', b'\r\n')
    if how == 'raw line': raw = draw(st.sampled_from(RAW_LINES)).encode() + b'\n' + raw
    return raw

@settings(max_examples=150, **FUZZ)
@given(toml_file(), st.lists(ITEMS, max_size=2))
def test_toml_files(work, raw, sets):
    path = work/'config.toml'
    path.write_bytes(raw)
    result, err = config_outcome(lambda: load_pipeline(None, path, sets))
    check_config(result, err, (str(path),), sets)

def run_cli(*args) -> tuple:
    "`(exit status, stdout, stderr)` of `ebert_train` called in-process."
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: ebert_train(list(args))
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()

@settings(max_examples=60, **FUZZ)
@given(st.data())
def test_ebert_train_fails_on_one_line(work, data):
    "Bad settings fail before training; good ones fail on the missing data folder, before any file is written."
    if data.draw(st.booleans(), label='config file'):
        (work/'cli.toml').write_bytes(data.draw(toml_file(), label='toml'))
        source = ['--config', str(work/'cli.toml')]
    else: source = ['--preset', data.draw(st.sampled_from(PRESETS), label='preset')]
    sets = [f'--set={s}' for s in data.draw(st.lists(ITEMS, max_size=3), label='sets')]
    scale = [f'--scale={x!r}' for x in data.draw(st.lists(st.floats(), max_size=1), label='scale')]
    out = work/'no-run'/'run'
    code, stdout, stderr = run_cli(*source, *sets, *scale, '--out', str(out), '--data-dir', str(work/'no-data'),
                                   '--no-progress')
    assert (code, stdout) == (2, '') and stderr.endswith('\n') and one_line(stderr[:-1]), stderr
    assert stderr.startswith('ebert_train: error: '), stderr
    assert not out.parent.exists()
