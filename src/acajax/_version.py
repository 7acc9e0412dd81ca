"""The installed version of acajax, read from the package metadata (pyproject.toml)."""

import platform
from importlib import metadata

try:
  __version__ = metadata.version("acajax")
except metadata.PackageNotFoundError:  # a source tree on sys.path without an install
  __version__ = "0+unknown"


def versions(*extra: str) -> dict[str, str]:
  """The versions of acajax, Python, JAX, jaxlib and NumPy, and of ``extra`` packages.

  Packages that are not installed are left out. Every run records these in
  its ``meta.json``.

  Examples:
    >>> sorted(versions("pandas"))
    ['acajax', 'jax', 'jaxlib', 'numpy', 'pandas', 'python']
  """
  found = {"acajax": __version__, "python": platform.python_version()}
  for name in ("jax", "jaxlib", "numpy", *extra):
    try:
      found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  return found
