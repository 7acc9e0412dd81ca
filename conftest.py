"""Collection set-up for the whole checkout (tests/ and the doctests of acajax/)."""

# Old import paths of moved modules: importing one warns (DeprecationWarning),
# which the suite turns into an error; their modules are collected under the
# new paths, and tests/test_layout.py checks the old ones.
collect_ignore = ["acajax/demo.py", "acajax/plots.py", "acajax/rec_experiment.py",
                  "acajax/sweep_spec.py", "acajax/validate.py"]
