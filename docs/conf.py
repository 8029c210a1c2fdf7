"""Sphinx configuration for tensorly_das (build: sphinx-build -W -b html docs docs/_build/html)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import tensorly_das  # noqa: E402

project = "tensorly_das"
author = "tensorly_das developers"
copyright = "2026, tensorly_das developers"
release = version = tensorly_das.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's metadata-routing helpers carry cross-references into sklearn's own docs
    "exclude-members": "set_score_request, set_fit_request, set_predict_request, "
    "set_transform_request, get_metadata_routing",
}
exclude_patterns = ["_build", "results/*.txt"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py",  # execute every example during the build
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
}

html_theme = "alabaster"
html_theme_options = {
    "description": "Sparse tensor completion with SAM and DAS",
    "fixed_sidebar": True,
    "page_width": "1400px",  # the results tables are wide
    "sidebar_width": "220px",
    "body_max_width": "none",
}
html_static_path = []
nitpicky = False
