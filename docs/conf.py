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

html_theme = "pydata_sphinx_theme"
html_title = f"tensorly_das {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    # a version switcher needs a hosted switcher.json: the layout is ready for it
    # (add "version-switcher" to navbar_end and a "switcher" entry once the docs are hosted)
    "navbar_end": ["theme-switcher"],
}
html_sidebars = {"index": [], "results": ["sidebar-nav-bs"]}
nitpicky = False

# numpydoc validation of every public name that the API pages document
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}


def _inherited_members():
    """Names to leave to their owners: members inherited from torch or scikit-learn, and
    overrides that inherit their docstring from a tensorly_das base (validated there)."""
    import importlib
    import inspect
    import re

    names = set()
    for module_name in ("tensorly_das", "tensorly_das.torch", "tensorly_das.models", "tensorly_das.updates"):
        module = importlib.import_module(module_name)
        for class_name, cls in vars(module).items():
            if not inspect.isclass(cls) or not cls.__module__.startswith("tensorly_das"):
                continue
            for attr in dir(cls):
                owner = next((k for k in cls.__mro__ if attr in vars(k)), None)
                if attr.startswith("_") or owner is None:
                    continue
                foreign = not owner.__module__.startswith("tensorly_das")
                inherited_doc = getattr(vars(owner)[attr], "__doc__", None) is None
                if foreign or inherited_doc:
                    names.add(re.escape(f"{module_name}.{class_name}.{attr}") + "$")
    return names


numpydoc_validation_exclude = _inherited_members() | {
    r"\.__init__$",
    r"\.__getstate__$",
    r"\.__setstate__$",
    # scikit-learn's own methods, documented by scikit-learn
    r"\.(get_params|set_params|set_output|get_metadata_routing)$",
    r"\.set_\w+_request$",
    # torch.optim.Optimizer and nn.Module methods, documented by PyTorch
    r"tensorly_das\.torch\.\w+\.(add_param_group|register_\w+|load_state_dict|state_dict|zero_grad|"
    r"profile_hook_step|extra_repr|forward|cores)$",
}
