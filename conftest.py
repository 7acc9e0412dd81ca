"""Collection set-up for the whole checkout (tests/ and the doctests of src/acajax/)."""

# Old import paths of moved modules: importing one warns (DeprecationWarning),
# which the suite turns into an error; their modules are collected under the
# new paths, and tests/test_layout.py checks the old ones.
collect_ignore = ["src/acajax/demo.py", "src/acajax/plots.py", "src/acajax/rec_experiment.py",
                  "src/acajax/sweep_spec.py", "src/acajax/validate.py"]
