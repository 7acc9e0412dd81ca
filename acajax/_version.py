"""The installed version of acajax, read from the package metadata (pyproject.toml)."""

from importlib import metadata

try:
  __version__ = metadata.version("acajax")
except metadata.PackageNotFoundError:  # a source tree on sys.path without an install
  __version__ = "0+unknown"
