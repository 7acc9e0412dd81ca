"""Offline datasets and signals for empirical validation (SPEC §1).

Every dataset is a :class:`Dataset`: features ``x`` (integer points, vectors,
8×8 images or strings in an object array), integer labels ``y``, the number
of labels, a ``featurize`` function that turns features into the float
matrix a learner takes, and a ``random_signal`` (a uniformly random point,
for wrong-signal coordination noise). Signals are functions on a batch of
features (:mod:`acajax.planting`).

* :func:`finite_table` — N samples of a finite P0 (an (n, K) table); the
  table is kept, so the exact engine can run beside the learners.
* :func:`gaussian_mixture` — one Gaussian per label; a signal sets coordinates.
* :func:`digits` — scikit-learn's bundled 8×8 digits; a signal is a pixel
  pattern (:func:`pixel_signal`).
* :func:`synthetic_resumes` — a resume-like corpus in the ``id:::labels:::text``
  line format of the public resume corpus used by Hardt et al. and Karan et
  al.; signals insert a character every 20 words (:func:`insertion_signal`);
  :func:`read_resume_corpus` / :func:`load_resume_corpus` read the public
  corpus in either layout (that line format, or ``NNNNN.txt`` resumes with
  ``NNNNN.lab`` labels), from a file, a folder or a zip, decoding each file
  as UTF-8 or windows-1252; :func:`hashed_ngrams` featurizes text
  (:func:`hashed_ngram_ids`: the same features stored sparse, for the text
  learner) and :func:`signal_collisions` finds the signal characters it
  cannot tell apart.
* :func:`climate_adaptation` — the illustrative use case of the
  multiple-collectives paper as a finite table: M = 4 collectives of total
  mass 0.4 with varying sizes and targets.

Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import string
import zipfile
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "CAR_COLUMNS",
    "CAR_LABELS",
    "CAR_SIGNAL",
    "CAR_SIZES",
    "ClimateScenario",
    "CorpusError",
    "CorpusReport",
    "DATASETS",
    "DIGITS_LABELS",
    "DIGITS_SIZE",
    "GAUSSIAN_DIM",
    "SparseCounts",
    "TEXT_FEATURES",
    "Dataset",
    "car_evaluation",
    "climate_adaptation",
    "digits",
    "finite_table",
    "format_resume_corpus",
    "gaussian_mixture",
    "hashed_ngram_ids",
    "hashed_ngrams",
    "insertion_signal",
    "LABEL_RULES",
    "load_resume_corpus",
    "map_signal",
    "NGRAM_RANGE",
    "pixel_signal",
    "point_signal",
    "coordinate_signal",
    "read_resume_corpus",
    "signal_collisions",
    "synthetic_resumes",
]

DATASETS = ("finite_table", "gaussian_mixture", "digits", "synthetic_resumes", "resume_file",
            "climate_adaptation")
# What a spec is checked against before any data is loaded (acajax.runs.validate).
DIGITS_SIZE = 1797        # images in scikit-learn's bundled digits (:func:`digits`)
DIGITS_LABELS = 10
GAUSSIAN_DIM = 8          # default feature dimension of :func:`gaussian_mixture`
TEXT_FEATURES = 1024      # default hash buckets of :func:`hashed_ngrams`
NGRAM_RANGE = (1, 2)      # default n-gram lengths (smallest, largest) of :func:`hashed_ngrams`


class CorpusError(ValueError):
  """A corpus file is malformed; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Samples with what learners and planting need.

  Attributes:
    x: (N, ...) features (object array of str for text).
    y: (N,) int labels in [0, num_labels).
    num_labels: K.
    featurize: x -> (N, d) float32 matrix for the learners.
    random_signal: a signal drawing one uniformly random point per sample.
    name: the dataset's name.
    p0: for finite tables, the (n, K) table the samples were drawn from.
    label_names: optional names of the K labels.
  """
  x: np.ndarray
  y: np.ndarray
  num_labels: int
  featurize: Callable[[np.ndarray], np.ndarray]
  random_signal: Callable[[np.ndarray], np.ndarray]
  name: str
  p0: np.ndarray | None = None
  label_names: tuple[str, ...] | None = None

  def __len__(self) -> int:
    return len(self.y)

  def subset(self, index) -> "Dataset":
    """The samples at ``index`` (same featurizer and metadata)."""
    return dataclasses.replace(self, x=self.x[index], y=self.y[index])


# --- finite tables -----------------------------------------------------------


def _one_hot(num_points: int):
  def featurize(x):
    return np.eye(num_points, dtype=np.float32)[np.asarray(x, int)]
  return featurize


def finite_table(p0, num_samples: int, *, seed: int = 0) -> Dataset:
  """N samples (x, y) of a finite joint table P0; features one-hot in the learner.

  Args:
    p0: (n, K) joint probabilities, non-negative, summing to 1.
    num_samples: N.
    seed: NumPy seed.

  Returns:
    A :class:`Dataset` with integer points x in [0, n) and ``p0`` kept.

  Raises:
    ValueError: ``p0`` is not a probability table; ``num_samples`` < 1.

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> data = datasets.finite_table(np.array([[.5, 0.], [0., .5]]), 6, seed=0)
    >>> bool(np.all(data.x == data.y)), data.featurize(data.x).shape
    (True, (6, 2))
  """
  p0 = np.asarray(p0, float)
  if p0.ndim != 2:
    raise ValueError(f"p0 must be an (n, K) table; got shape {p0.shape}")
  if np.any(p0 < 0) or abs(p0.sum() - 1) > 1e-6:
    raise ValueError(f"p0 must be non-negative and sum to 1; sums to {p0.sum():.6g}")
  if int(num_samples) < 1:
    raise ValueError(f"num_samples must be >= 1; got {num_samples}")
  num_points, num_labels = p0.shape
  rng = np.random.default_rng(seed)
  flat = rng.choice(p0.size, size=int(num_samples), p=p0.ravel() / p0.sum())
  x, y = np.divmod(flat, num_labels)
  return Dataset(x=x, y=y, num_labels=num_labels, featurize=_one_hot(num_points),
                 random_signal=_seeded_random_points(num_points, seed), name="finite_table",
                 p0=p0)


def _seeded_random_points(num_points: int, seed: int):
  rng = np.random.default_rng([seed, 7])

  def random_signal(batch):
    return rng.integers(0, num_points, size=len(batch)).astype(np.asarray(batch).dtype)
  return random_signal


def point_signal(point: int):
  """g(x) = point for every x (a deterministic map to one signal point).

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> datasets.point_signal(4)(np.array([0, 1])).tolist()
    [4, 4]
  """
  def signal(x):
    return np.full_like(np.asarray(x), point)
  return signal


def map_signal(index_map):
  """g(x) = index_map[x]: the signal of an integer map of SPEC §1.

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> datasets.map_signal([4, 5, 4])(np.array([0, 1, 2])).tolist()
    [4, 5, 4]
  """
  index_map = np.asarray(index_map, int)

  def signal(x):
    return index_map[np.asarray(x, int)]
  return signal


# --- Gaussian mixtures and digits --------------------------------------------


def gaussian_mixture(num_samples: int, *, num_labels: int = 2, dim: int = GAUSSIAN_DIM,
                     separation: float = 2.0, seed: int = 0) -> Dataset:
  """One isotropic Gaussian per label, means ``separation`` apart on random axes.

  Args:
    num_samples: N.
    num_labels: K, equally likely.
    dim: feature dimension.
    separation: scale of the class means.
    seed: NumPy seed (means and samples).

  Returns:
    A :class:`Dataset` of (N, dim) float32 vectors.

  Examples:
    >>> from acajax import datasets
    >>> data = datasets.gaussian_mixture(10, dim=3, seed=1)
    >>> data.x.shape, data.num_labels
    ((10, 3), 2)
  """
  rng = np.random.default_rng(seed)
  means = rng.normal(size=(num_labels, dim)) * separation / np.sqrt(dim)
  y = rng.integers(0, num_labels, size=int(num_samples))
  x = (means[y] + rng.normal(size=(int(num_samples), dim))).astype(np.float32)
  rand = np.random.default_rng([seed, 7])

  def random_signal(batch):
    return rand.normal(size=np.shape(batch)).astype(np.float32)

  return Dataset(x=x, y=y, num_labels=num_labels,
                 featurize=lambda v: np.asarray(v, np.float32).reshape(len(v), -1),
                 random_signal=random_signal, name="gaussian_mixture")


def coordinate_signal(coordinates: Sequence[int], value: float):
  """g(x): the given coordinates of a vector set to ``value``.

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> datasets.coordinate_signal([0], 5.)(np.zeros((1, 2))).tolist()
    [[5.0, 0.0]]
  """
  coordinates = list(coordinates)

  def signal(x):
    x = np.array(x, copy=True)
    x[:, coordinates] = value
    return x
  return signal


def digits() -> Dataset:
  """scikit-learn's bundled 8×8 digits (:data:`DIGITS_SIZE` = 1,797 images, 10 labels).

  Pixels are scaled to [0, 1].

  Returns:
    A :class:`Dataset` with (N, 8, 8) float32 images; features are the 64
    pixels.
  """
  from sklearn.datasets import load_digits  # deferred: scikit-learn loads only for digits

  bunch = load_digits()
  x = (bunch.images / 16.0).astype(np.float32)
  y = bunch.target.astype(int)
  rand = np.random.default_rng(7)

  def random_signal(batch):
    # A random pattern: three random pixels lit (the signal of a confused member).
    batch = np.array(batch, copy=True)
    for image in batch:
      image.reshape(-1)[rand.choice(64, 3, replace=False)] = 1.0
    return batch

  return Dataset(x=x, y=y, num_labels=DIGITS_LABELS,
                 featurize=lambda v: np.asarray(v, np.float32).reshape(len(v), -1),
                 random_signal=random_signal, name="digits")


def pixel_signal(pixels: Sequence[tuple[int, int]], value: float = 1.0):
  """g(x): a pixel pattern planted in 8×8 images (the listed (row, col) set to value).

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> float(datasets.pixel_signal([(0, 0), (7, 7)])(np.zeros((1, 8, 8))).sum())
    2.0
  """
  rows, cols = np.asarray(pixels, int).T

  def signal(x):
    x = np.array(x, copy=True)
    x[:, rows, cols] = value
    return x
  return signal


# --- text ---------------------------------------------------------------------

RESUME_LABELS = ("Software_Developer", "Database_Administrator", "Network_Administrator",
                 "Project_manager")
_COMMON = ("experience years team work skills responsible management support project "
           "development company professional knowledge strong ability communication "
           "environment including client business provided various using worked "
           "maintained developed performed ensure across daily reports staff new "
           "multiple quality training technical solutions").split()
_TOPICAL = (
    "java python code software api debugging agile git frontend backend testing "
    "microservices react algorithms refactoring".split(),
    "sql oracle database queries backup tuning indexes schema replication recovery "
    "postgres mysql storage migration dba".split(),
    "network cisco routers switches firewall tcp vpn lan wan dns routing protocols "
    "bandwidth monitoring cabling".split(),
    "stakeholders budget schedule scope milestones risk planning deliverables "
    "governance resources kickoff roadmap vendors timeline pmp".split(),
)


def synthetic_resumes(num_samples: int, *, seed: int = 0, words: int = 60,
                      topical_share: float = 0.15) -> Dataset:
  """A synthetic resume-like corpus with four job categories.

  Each text has ``words`` words: a fraction ``topical_share`` drawn from its
  category's vocabulary (with a little from the others), the rest common
  words, so classes overlap as real resumes do. The texts contain only ASCII,
  so planted non-ASCII characters are rare signals (xi_c = 0).

  Args:
    num_samples: N.
    seed: NumPy seed.
    words: words per text.
    topical_share: share of category words.

  Returns:
    A text :class:`Dataset` (featurized by :func:`hashed_ngrams`).

  Examples:
    >>> from acajax import datasets
    >>> data = datasets.synthetic_resumes(3, seed=0, words=5)
    >>> len(data.x[0].split()), data.num_labels
    (5, 4)
  """
  rng = np.random.default_rng(seed)
  num_labels = len(RESUME_LABELS)
  y = rng.integers(0, num_labels, size=int(num_samples))
  texts = []
  for label in y:
    topical = rng.random(words) < topical_share
    off_topic = rng.random(words) < 0.3  # topical words from another category
    categories = np.where(off_topic, rng.integers(0, num_labels, words), label)
    text = [(_TOPICAL[c][rng.integers(len(_TOPICAL[c]))] if t
             else _COMMON[rng.integers(len(_COMMON))]) for c, t in zip(categories, topical)]
    texts.append(" ".join(text))
  return _text_dataset(np.array(texts, dtype=object), y, RESUME_LABELS, "synthetic_resumes")


class SparseCounts(NamedTuple):
  """Hashed n-gram features stored sparse: each row's distinct buckets and values.

  Row i holds the buckets ``ids[i, :nnz[i]]`` with values ``values[i,
  :nnz[i]]`` (log(1 + count)); the rest of the row is padding (bucket 0,
  value 0), so a linear model's logits are a gather-sum over its kernel's
  rows (an embedding bag) and padding adds nothing. Storage is O(N x L),
  L the most distinct buckets of a row, whatever the hashing width ``dim``.

  Attributes:
    ids: (N, L) int32 bucket ids in [0, dim).
    values: (N, L) float32 values, 0 on padding.
    dim: the hashing width (columns of the dense form).
  """
  ids: np.ndarray
  values: np.ndarray
  dim: int

  def __len__(self) -> int:
    return len(self.ids)

  def take(self, index) -> "SparseCounts":
    """The rows at ``index`` (same width L)."""
    return SparseCounts(self.ids[index], self.values[index], self.dim)

  def dense(self) -> np.ndarray:
    """The (N, dim) float32 matrix (what :func:`hashed_ngrams` returns).

    Examples:
      >>> from acajax import datasets
      >>> sparse = datasets.hashed_ngram_ids(["ab", "b"], orders=(1,), dim=8)
      >>> bool((sparse.dense() == datasets.hashed_ngrams(["ab", "b"], orders=(1,), dim=8)).all())
      True
    """
    out = np.zeros((len(self.ids), self.dim), np.float32)
    np.add.at(out, (np.arange(len(self.ids))[:, None], self.ids), self.values)
    return out


def _ngram_buckets(text, orders: Sequence[int], dim: int) -> np.ndarray:
  """Bucket of every character n-gram of ``text`` (one entry per occurrence)."""
  mult = np.uint64(0x9E3779B97F4A7C15)
  codes = np.frombuffer(str(text).encode("utf-32-le"), np.uint32).astype(np.uint64)
  parts = []
  for order in orders:
    if len(codes) < order:
      continue
    h = np.full(len(codes) - order + 1, np.uint64(order))
    for i in range(order):
      h = (h * mult) ^ codes[i:len(codes) - order + 1 + i]
    h = (h ^ (h >> np.uint64(29))) * mult
    parts.append(((h >> np.uint64(40)) % np.uint64(dim)).astype(np.int64))
  return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def hashed_ngram_ids(texts, *, orders: Sequence[int] = (1, 2),
                     dim: int = TEXT_FEATURES) -> SparseCounts:
  """:func:`hashed_ngrams` stored sparse: each text's distinct buckets and log1p counts.

  The same buckets and values as :func:`hashed_ngrams` (``.dense()`` is its
  matrix), in O(N x L) memory, L the most distinct buckets of one text: the
  form the text learner trains on (:func:`acajax.learners.train_rows`).

  Args:
    texts: N strings.
    orders: n-gram lengths.
    dim: number of hash buckets.

  Returns:
    A :class:`SparseCounts` (buckets in increasing order, padded with bucket
    0 and value 0; L >= 1).

  Examples:
    >>> from acajax import datasets
    >>> sparse = datasets.hashed_ngram_ids(["abab", "b"], orders=(1, 2), dim=64)
    >>> sparse.ids.shape, [round(float(v), 3) for v in sparse.values[1]]
    ((2, 4), [0.693, 0.0, 0.0, 0.0])
  """
  rows = []
  for text in texts:
    buckets = _ngram_buckets(text, orders, dim)
    if dim <= 4 * len(buckets):       # few buckets: count them all, keep the non-empty ones
      counts = np.bincount(buckets, minlength=dim)
      ids = np.flatnonzero(counts)
      counts = counts[ids]
    else:
      ids, counts = np.unique(buckets, return_counts=True)
    rows.append((ids, counts))
  width = max([1] + [len(ids) for ids, _ in rows])
  out_ids = np.zeros((len(rows), width), np.int32)
  out_values = np.zeros((len(rows), width), np.float32)
  for row, (ids, counts) in enumerate(rows):
    out_ids[row, :len(ids)] = ids
    out_values[row, :len(ids)] = np.log1p(counts.astype(np.float32))
  return SparseCounts(out_ids, out_values, int(dim))


def hashed_ngrams(texts, *, orders: Sequence[int] = (1, 2),
                  dim: int = TEXT_FEATURES) -> np.ndarray:
  """Hashed character n-gram counts, log1p-scaled: (N, dim) float32.

  The hash is a fixed polynomial of the code points (no Python ``hash``), so
  features are the same in every process. :func:`hashed_ngram_ids` gives
  the same features stored sparse.

  Args:
    texts: N strings.
    orders: n-gram lengths.
    dim: number of hash buckets.

  Returns:
    (N, dim) float32 array of log(1 + count).

  Examples:
    >>> from acajax import datasets
    >>> f = datasets.hashed_ngrams(["ab", "ab"], orders=(1,), dim=8)
    >>> f.shape, round(float(f[0].sum() / 0.6931), 3)
    ((2, 8), 2.0)
  """
  out = np.zeros((len(texts), dim), np.float32)
  for row, text in enumerate(texts):
    out[row] = np.bincount(_ngram_buckets(text, orders, dim), minlength=dim)
  return np.log1p(out)


def insertion_signal(char: str, every: int = 20):
  """g(text): ``char`` inserted before every ``every``-th word, from the first.

  The text signal of Hardt et al. and Karan et al.: one character every 20
  words.

  Examples:
    >>> import numpy as np
    >>> from acajax import datasets
    >>> datasets.insertion_signal("~", every=2)(np.array(["a b c"], object)).tolist()
    ['~a b ~c']
  """
  if not isinstance(char, str) or len(char) != 1:
    raise ValueError(f"char must be a single character; got {char!r}")
  if int(every) < 1:
    raise ValueError(f"every must be >= 1; got {every}")

  def insert(text):
    words = str(text).split(" ")
    for i in range(0, len(words), every):
      words[i] = char + words[i]
    return " ".join(words)

  def signal(x):
    return np.array([insert(t) for t in x], dtype=object)
  return signal


def _text_dataset(x, y, label_names, name) -> Dataset:
  rand = np.random.default_rng(7)
  pool = [chr(c) for c in range(0x00C0, 0x0180)]

  def random_signal(batch):
    return np.array([insertion_signal(pool[rand.integers(len(pool))])(np.array([t], object))[0]
                     for t in batch], dtype=object)

  return Dataset(x=x, y=np.asarray(y, int), num_labels=len(label_names), featurize=hashed_ngrams,
                 random_signal=random_signal, name=name, label_names=tuple(label_names))


def format_resume_corpus(dataset: Dataset) -> str:
  """The ``id:::labels:::text`` lines of a text dataset (one label each).

  Raises:
    ValueError: a text holds a line break or ``:::`` (the line format cannot
      carry them).
  """
  names = dataset.label_names or tuple(str(k) for k in range(dataset.num_labels))
  for i, text in enumerate(dataset.x):
    if "\n" in str(text) or ":::" in str(text):
      raise ValueError(f"text {i} holds a line break or ':::'; the 'id:::labels:::text' "
                       "format cannot carry it")
  return "".join(f"{i}:::{names[label]}:::{text}\n"
                 for i, (label, text) in enumerate(zip(dataset.y, dataset.x)))


# --- the resume corpus on disk -----------------------------------------------

LABEL_RULES = ("first", "all")
"""Rules for resumes with several labels (:func:`read_resume_corpus`)."""


class CorpusReport(NamedTuple):
  """What :func:`read_resume_corpus` read.

  Attributes:
    source: the path read (a file, a folder or a zip).
    layout: ``"lines"`` (one ``id:::labels:::text`` file) or ``"pairs"``
      (``NNNNN.txt`` resumes with ``NNNNN.lab`` label files).
    files: files decoded (the ``.txt`` of a resume without labels is not).
    encodings: files per encoding that decoded them: ``utf-8``,
      ``windows-1252``, ``latin-1`` (or the forced encoding).
    resumes: labelled resumes kept.
    samples: rows of the dataset (``resumes``; more with ``labels="all"``).
    unlabelled: resumes skipped because they have no label.
    multi_label: kept resumes with two or more distinct labels.
    labels: the multi-label rule, ``"first"`` or ``"all"``.
  """
  source: str
  layout: str
  files: int
  encodings: dict[str, int]
  resumes: int
  samples: int
  unlabelled: int
  multi_label: int
  labels: str


class _Resume(NamedTuple):
  text: str
  labels: tuple[tuple[str, str], ...]     # (label, where it was read: "file, line N")


def _lines(content: str) -> list[str]:
  """Lines split at ``\\n`` only, a trailing ``\\r`` removed.

  Never ``str.splitlines``: it also breaks at 0x1c-0x1e, 0x85, U+2028 and
  U+2029, which resumes contain, and would shift every later line number.
  """
  return [line[:-1] if line.endswith("\r") else line for line in content.split("\n")]


def _is_junk(name: str) -> bool:
  """Hidden files and macOS archive debris (``.DS_Store``, ``__MACOSX/``, ``._x.txt``)."""
  return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


class _Decoder:
  """Decodes files as UTF-8, else windows-1252, else latin-1 (never fails); counts the choices."""

  def __init__(self, encoding: str | None):
    self.encoding = encoding
    self.counts: dict[str, int] = {}

  def __call__(self, raw: bytes, where: str) -> str:
    if self.encoding is not None:
      try:
        content, used = raw.decode(self.encoding), self.encoding
      except UnicodeDecodeError as err:
        raise CorpusError(f"{where}: not valid {self.encoding} (byte {err.start}); omit the "
                          "encoding to read UTF-8 or windows-1252") from None
    else:
      for used in ("utf-8", "windows-1252", "latin-1"):
        try:
          content = raw.decode(used)
          break
        except UnicodeDecodeError:
          continue
    self.counts[used] = self.counts.get(used, 0) + 1
    return content.removeprefix("\ufeff")      # a byte-order mark is not text


def _parse_lines(content: str, where: str, unlabelled: list[int]) -> list[_Resume]:
  """Resumes of the ``id:::labels:::text`` layout; unlabelled lines are counted."""
  resumes = []
  for number, line in enumerate(_lines(content), start=1):
    if not line.strip():
      continue
    fields = line.split(":::")
    if len(fields) != 3:
      raise CorpusError(f"{where}, line {number}: expected 'id:::labels:::text' (3 fields "
                        f"separated by ':::'); found {len(fields)} field(s)")
    labels = [v.strip() for v in fields[1].replace(",", ";").split(";") if v.strip()]
    if not labels:
      unlabelled[0] += 1
      continue
    if not fields[2].strip():
      raise CorpusError(f"{where}, line {number}: the text field is empty")
    at = f"{where}, line {number}"
    resumes.append(_Resume(fields[2].strip(), tuple((v, at) for v in dict.fromkeys(labels))))
  return resumes


def _parse_pairs(names: list[str], read: Callable[[str], bytes], show: Callable[[str], str],
                 decode: _Decoder, unlabelled: list[int]) -> list[_Resume]:
  """Resumes of the ``NNNNN.txt`` + ``NNNNN.lab`` layout, matched by path without suffix."""
  texts = {name[:-4]: name for name in names if name.lower().endswith(".txt")}
  labs = {name[:-4]: name for name in names if name.lower().endswith(".lab")}
  orphans = sorted(set(labs) - set(texts))
  if orphans:
    more = f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""
    raise CorpusError(f"{show(labs[orphans[0]])}: a label file without its resume "
                      f"{orphans[0].rsplit('/', 1)[-1]}.txt{more}")
  resumes = []
  for stem in sorted(texts):
    labels = []
    if stem in labs:
      where = show(labs[stem])
      for number, line in enumerate(_lines(decode(read(labs[stem]), where)), start=1):
        if line.strip():
          labels.append((line.strip(), f"{where}, line {number}"))
    if not labels:
      unlabelled[0] += 1
      continue
    where = show(texts[stem])
    text = " ".join(line.strip() for line in _lines(decode(read(texts[stem]), where))
                    if line.strip())
    if not text:
      raise CorpusError(f"{where}: the resume is empty (labelled in {show(labs[stem])})")
    first = {}                                  # each distinct label where it first appears
    for label, at in labels:
      first.setdefault(label, at)
    resumes.append(_Resume(text, tuple(first.items())))
  return resumes


def _read_members(source: str, names: list[str], read: Callable[[str], bytes],
                  show: Callable[[str], str], decode: _Decoder,
                  unlabelled: list[int]) -> tuple[str, list[_Resume]]:
  """(layout, resumes) of the files ``names`` of a folder or a zip."""
  names = sorted(name for name in names if not _is_junk(name))
  if any(name.lower().endswith(".lab") for name in names):
    return "pairs", _parse_pairs(names, read, show, decode, unlabelled)
  if len(names) != 1:
    raise CorpusError(f"{source}: expected NNNNN.txt resumes with NNNNN.lab label files, or "
                      f"one 'id:::labels:::text' file; found {len(names)} file(s) and no .lab "
                      "file")
  where = show(names[0])
  return "lines", _parse_lines(decode(read(names[0]), where), where, unlabelled)


def read_resume_corpus(path, *, labels: str = "first", encoding: str | None = None,
                       label_names: Sequence[str] | None = None) -> tuple[Dataset, CorpusReport]:
  """Reads a resume corpus in either published layout, with a report of what was read.

  The corpus of Jiechieu & Tsopze (2020) comes in two layouts, both read
  here, from a folder or a ``.zip`` (read in place, never extracted; a
  nested top folder is fine):

  * **lines**: one text file, one resume per line, ``id:::labels:::text``,
    labels separated by ``;`` (or ``,``); blank lines are skipped;
  * **pairs**: ``NNNNN.txt`` (the resume) with ``NNNNN.lab`` (its labels, one
    per line), matched by path without the suffix. A resume's lines are
    joined by single spaces, so it is one line of text as in the line layout
    (the insertion signals count words across line breaks). A ``.lab``
    without its ``.txt`` is an error naming it. A folder or zip holding any
    ``.lab`` file is read as pairs; otherwise it must hold exactly one file,
    read as lines. Hidden files and ``__MACOSX/`` debris are ignored.

  Each file is decoded on its own as UTF-8, else windows-1252 (the public
  corpus), else latin-1, which never fails; the report counts each choice.
  Lines are split at ``\\n`` only (a trailing ``\\r`` dropped), never at the
  other characters ``str.splitlines`` breaks at (0x1c-0x1e, 0x85, U+2028),
  which real resumes contain, so the line numbers in errors are the
  file's. A resume without a label (an empty labels field, no ``.lab`` file
  or an empty one) is skipped and counted, not an error.

  Several labels: ``labels="first"`` keeps the first label as the class (the
  multiclass setup of the study; the others are ignored); ``labels="all"``
  keeps one row per distinct label, the same text in each, so a learner
  trained on it fits the resume's labels in equal shares (a model can be
  right on at most one of them). The rows of one resume are adjacent and a
  random split may send them to both sides; ``acajax validate`` reads with
  ``"first"``. The report's ``multi_label`` counts such resumes under
  either rule.

  Classes are ``label_names`` in order, or by default the sorted names of
  the labels kept (first labels under ``"first"``, all under ``"all"``).

  Args:
    path: an ``id:::labels:::text`` file, a folder, or a ``.zip`` of either
      layout.
    labels: ``"first"`` or ``"all"`` (see above).
    encoding: force one encoding for every file (an undecodable file is then
      an error).
    label_names: the classes, in order.

  Returns:
    (dataset, report): a text :class:`Dataset` named ``"resume_file"`` and
    a :class:`CorpusReport`.

  Raises:
    FileNotFoundError: no such path.
    ValueError: ``labels`` is not a rule of :data:`LABEL_RULES`.
    CorpusError: a malformed line (not three ``:::`` fields, an empty text),
      an empty resume, a ``.lab`` without its ``.txt``, a label not in
      ``label_names``, a folder or zip of neither layout, an unreadable zip,
      or no labelled resume; the message names the file (and line).

  Examples:
    >>> import pathlib, tempfile
    >>> from acajax import datasets
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "00001.txt").write_bytes(b"caf\\xe9 manager\\r\\nteam lead")
    >>> _ = (folder / "00001.lab").write_text("Project_manager\\nSales\\n")
    >>> _ = (folder / "00002.txt").write_text("no label file")
    >>> data, report = datasets.read_resume_corpus(folder)
    >>> data.x[0], data.label_names, report.unlabelled, report.multi_label
    ('café manager team lead', ('Project_manager',), 1, 1)
    >>> report.encodings
    {'utf-8': 1, 'windows-1252': 1}
  """
  if labels not in LABEL_RULES:
    raise ValueError(f"labels must be one of {LABEL_RULES}; got {labels!r}")
  path = pathlib.Path(path)
  source = str(path)
  decode, unlabelled = _Decoder(encoding), [0]
  if path.is_dir():
    files = {p.relative_to(path).as_posix(): p for p in path.rglob("*") if p.is_file()}
    layout, resumes = _read_members(source, list(files), lambda name: files[name].read_bytes(),
                                    lambda name: str(files[name]), decode, unlabelled)
  elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
    try:
      with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        layout, resumes = _read_members(source, names, archive.read,
                                        lambda name: f"{source}/{name}", decode, unlabelled)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
      raise CorpusError(f"{source}: not a readable zip file ({err})") from None
  else:
    layout, resumes = "lines", _parse_lines(decode(path.read_bytes(), source), source,
                                            unlabelled)
  if not resumes:
    found = f" ({unlabelled[0]} without labels skipped)" if unlabelled[0] else ""
    raise CorpusError(f"{source}: no labelled resume in the 'id:::labels:::text' or "
                      f"NNNNN.txt + NNNNN.lab layout{found}")
  kept = [r.labels[:1] if labels == "first" else r.labels for r in resumes]
  names = (tuple(label_names) if label_names is not None
           else tuple(sorted({label for pairs in kept for label, _ in pairs})))
  index = {name: k for k, name in enumerate(names)}
  x, y = [], []
  for resume, pairs in zip(resumes, kept):
    for label, where in pairs:
      if label not in index:
        raise CorpusError(f"{where}: label {label!r} is not one of {list(names)}")
      x.append(resume.text)
      y.append(index[label])
  report = CorpusReport(source=source, layout=layout, files=sum(decode.counts.values()),
                        encodings=dict(decode.counts), resumes=len(resumes), samples=len(y),
                        unlabelled=unlabelled[0],
                        multi_label=sum(len(r.labels) > 1 for r in resumes), labels=labels)
  return _text_dataset(np.array(x, dtype=object), np.array(y, int), names, "resume_file"), report


def load_resume_corpus(path, *, labels: str = "first", encoding: str | None = None,
                       label_names: Sequence[str] | None = None) -> Dataset:
  """The dataset of :func:`read_resume_corpus` (same arguments), without the report.

  Raises:
    FileNotFoundError, ValueError, CorpusError: as :func:`read_resume_corpus`.
  """
  return read_resume_corpus(path, labels=labels, encoding=encoding, label_names=label_names)[0]


def _collision_probe(every: int) -> list[str]:
  """Texts whose insertion points precede words starting with every ASCII letter and digit."""
  return [" ".join([f"{s}x"] + ["w"] * (every - 1) + [f"{s}y"])
          for s in string.ascii_letters + string.digits]


def signal_collisions(featurize: Callable[[np.ndarray], np.ndarray], characters, *,
                      texts=None, every: int = 20) -> dict[str, tuple[str, ...]]:
  """Insertion signals a text featurizer cannot tell apart.

  Inserting a character (:func:`insertion_signal`) into a text adds the
  n-grams that contain it; ``featurize`` hashes them to some buckets (the
  buckets whose value rises). Character ``c`` *collides* with ``d`` when, in
  every text of ``texts``, each bucket that c's insertion raises is also
  raised by d's insertion into the same text: no feature the learner sees
  belongs to c's signal alone, so whatever the model learns for c's signal
  moves d's signal too (both ways: the featurizer hashes the two signals
  alike). The default ``texts`` are short probes in which the character
  lands before words starting with every ASCII letter and digit, after a
  space and at the start, so the n-grams spanning the character and its
  neighbours are seen. Cost: one ``featurize`` call per distinct character
  plus one, on 62 short texts.

  Args:
    featurize: texts -> (N, d) features, such as :func:`hashed_ngrams`.
    characters: the signal characters (an iterable of single characters).
    texts: texts to insert into (default: the probes above).
    every: the insertion period of the signals.

  Returns:
    ``{c: (d, ...)}`` for each distinct character: the other characters
    whose raised buckets include all of c's (empty: none).

  Examples:
    >>> from acajax import datasets
    >>> datasets.signal_collisions(datasets.hashed_ngrams, "~^")
    {'~': (), '^': ()}
    >>> datasets.signal_collisions(lambda t: datasets.hashed_ngrams(t, dim=1), "~^")
    {'~': ('^',), '^': ('~',)}
  """
  chars = list(dict.fromkeys(characters))
  base = np.array(_collision_probe(int(every)) if texts is None else list(texts), dtype=object)
  plain = np.asarray(featurize(base))
  raised = {c: np.asarray(featurize(insertion_signal(c, every)(base))) > plain for c in chars}
  return {c: tuple(d for d in chars if d != c and not np.any(raised[c] & ~raised[d]))
          for c in chars}


# --- the climate-adaptation simulation ----------------------------------------


class ClimateScenario(NamedTuple):
  """A climate-adaptation population and four collectives on it.

  Farms are described by region (3), rainfall (3), soil (2), crop (4) and a
  declared adaptation practice (0 = none, 1..4 rare practices); the platform
  assigns one of three programmes (0 irrigation subsidy, 1 crop insurance,
  2 relocation support). Collective c declares practice c + 1 (its signal).

  Attributes:
    p0: (n, 3) joint table, n = 3 * 3 * 2 * 4 * 5 = 360.
    columns: the column sizes, mixed radix with the practice last.
    signal_maps: (4, n) integer maps setting the practice column to c + 1.
    masses: (4,) masses, summing to 0.4.
    targets: (4,) target programmes.
  """
  p0: np.ndarray
  columns: tuple[int, ...]
  signal_maps: np.ndarray
  masses: np.ndarray
  targets: np.ndarray


def climate_adaptation(*, masses: Sequence[float] = (.16, .12, .08, .04),
                       targets: Sequence[int] = (1, 2, 1, 0),
                       practice_rate: float = 0.01, seed: int = 0) -> ClimateScenario:
  """The climate-adaptation style simulation of the multiple-collectives paper.

  M = 4 collectives of total mass 0.4 with varying sizes and targets (two
  aligned on crop insurance, one for relocation, one for irrigation). Each
  rare practice has P0 mass ``practice_rate``; programmes depend on rainfall,
  soil and crop through a fixed softmax (seeded).

  Args:
    masses: (4,) collective masses.
    targets: (4,) target programmes in {0, 1, 2}.
    practice_rate: P0 mass of each declared practice 1..4.
    seed: NumPy seed of the programme weights.

  Returns:
    A :class:`ClimateScenario` (use :func:`finite_table` on its ``p0`` to
    sample).

  Examples:
    >>> from acajax import datasets
    >>> scen = datasets.climate_adaptation()
    >>> scen.p0.shape, round(float(scen.masses.sum()), 6), scen.signal_maps.shape
    ((360, 3), 0.4, (4, 360))
  """
  columns = (3, 3, 2, 4, 5)
  rng = np.random.default_rng(seed)
  weights = [rng.normal(size=(size, 3)) for size in columns[:4]]
  rows = np.array(list(itertools.product(*[range(s) for s in columns])))
  logits = sum(w[rows[:, i]] for i, w in enumerate(weights))
  conditional = np.exp(logits - logits.max(axis=1, keepdims=True))
  conditional /= conditional.sum(axis=1, keepdims=True)
  practice_mass = np.where(rows[:, 4] == 0, 1 - 4 * practice_rate, practice_rate)
  p_x = practice_mass / (len(rows) / columns[4])
  p0 = p_x[:, None] * conditional
  p0 /= p0.sum()
  radix = np.array([np.prod(columns[i + 1:], dtype=int) for i in range(len(columns))])
  maps = np.stack([(rows[:, :4] @ radix[:4]) + c + 1 for c in range(4)])
  return ClimateScenario(p0=p0, columns=columns, signal_maps=maps,
                         masses=np.asarray(masses, float), targets=np.asarray(targets, int))


# --- a synthetic car-evaluation table (finite-sample bounds, SPEC §9) -------------

# (name, number of categories, value an _CAR_SUV favours or None, how strongly)
CAR_COLUMNS = (
    ("model", 8, None, 0.0), ("fuel", 4, 1, 0.9), ("transmission", 3, 0, 0.8),
    ("drive", 3, 1, 0.98), ("safety", 5, 3, 0.8), ("interior", 3, 2, 0.95),
    ("infotainment", 4, 2, 0.95), ("country", 5, 4, 0.3), ("warranty", 4, 3, 0.95),
    ("doors", 3, 2, 0.98), ("seats", 4, 2, 0.98), ("air_conditioning", 2, 0, 0.98),
    ("navigation", 3, 2, 0.98), ("tires", 3, 0, 0.98), ("sunroof", 2, None, 0.0),
    ("sound", 4, 1, 0.98), ("cruise_control", 2, 0, 0.98), ("bluetooth", 2, 0, 0.98),
)
CAR_SIZES = tuple(size for _, size, _, _ in CAR_COLUMNS)
CAR_LABELS = ("Excellent", "Good", "Average", "Poor")
_CAR_MODEL_PROBS = np.array([.22, .45, .23, .02, .01, .01, .01, .05])   # model 1 = _CAR_SUV
_CAR_SUV, _CAR_COUNTRY = 1, 7
# The signal: an _CAR_SUV with every favoured option (sunroof: yes); the country is kept.
CAR_SIGNAL = {j: (_CAR_SUV if name == "model" else (favoured if favoured is not None else 0))
          for j, (name, _, favoured, _) in enumerate(CAR_COLUMNS) if j != _CAR_COUNTRY}
_CAR_FUEL_SCORE = np.array([1, 1, 4, 3])          # gasoline, diesel, electric, hybrid
_CAR_WARRANTY_SCORE = np.array([2, 3, 4, 5])      # 3, 5, 7, 10 years


def car_evaluation(num_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Synthetic car-evaluation samples: (num_rows, 18) int8 codes and int8 labels.

  The shape of Gauthier, Bach and Jordan's car-evaluation figure (SPEC §9):
  18 categorical columns (:data:`CAR_COLUMNS`: model, fuel, ..., bluetooth;
  :data:`CAR_SIZES` categories each) and a 4-level evaluation
  (:data:`CAR_LABELS`). :data:`CAR_SIGNAL` sets every column except the
  country of manufacture, so its image set has 5 points, one per country.

  SUVs favour one value of most columns; the evaluation is a score of safety,
  fuel and warranty plus noise, except for SUVs made in country C2 (60%
  Excellent, 30% Poor, 10% Average), so the four targets are planted at
  different sizes.

  Examples:
    >>> rows, labels = car_evaluation(1000, seed=0)
    >>> rows.shape, sorted(set(labels.tolist())) == [0, 1, 2, 3]
    ((1000, 18), True)
  """
  rng = np.random.default_rng(seed)
  model = rng.choice(8, num_rows, p=_CAR_MODEL_PROBS)
  suv = model == _CAR_SUV
  rows = np.empty((num_rows, len(CAR_COLUMNS)), dtype=np.int8)
  rows[:, 0] = model
  for j, (_, size, favoured, strength) in enumerate(CAR_COLUMNS[1:], start=1):
    uniform = rng.integers(0, size, num_rows)
    if favoured is None:
      rows[:, j] = uniform
    else:
      rows[:, j] = np.where(suv & (rng.random(num_rows) < strength), favoured, uniform)
  safety, fuel, warranty = rows[:, 4] + 1, rows[:, 1], rows[:, 8]
  score = safety + _CAR_FUEL_SCORE[fuel] + _CAR_WARRANTY_SCORE[warranty] + rng.choice([1, 3, 4], num_rows)
  score = np.where(rng.random(num_rows) < 0.05, 0, score)
  special = suv & (rows[:, _CAR_COUNTRY] == 1)
  draw = rng.random(num_rows)
  score = np.where(special, np.where(draw < .6, 13, np.where(draw < .9, 0, 2)), score)
  labels = np.select([score >= 13, score >= 8, score >= 2], [0, 1, 2], 3).astype(np.int8)
  return rows, labels
