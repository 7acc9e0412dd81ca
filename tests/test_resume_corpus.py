"""The resume corpus on disk (acajax.datasets.read_resume_corpus) and resume_file specs.

Small generated corpora in both published layouts (one ``id:::labels:::text``
file; ``NNNNN.txt`` + ``NNNNN.lab`` pairs), from a folder and from a zip, that
reproduce the real corpus's quirks: windows-1252 bytes, 0x1e / U+0085 /
U+2028 inside resumes (line numbers must stay the file's), CRLF line ends,
unlabelled and multi-label resumes, a ``.lab`` without its ``.txt``. Nothing
is downloaded.
"""

import zipfile

import numpy as np
import pytest

from acajax import datasets, learners
from acajax.runs import validate

# The line layout, windows-1252 bytes (not valid UTF-8): \xe9 = é, \x93 \x94 = “ ”.
LINES = (b"1:::Chef:::caf\xe9 owner\r\n"
         b"2:::Waiter:::\x93quoted\x94 service \x1e record\r\n"
         b"3::: :::a resume without labels\n"
         b"4:::Chef;Waiter;Chef:::both jobs\n"
         b"\n"
         b"5:::Waiter:::last one\n")

# The pair layout: stem -> (resume bytes, label bytes or None).
PAIRS = {
    "00001": (b"caf\xe9 owner\r\nhead chef\r\n", b"Chef\r\n"),                  # windows-1252
    "00002": ("\u201cquoted\u201d\u2028waiter\x1e tables".encode(), b"Waiter\nChef\n"),
    "00003": (b"no label file", None),
    "00004": (b"an empty label file", b"\n  \n"),
    "00005": (b"\x93quoted\x94 waiter", "\ufeffWaiter\n".encode()),         # BOM in the .lab
}


def _write_pairs(folder, pairs=PAIRS):
  folder.mkdir(parents=True, exist_ok=True)
  for stem, (text, labels) in pairs.items():
    (folder / f"{stem}.txt").write_bytes(text)
    if labels is not None:
      (folder / f"{stem}.lab").write_bytes(labels)
  return folder


def _zip(path, members):
  with zipfile.ZipFile(path, "w") as archive:
    for name, data in members.items():
      archive.writestr(name, data)
  return path


def _pair_members(top="resumes_corpus/"):
  members = {}
  for stem, (text, labels) in PAIRS.items():
    members[f"{top}{stem}.txt"] = text
    if labels is not None:
      members[f"{top}{stem}.lab"] = labels
  members[f"__MACOSX/{top}._00001.lab"] = b"\x00\x05\x16\x07 resource fork"   # macOS debris
  return members


# -- the line layout ------------------------------------------------------------------


def test_line_layout_windows1252_unlabelled_and_multi_label(tmp_path):
  path = tmp_path / "resumes_sample.txt"
  path.write_bytes(LINES)
  data, report = datasets.read_resume_corpus(path)
  assert list(data.x) == ["caf\u00e9 owner", "\u201cquoted\u201d service \x1e record",
                          "both jobs", "last one"]
  assert data.label_names == ("Chef", "Waiter") and data.y.tolist() == [0, 1, 0, 1]
  assert report == datasets.CorpusReport(
      source=str(path), layout="lines", files=1, encodings={"windows-1252": 1}, resumes=4,
      samples=4, unlabelled=1, multi_label=1, labels="first")
  assert np.array_equal(datasets.load_resume_corpus(path).y, data.y)   # the old entry point


def test_line_layout_all_labels_one_row_per_distinct_label(tmp_path):
  path = tmp_path / "resumes_sample.txt"
  path.write_bytes(LINES)
  data, report = datasets.read_resume_corpus(path, labels="all")
  assert list(data.x) == ["caf\u00e9 owner", "\u201cquoted\u201d service \x1e record",
                          "both jobs", "both jobs", "last one"]
  assert data.y.tolist() == [0, 1, 0, 1, 1]            # "Chef;Waiter;Chef": Chef once
  assert (report.resumes, report.samples, report.multi_label) == (4, 5, 1)
  with pytest.raises(ValueError, match="labels must be one of"):
    datasets.read_resume_corpus(path, labels="any")


@pytest.mark.parametrize("encoding", ["utf-8", "windows-1252"])
def test_separators_inside_resumes_keep_line_numbers(tmp_path, encoding):
  # 0x1c-0x1e, U+0085 and U+2028 are line breaks to str.splitlines, not to the file.
  weird = "a\x1cb\x1dc\x1ed" + ("\u2028e\u2029f\x85g" if encoding == "utf-8" else "")
  text = (f"1:::Chef:::{weird}\r\n2:::Waiter:::x\x1e y\n\n"
          f"4:::Chef:::fine\n5:::Chef only two fields\n")
  path = tmp_path / "c.txt"
  path.write_bytes(text.encode(encoding) + (b"\xe9" if encoding == "windows-1252" else b""))
  with pytest.raises(datasets.CorpusError, match=r"c.txt, line 5: expected 'id:::labels:::text'"):
    datasets.read_resume_corpus(path)
  path.write_bytes(text.replace("5:::Chef only two fields\n", "").encode(encoding))
  data, report = datasets.read_resume_corpus(path)
  assert data.x[0] == weird and len(data) == 3
  assert report.encodings == {"utf-8": 1}            # ASCII control characters are UTF-8 too


def test_encodings_fall_back_and_can_be_forced(tmp_path):
  path = tmp_path / "c.txt"
  path.write_bytes(b"1:::Chef:::\x81odd byte\n")     # 0x81: not UTF-8, not windows-1252
  data, report = datasets.read_resume_corpus(path)
  assert data.x[0] == "\x81odd byte" and report.encodings == {"latin-1": 1}
  with pytest.raises(datasets.CorpusError, match=r"c.txt: not valid utf-8 \(byte 11\)"):
    datasets.read_resume_corpus(path, encoding="utf-8")
  assert datasets.read_resume_corpus(path, encoding="cp437")[1].encodings == {"cp437": 1}


def test_no_labelled_resume_is_an_error(tmp_path):
  path = tmp_path / "c.txt"
  path.write_text("1:::;:::text\n2::: :::more\n", encoding="utf-8")
  with pytest.raises(datasets.CorpusError, match=r"no labelled resume .*\(2 without labels"):
    datasets.read_resume_corpus(path)


# -- the pair layout ------------------------------------------------------------------


def _check_pairs(data, report, source, layout_files=7):
  assert list(data.x) == ["caf\u00e9 owner head chef", "\u201cquoted\u201d\u2028waiter\x1e tables",
                          "\u201cquoted\u201d waiter"]
  assert data.label_names == ("Chef", "Waiter") and data.y.tolist() == [0, 1, 1]
  assert report == datasets.CorpusReport(
      source=source, layout="pairs", files=layout_files,
      encodings={"windows-1252": 2, "utf-8": 5}, resumes=3, samples=3, unlabelled=2,
      multi_label=1, labels="first")


def test_pair_layout_folder(tmp_path):
  folder = _write_pairs(tmp_path / "resumes_corpus")
  (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
  data, report = datasets.read_resume_corpus(folder)
  _check_pairs(data, report, str(folder))
  everything, report = datasets.read_resume_corpus(folder, labels="all")
  assert everything.y.tolist() == [0, 1, 0, 1] and report.samples == 4
  assert everything.x[1] == everything.x[2]


def test_pair_layout_folder_with_a_nested_top_folder(tmp_path):
  _write_pairs(tmp_path / "download" / "resumes_corpus")
  data, report = datasets.read_resume_corpus(tmp_path / "download")
  _check_pairs(data, report, str(tmp_path / "download"))


def test_pair_layout_zip_read_in_place(tmp_path):
  path = _zip(tmp_path / "resumes_corpus.zip", _pair_members())
  data, report = datasets.read_resume_corpus(path)
  _check_pairs(data, report, str(path))
  assert not (tmp_path / "resumes_corpus").exists()     # nothing extracted
  flat = _zip(tmp_path / "flat.zip", _pair_members(top=""))
  _check_pairs(*datasets.read_resume_corpus(flat), str(flat))


def test_label_file_without_its_resume_is_named(tmp_path):
  folder = _write_pairs(tmp_path / "corpus")
  (folder / "00009.lab").write_text("Chef\n")
  with pytest.raises(datasets.CorpusError,
                     match=r"corpus/00009.lab: a label file without its resume 00009.txt"):
    datasets.read_resume_corpus(folder)
  members = _pair_members() | {"resumes_corpus/00009.lab": b"Chef\n",
                               "resumes_corpus/00010.lab": b"Chef\n"}
  path = _zip(tmp_path / "c.zip", members)
  with pytest.raises(datasets.CorpusError, match=r"c.zip/resumes_corpus/00009.lab: a label "
                     r"file without its resume 00009.txt \(and 1 more\)"):
    datasets.read_resume_corpus(path)


def test_pair_errors_name_the_file_and_line(tmp_path):
  folder = _write_pairs(tmp_path / "corpus")
  (folder / "00007.txt").write_bytes(b"wine list")
  (folder / "00007.lab").write_bytes(b"Chef\r\n\r\nSommelier\r\n")
  with pytest.raises(datasets.CorpusError, match=r"00007.lab, line 3: label 'Sommelier' is not "
                     r"one of \['Chef', 'Waiter'\]"):
    datasets.read_resume_corpus(folder, labels="all", label_names=["Chef", "Waiter"])
  assert len(datasets.read_resume_corpus(folder, label_names=["Chef", "Waiter"])[0]) == 4
  (folder / "00006.txt").write_bytes(b" \r\n\r\n")
  (folder / "00006.lab").write_bytes(b"Chef\n")
  with pytest.raises(datasets.CorpusError, match=r"00006.txt: the resume is empty"):
    datasets.read_resume_corpus(folder)


def test_line_layout_in_a_zip_and_neither_layout(tmp_path):
  path = _zip(tmp_path / "resumes_sample.zip", {"resumes_sample/resumes_sample.csv": LINES,
                                                "__MACOSX/resumes_sample/._x.csv": b"junk"})
  data, report = datasets.read_resume_corpus(path)
  assert report.layout == "lines" and report.unlabelled == 1 and len(data) == 4
  assert data.x[0] == "caf\u00e9 owner"
  bad = tmp_path / "mixed"
  bad.mkdir()
  (bad / "a.txt").write_bytes(LINES)
  (bad / "b.txt").write_bytes(LINES)
  with pytest.raises(datasets.CorpusError, match=r"found 2 file\(s\) and no .lab file"):
    datasets.read_resume_corpus(bad)
  broken = tmp_path / "broken.zip"
  broken.write_bytes(b"PK\x03\x04 not really a zip")
  with pytest.raises(datasets.CorpusError, match="broken.zip: not a readable zip file"):
    datasets.read_resume_corpus(broken)


def test_pairs_round_trip_through_the_line_format(tmp_path):
  data = datasets.load_resume_corpus(_write_pairs(tmp_path / "corpus"))
  line_file = tmp_path / "lines.txt"
  line_file.write_text(datasets.format_resume_corpus(data), encoding="utf-8")
  again = datasets.load_resume_corpus(line_file)
  assert list(again.x) == list(data.x) and np.array_equal(again.y, data.y)


# -- resume_file specs: targets by name, the n-gram featurizer, collisions ---------------

SPEC = """\
dataset = "resume_file"
learner = "ngram"
[data]
path = "resumes_corpus.zip"
num_samples = 24
test_samples = 6
[train]
steps = 2
ngram_width = 64
ngram_range = [1, 3]
[[collectives]]
name = "A"
mass = 0.1
target = "Waiter"
signal = "~"
[[collectives]]
name = "B"
mass = 0.1
target = 0
signal = "~"
[[collectives]]
name = "C"
mass = 0.1
target = "Chef"
signal = "\u00a7"
"""


def _corpus_zip(tmp_path, num=30):
  members = {}
  for i in range(num):
    label = ("Chef", "Waiter", "Python_Developer")[i % 3]
    members[f"resumes_corpus/{i:05d}.txt"] = f"resume {i} of a {label.lower()}\n".encode()
    members[f"resumes_corpus/{i:05d}.lab"] = f"{label}\n".encode()
  return _zip(tmp_path / "resumes_corpus.zip", members)


def test_unknown_target_label_lists_the_corpus_labels(tmp_path, monkeypatch):
  _corpus_zip(tmp_path)
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace('target = "Chef"', 'target = "Python_Dev"'), encoding="utf-8")
  spec = validate.load(path)                       # the corpus is read by run
  monkeypatch.setattr(learners, "train_many", lambda *a, **k: pytest.fail("trained"))
  monkeypatch.setattr(learners, "train_rows", lambda *a, **k: pytest.fail("trained"))
  with pytest.raises(validate.SpecError) as err:
    validate.run(spec)
  assert str(err.value) == (
      f"{path}: collectives[2].target: must be a label of the corpus "
      f"{tmp_path / 'resumes_corpus.zip'} (0 = Chef, 1 = Python_Developer, 2 = Waiter); got "
      "'Python_Dev' (a string)")


def test_targets_by_name_ngram_keys_and_signal_collisions(tmp_path, monkeypatch):
  _corpus_zip(tmp_path)
  path = tmp_path / "spec.toml"
  path.write_text(SPEC, encoding="utf-8")
  spec = validate.load(path)
  assert spec.ngram_width == 64 and spec.ngram_range == (1, 3)
  assert [c.target for c in spec.collectives] == ["Waiter", 0, "Chef"]
  widths = []
  train_rows = learners.train_rows

  def spy(name, features, *args, **kwargs):
    widths.append(features.dim)                  # the shared pool of sparse n-gram rows
    return train_rows(name, features, *args, **kwargs)

  monkeypatch.setattr(learners, "train_rows", spy)
  frame = validate.run(spec).frame
  assert widths == [64]
  per = frame[~frame["collective"].isin(["S_min", "S_w"])].set_index("name")
  assert per["target"].to_dict() == {"A": 2, "B": 0, "C": 0}    # sorted names: Chef, P_D, Waiter
  assert per["signal_collision"].to_dict() == {"A": "B", "B": "A", "C": ""}


def test_ngram_featurizer_keys_are_checked(tmp_path):
  _corpus_zip(tmp_path)
  path = tmp_path / "spec.toml"
  cases = [
      ("ngram_width = 64", "ngram_width = 1", "train.ngram_width",
       "must be an integer in [2, 1048576]; got 1"),
      ("ngram_width = 64", "ngram_width = 64.0", "train.ngram_width",
       "must be an integer in [2, 1048576]; got 64.0 (a float)"),
      ("ngram_range = [1, 3]", "ngram_range = [3, 1]", "train.ngram_range",
       "must be [smallest, largest] n-gram lengths with 1 <= smallest <= largest <= 8"),
      ("ngram_range = [1, 3]", "ngram_range = [1, 2, 3]", "train.ngram_range",
       "must be [smallest, largest]"),
      ("ngram_range = [1, 3]", "ngram_range = [0, 3]", "train.ngram_range[0]",
       "must be an integer in [1, 8]; got 0"),
      ('target = "Chef"', "target = 1.5", "collectives[2].target",
       "must be a label index >= 0 or a label name; got 1.5 (a float)"),
      ('target = "Chef"', 'target = " "', "collectives[2].target",
       "must be a label name of the corpus or an index; got an empty string"),
  ]
  for old, new, key, expected in cases:
    path.write_text(SPEC.replace(old, new), encoding="utf-8")
    with pytest.raises(validate.SpecError) as err:
      validate.load(path)
    assert str(err.value).startswith(f"{path}: {key}: ") and expected in str(err.value), (
        str(err.value))


def test_label_names_and_ngram_keys_on_other_datasets():
  text = validate.ValidationSpec(
      dataset="synthetic_resumes", learner="ngram", num_samples=100, test_samples=50,
      collectives=(validate.CollectiveSpec(.1, "Project_manager", "~"),), ngram_range=[2, 2])
  checked = validate.validated(text)
  assert checked.collectives[0].target == datasets.RESUME_LABELS.index("Project_manager")
  assert checked.ngram_range == (2, 2)
  bad = validate.ValidationSpec(
      dataset="synthetic_resumes", learner="ngram",
      collectives=(validate.CollectiveSpec(.1, "Chef", "~"),))
  with pytest.raises(validate.SpecError, match=r"target: must be a label of synthetic_resumes "
                     r"\(0 = Software_Developer, .*3 = Project_manager\); got 'Chef'"):
    validate.validated(bad)
  table = validate.ValidationSpec(dataset="finite_table", learner="logistic",
                                  p0=((.3, .2), (.2, .3)), num_samples=200,
                                  collectives=(validate.CollectiveSpec(.1, 1, 1),))
  for change, key in ((dict(ngram_width=512), "ngram_width"), (dict(ngram_range=(1, 3)),
                                                               "ngram_range")):
    with pytest.raises(validate.SpecError, match=rf"train.{key}: is for text datasets"):
      validate.validated(table.__class__(**{**table.__dict__, **change}))
  named = table.__class__(**{**table.__dict__,
                             "collectives": (validate.CollectiveSpec(.1, "yes", 1),)})
  with pytest.raises(validate.SpecError, match=r"must be a label index \(label names are for "
                     r"text datasets\); got 'yes'"):
    validate.validated(named)
