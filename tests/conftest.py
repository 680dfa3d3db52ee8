"Shared pytest set-up: the data folder defaults to ../shared/data beside the checkout."
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('EBERT_DATA', str((ROOT.parent/'shared'/'data').resolve()))
