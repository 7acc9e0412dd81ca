"""Datasets (acajax.datasets): offline data, signals, the resume corpus format, climate."""

import numpy as np
import pytest

from acajax import datasets, mixtures


def test_finite_table_deterministic_and_distributed():
  p0 = np.array([[.3, .1], [.2, .4]])
  a = datasets.finite_table(p0, 20000, seed=5)
  b = datasets.finite_table(p0, 20000, seed=5)
  assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
  counts = np.zeros_like(p0)
  np.add.at(counts, (a.x, a.y), 1)
  np.testing.assert_allclose(counts / counts.sum(), p0, atol=.015)
  assert a.featurize(np.array([1, 0])).tolist() == [[0., 1.], [1., 0.]]
  with pytest.raises(ValueError, match="sum to 1"):
    datasets.finite_table([[.5, .6]], 10)
  with pytest.raises(ValueError, match="num_samples must be >= 1"):
    datasets.finite_table(p0, 0)


def test_signals():
  assert datasets.map_signal([2, 2, 0])(np.array([0, 2])).tolist() == [2, 0]
  images = datasets.pixel_signal([(0, 0), (3, 4)], .5)(np.zeros((2, 8, 8)))
  assert images[:, 3, 4].tolist() == [.5, .5] and images.sum() == 2.0
  text = " ".join(f"w{i}" for i in range(45))
  planted = datasets.insertion_signal("\u00a7")(np.array([text], object))[0]
  words = planted.split(" ")
  assert [i for i, w in enumerate(words) if w.startswith("\u00a7")] == [0, 20, 40]
  assert planted.replace("\u00a7", "") == text
  with pytest.raises(ValueError, match="single character"):
    datasets.insertion_signal("ab")


def test_gaussian_and_digits():
  data = datasets.gaussian_mixture(50, dim=4, seed=2)
  assert data.x.shape == (50, 4) and data.x.dtype == np.float32
  assert np.array_equal(data.x, datasets.gaussian_mixture(50, dim=4, seed=2).x)
  digits = datasets.digits()
  assert digits.x.shape == (1797, 8, 8) and digits.num_labels == 10
  assert 0 <= digits.x.min() and digits.x.max() <= 1
  assert digits.featurize(digits.x[:3]).shape == (3, 64)


def test_synthetic_resumes_and_ngrams_deterministic():
  a = datasets.synthetic_resumes(40, seed=1)
  b = datasets.synthetic_resumes(40, seed=1)
  assert list(a.x) == list(b.x) and all(t.isascii() for t in a.x)
  f1, f2 = datasets.hashed_ngrams(a.x), datasets.hashed_ngrams(b.x)
  assert f1.shape == (40, 1024) and np.array_equal(f1, f2)
  planted = datasets.insertion_signal("\u00b6")(a.x[:1])
  assert not np.array_equal(datasets.hashed_ngrams(planted), f1[:1])


def test_resume_corpus_round_trip_utf8_and_windows1252(tmp_path):
  data = datasets.synthetic_resumes(12, seed=0)
  path = tmp_path / "corpus.txt"
  path.write_text(datasets.format_resume_corpus(data), encoding="utf-8")
  loaded = datasets.load_resume_corpus(path, label_names=datasets.RESUME_LABELS)
  assert list(loaded.x) == list(data.x) and np.array_equal(loaded.y, data.y)
  cp = tmp_path / "cp1252.txt"
  cp.write_bytes("1:::Chef;Waiter:::Cr\u00e8me br\u00fbl\u00e9e expert\n\n"
                 "2:::Waiter:::serves tables\n".encode("windows-1252"))
  loaded = datasets.load_resume_corpus(cp)
  assert loaded.x[0] == "Cr\u00e8me br\u00fbl\u00e9e expert"
  assert loaded.label_names == ("Chef", "Waiter") and loaded.y.tolist() == [0, 1]


@pytest.mark.parametrize("line, message", [
    ("7:::Chef no text field", r"line 2: expected 'id:::labels:::text'.*found 2 field"),
    ("7:::Chef:::  ", "line 2: the text field is empty"),
])
def test_malformed_corpus_lines_name_file_and_line(tmp_path, line, message):
  path = tmp_path / "bad.txt"
  path.write_text(f"1:::Chef:::fine text\n{line}\n", encoding="utf-8")
  with pytest.raises(datasets.CorpusError, match=message) as err:
    datasets.load_resume_corpus(path)
  assert str(path) in str(err.value)


def test_empty_labels_field_is_an_unlabelled_resume_skipped_and_counted(tmp_path):
  path = tmp_path / "c.txt"
  path.write_text("1:::Chef:::fine text\n7::: :::text\n8:::;:::more\n", encoding="utf-8")
  data, report = datasets.read_resume_corpus(path)
  assert list(data.x) == ["fine text"] and report.unlabelled == 2 and report.resumes == 1


def test_format_resume_corpus_refuses_texts_the_line_format_cannot_carry():
  data = datasets.synthetic_resumes(2, seed=0, words=3)
  for text in ("two\nlines", "a ::: b"):
    bad = data.subset(np.arange(2))
    bad = bad.__class__(**{**bad.__dict__, "x": np.array([text, "ok"], object)})
    with pytest.raises(ValueError, match="text 0 holds a line break or ':::'"):
      datasets.format_resume_corpus(bad)


def test_signal_collisions_report_characters_without_a_feature_of_their_own():
  def featurize(texts):       # bucket 0: '~' or '^'; bucket 1: '^'; bucket 2: '%'
    return np.array([[sum(t.count(c) for c in "~^"), t.count("^"), t.count("%")]
                     for t in texts], np.float32)
  got = datasets.signal_collisions(featurize, ["~", "^", "%", "~"])
  assert got == {"~": ("^",), "^": (), "%": ()}    # '~' moves only what '^' moves too
  assert datasets.signal_collisions(datasets.hashed_ngrams, "\u00a7\u00b6~^") == {
      "\u00a7": (), "\u00b6": (), "~": (), "^": ()}
  tiny = datasets.signal_collisions(lambda t: datasets.hashed_ngrams(t, orders=(1,), dim=2),
                                    "abcd")
  assert any(tiny.values())                         # 4 unigrams in 2 buckets must share
  texts = np.array(["one two three"], object)       # own texts: one insertion, at the start
  assert datasets.signal_collisions(featurize, "~^", texts=texts) == {"~": ("^",), "^": ()}


def test_unknown_label_in_corpus(tmp_path):
  path = tmp_path / "c.txt"
  path.write_text("1:::Chef:::text\n", encoding="utf-8")
  with pytest.raises(datasets.CorpusError, match="line 1: label 'Chef' is not one of"):
    datasets.load_resume_corpus(path, label_names=["Waiter"])


def test_climate_adaptation_scenario():
  scen = datasets.climate_adaptation()
  assert scen.p0.shape == (360, 3) and abs(scen.p0.sum() - 1) < 1e-12
  assert len(scen.masses) == 4 and abs(scen.masses.sum() - .4) < 1e-12
  assert len(set(scen.masses.tolist())) == 4 and len(set(scen.targets.tolist())) == 3
  practice = np.arange(360) % 5
  for c in range(4):                      # collective c declares practice c + 1
    assert np.all(practice[scen.signal_maps[c]] == c + 1)
    assert np.all(scen.signal_maps[c] // 5 == np.arange(360) // 5)
  params = mixtures.scenario_parameters(scen.p0, scen.signal_maps, scen.targets, scen.masses)
  np.testing.assert_allclose(params.xi_c, .01, rtol=1e-9)   # each practice is rare
  np.testing.assert_allclose(params.xi, 0, atol=1e-12)       # distinct signals
